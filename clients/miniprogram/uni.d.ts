// Type declarations for uni.js: the wxlogin client on uni-app's `uni` API (mp-weixin builds).

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

/** The parts of uni-app's `uni` API the client uses, in their callback form. */
export interface UniApi {
  login(options: {
    provider?: string;
    timeout?: number;
    success?: (result: { code: string; errMsg?: string }) => void;
    fail?: (error: { errMsg: string }) => void;
  }): unknown;
  request(options: {
    url: string;
    method?: string;
    data?: unknown;
    header?: Record<string, string>;
    timeout?: number;
    dataType?: string;
    responseType?: string;
    success?: (response: { statusCode: number; data: any; header: Record<string, string> }) => void;
    fail?: (error: { errMsg: string }) => void;
  }): unknown;
  getStorageSync(key: string): any;
  setStorageSync(key: string, value: any): void;
  removeStorageSync(key: string): void;
}

export interface UniClientOptions extends Omit<ClientOptions, 'wx'> {
  /** The uni API; defaults to the `uni` global. */
  uni?: UniApi;
}

/** Throws a TypeError when there is no uni API (no `uni` global and no options.uni). */
export function createClient(options: UniClientOptions): WxLoginClient;
