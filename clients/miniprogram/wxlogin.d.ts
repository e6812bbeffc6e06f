// Type declarations for wxlogin.js, the mini program client of a wxlogin server.

/** A user as the server answers it (null where unknown). */
export interface WxLoginUser {
  id: string | number;
  appid: string;
  openid: string;
  unionid: string | null;
  phone_number: string | null;
  nickname: string | null;
  avatar_url: string | null;
  created_at: string;
}

export interface PhoneNumber {
  /** With country code, e.g. "+86 13800000000" or "13800000000", as WeChat gives it. */
  phone_number: string;
  pure_phone_number: string;
  country_code: string;
}

/**
 * Every rejection of every method is an Error with these fields.
 *
 * `code` is the server's error code (`unauthorized`, `invalid_code`, `code_used`,
 * `decrypt_failed`, `rate_limited`, `upstream_unavailable`, ...) or one of the client's:
 * `network_error`, `user_denied`, `phone_quota_exhausted`, `phone_unavailable`,
 * `wx_login_failed`, `not_logged_in`, `logged_out`, `invalid_request`, `no_wx`,
 * `http_error` (a non-2xx answer without a wxlogin error body), `invalid_response` (a 2xx
 * answer that is not what the server sends, e.g. a captive portal's page; nothing was
 * stored), `storage_failed` (setStorageSync threw, e.g. storage full), `client_error`
 * (anything else that threw; the original is in `cause`).
 */
export interface WxLoginError extends Error {
  name: 'WxLoginError';
  code: string;
  /** HTTP status of the answer; 0 when there was none. */
  status: number;
  /** The parsed answer body, when there was one. */
  data?: unknown;
  /** WeChat's errcode when the server passes one on. */
  wechatErrcode?: number;
  /** Set on `decrypt_failed` from bindPhoneNumber: the client has logged in again; ask the user to tap again. */
  tapAgain?: boolean;
  /** On `decrypt_failed`, the error of the re-login if it failed too. */
  loginError?: WxLoginError;
  /** WeChat's errno from a failed getPhoneNumber event. */
  errno?: number;
  /** Seconds to wait before trying again, from the answer's Retry-After (429, 503). */
  retryAfter?: number;
  /** On `client_error`, what was thrown. */
  cause?: unknown;
}

export interface ClientOptions {
  /** The wxlogin server, e.g. "https://login.example.com". */
  baseUrl: string;
  /** Sent with POST /v1/login when the server serves several apps. */
  appid?: string;
  /** Storage key of the session (default "wxlogin.session"). */
  storageKey?: string;
  /** Refresh this long before the access token expires (default 60, at most half its lifetime). */
  refreshLeewaySeconds?: number;
  /** Timeout in milliseconds for wx.request and wx.login. */
  timeout?: number;
  /** request(), me() and the like log in when there is no session (default true). */
  autoLogin?: boolean;
  /**
   * Further origins ("https://api.example.com") that request() sends the access token to.
   * The baseUrl's origin always gets it; a request to any other origin goes out without
   * it (and without logging in or refreshing for it).
   */
  tokenOrigins?: string[];
  /** The wx API; defaults to the `wx` global. */
  wx?: WxApi;
}

export interface RequestOptions {
  /** A path on the wxlogin server ("/v1/me") or an absolute URL. */
  url: string;
  /** Only what wx.request supports: no PATCH. Default GET. */
  method?: 'OPTIONS' | 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE' | 'TRACE' | 'CONNECT';
  data?: string | object | ArrayBuffer;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: string;
  responseType?: 'text' | 'arraybuffer';
}

export interface RequestResponse<T = any> {
  statusCode: number;
  data: T;
  header: Record<string, string>;
}

/** The getphonenumber event of <button open-type="getPhoneNumber">, or its detail. */
export interface GetPhoneNumberEvent {
  detail?: {
    errMsg?: string;
    errno?: number;
    code?: string;
    encryptedData?: string;
    iv?: string;
  };
  [key: string]: unknown;
}

export interface ProfileUpdate {
  nickname?: string;
  avatar_url?: string;
  /** Alias of avatar_url. */
  avatarUrl?: string;
}

export interface WxLoginClient {
  /**
   * Always starts a new session: wx.login, then POST /v1/login, even when one is stored
   * (which it replaces). Concurrent calls share one login. Resolves with the user. To log
   * in only when needed, use me() or accessToken().
   */
  login(): Promise<WxLoginUser>;
  /**
   * wx.request with the access token (to the baseUrl's origin and `tokenOrigins` only).
   * Refreshes ahead of expiry and on 401 (one refresh shared by all callers, then a
   * replay); logs in when there is no session or the refresh is refused.
   * Resolves with 2xx answers, rejects with a WxLoginError otherwise.
   */
  request<T = any>(options: RequestOptions | string): Promise<RequestResponse<T>>;
  /**
   * POST /v1/logout, after waiting for a login or refresh in flight. Storage is cleared
   * at once; when the server cannot be reached the logout is kept and retried at the next
   * start (see retryLogout()).
   */
  logout(): Promise<{ serverRevoked: boolean }>;
  /**
   * Sends the logouts that found no server before. Runs by itself when the client is
   * created; call it again e.g. when the network comes back. `revoked`: sessions ended now;
   * `remaining`: sessions still to be revoked later.
   */
  retryLogout(): Promise<{ revoked: number; remaining: number }>;
  /** GET /v1/me; logs in only when there is no session. */
  me(): Promise<WxLoginUser>;
  /** The avatar-and-nickname fill-in flow: updates the user on the server (sent as PUT /v1/me). */
  updateProfile(profile: ProfileUpdate): Promise<WxLoginUser>;
  /**
   * For bindgetphonenumber: sends detail.code (or encryptedData and iv from older
   * clients) to POST /v1/me/phone. Rejects with `user_denied` when the user declined and
   * with `decrypt_failed` (tapAgain: true) after logging in again when the data was
   * encrypted with a rotated session key.
   */
  bindPhoneNumber(event: GetPhoneNumberEvent): Promise<PhoneNumber>;
  /**
   * Closes the account: DELETE /v1/me. The server removes the user with every session
   * and token; the stored session is cleared. The next login of the same WeChat user
   * creates a new user with a new id. Never logs in first: with no session stored it
   * rejects with `not_logged_in`. On any failure the account and the session stay.
   */
  deleteAccount(): Promise<void>;
  /** A fresh access token, e.g. for wx.uploadFile; logs in or refreshes only when needed. */
  accessToken(): Promise<string>;
  /** The user stored with the session, without a request; null when logged out. */
  currentUser(): WxLoginUser | null;
  /** Whether a session is stored (it may still need a refresh). */
  isLoggedIn(): boolean;
}

/** The parts of the mini program's wx API the client uses. */
export interface WxApi {
  login(options: {
    timeout?: number;
    success?: (result: { code: string; errMsg?: string }) => void;
    fail?: (error: { errMsg: string }) => void;
  }): void;
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

export function createClient(options: ClientOptions): WxLoginClient;
