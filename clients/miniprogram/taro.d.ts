// Type declarations for taro.js: the wxlogin client on Taro's promise-based API (weapp builds).

import type { ClientOptions, WxLoginClient } from './wxlogin';

export type {
  ClientOptions,
  GetPhoneNumberEvent,
  PhoneNumber,
  ProfileUpdate,
  RequestOptions,
  RequestResponse,
  WxLoginClient,
  WxLoginError,
  WxLoginUser,
} from './wxlogin';

/** The parts of Taro's API (the default export of `@tarojs/taro`) the client uses. */
export interface TaroApi {
  login(options?: { timeout?: number }): Promise<{ code: string; errMsg?: string }>;
  request(options: {
    url: string;
    method?: any;
    data?: any;
    header?: Record<string, any>;
    timeout?: number;
    dataType?: any;
    responseType?: any;
  }): Promise<{ statusCode: number; data: any; header: Record<string, any> }>;
  getStorageSync(key: string): any;
  setStorageSync(key: string, value: any): void;
  removeStorageSync(key: string): void;
}

export interface TaroClientOptions extends Omit<ClientOptions, 'wx'> {
  /** Taro itself: `import Taro from '@tarojs/taro'`. Required (Taro has no global). */
  taro: TaroApi;
}

/** Throws a TypeError when options.taro is not Taro's API. */
export function createClient(options: TaroClientOptions): WxLoginClient;
