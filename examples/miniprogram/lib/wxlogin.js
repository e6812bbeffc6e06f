'use strict';
/*
 * wxlogin mini program client: login, token storage, one shared refresh, re-login,
 * phone number binding, account deletion, against a wxlogin server (see DESIGN.md,
 * "HTTP API").
 *
 * Dependency-free CommonJS. It uses only the `wx` global (wx.login, wx.request,
 * wx.getStorageSync / setStorageSync / removeStorageSync), so a mini program can
 * `require` a copy of this file; it never uses Node APIs, fetch, URL, async/await or
 * classes, so it runs on old base libraries without the "enhanced compile" option.
 * uni.js and taro.js hand it the same few calls built from uni.* and Taro.*.
 *
 * Tokens are kept in storage and sent in Authorization headers to the origins allowed to
 * receive them, and nowhere else: nothing in this file logs, and error messages never
 * contain a token.
 */

var DEFAULT_STORAGE_KEY = 'wxlogin.session';
var DEFAULT_REFRESH_LEEWAY_SECONDS = 60;
// Sessions whose logout found no server (offline) wait here, beside the session, to be
// revoked at the next start. A few are enough: each is one phone's own logouts.
var PENDING_LOGOUT_SUFFIX = '.pending-logout';
var MAX_PENDING_LOGOUTS = 5;

// wx.request accepts only these; PATCH in particular fails with a parameter error.
var WX_REQUEST_METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'];

function makeError(code, message, status, extra) {
  var error = new Error(message);
  error.name = 'WxLoginError';
  error.code = code;
  error.status = status === undefined ? 0 : status;
  if (extra) {
    for (var key in extra) {
      if (Object.prototype.hasOwnProperty.call(extra, key)) error[key] = extra[key];
    }
  }
  return error;
}

function isWxLoginError(error) {
  return !!error && error.name === 'WxLoginError' && typeof error.code === 'string';
}

// What a wx API failure says about itself: wx errors carry errMsg, JS errors message.
function describeFailure(failure) {
  if (failure && typeof failure.errMsg === 'string') return failure.errMsg;
  if (failure && typeof failure.message === 'string') return failure.message;
  return String(failure);
}

// The promise of the README: whatever goes wrong (a wx API that throws, a bug), callers
// get a WxLoginError to switch on, never a bare TypeError.
function asWxLoginError(error) {
  if (isWxLoginError(error)) return error;
  return makeError('client_error', 'Unexpected failure in the wx API or the client (' + describeFailure(error) + ')', 0, {
    cause: error,
  });
}

function isSuccess(response) {
  return response.statusCode >= 200 && response.statusCode < 300;
}

// Failures that pass with time, worth trying again later; anything else is an answer.
function isTransient(response) {
  return response.statusCode >= 500 || response.statusCode === 429 || response.statusCode === 408;
}

function isPlainObject(value) {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

function isNonEmptyString(value) {
  return typeof value === 'string' && value.length > 0;
}

function parseBody(data) {
  if (typeof data !== 'string') return data;
  if (data === '') return null;
  try {
    return JSON.parse(data);
  } catch (notJson) {
    return data;
  }
}

// wx.request hands headers over with the server's spelling (HTTP/2 answers are all lower
// case, HTTP/1.1 ones often not).
function headerValue(headers, name) {
  if (!headers || typeof headers !== 'object') return undefined;
  var wanted = name.toLowerCase();
  for (var key in headers) {
    if (Object.prototype.hasOwnProperty.call(headers, key) && key.toLowerCase() === wanted) return headers[key];
  }
  return undefined;
}

// Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110, 10.2.3); undefined
// when absent or unreadable.
function retryAfterSeconds(headers) {
  var value = headerValue(headers, 'Retry-After');
  if (Array.isArray(value)) value = value[0];
  if (typeof value === 'number' && isFinite(value) && value >= 0) return Math.ceil(value);
  if (typeof value !== 'string') return undefined;
  var text = value.trim();
  if (/^\d+$/.test(text)) return parseInt(text, 10);
  var date = Date.parse(text);
  if (isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

// Turns a non-2xx answer into an Error carrying the server's error code.
function errorFromResponse(response) {
  var body = parseBody(response.data);
  var status = response.statusCode;
  var serverError = isPlainObject(body) && isPlainObject(body.error) ? body.error : null;
  var code = serverError && serverError.code ? String(serverError.code) : status === 401 ? 'unauthorized' : 'http_error';
  var message = serverError && serverError.message ? String(serverError.message) : 'The server answered HTTP ' + status;
  var extra = { data: body };
  if (serverError && serverError.wechat_errcode !== undefined && serverError.wechat_errcode !== null) {
    extra.wechatErrcode = serverError.wechat_errcode;
  }
  var retryAfter = retryAfterSeconds(response.header);
  if (retryAfter !== undefined) extra.retryAfter = retryAfter;
  return makeError(code, message, status, extra);
}

// A 2xx whose body is not what the contract promises: a captive portal's or a WAF's page,
// typically. The body is left out: it may hold half of a token answer.
function invalidResponse(response, what) {
  return makeError(
    'invalid_response',
    'The server answered HTTP ' + response.statusCode + ' without ' + what + ' (a proxy, firewall or captive portal page?)',
    response.statusCode
  );
}

// The tokens of a 2xx answer of /v1/login (with its user) or /v1/token/refresh, checked
// before anything is stored: storing a page without tokens would lose the refresh token.
function tokenAnswer(response, userRequired) {
  var body = parseBody(response.data);
  var valid =
    isPlainObject(body) &&
    isNonEmptyString(body.access_token) &&
    isNonEmptyString(body.refresh_token) &&
    typeof body.expires_in === 'number' &&
    isFinite(body.expires_in) &&
    body.expires_in > 0 &&
    (body.token_type === undefined || (typeof body.token_type === 'string' && /^bearer$/i.test(body.token_type))) &&
    (isPlainObject(body.user) || (!userRequired && (body.user === undefined || body.user === null)));
  if (!valid) throw invalidResponse(response, 'the tokens of a login');
  return body;
}

// The user of a 2xx answer of /v1/me.
function userAnswer(response) {
  var body = parseBody(response.data);
  if (!isPlainObject(body) || body.id === undefined || body.id === null) throw invalidResponse(response, 'a user');
  return body;
}

function shallowCopy(object) {
  var copy = {};
  if (object) {
    for (var key in object) {
      if (Object.prototype.hasOwnProperty.call(object, key)) copy[key] = object[key];
    }
  }
  return copy;
}

// Runs `cleanup` when `promise` settles and passes the outcome on (Promise#finally is
// missing from some base libraries).
function whenSettled(promise, cleanup) {
  return promise.then(
    function (value) {
      cleanup();
      return value;
    },
    function (error) {
      cleanup();
      throw error;
    }
  );
}

var DEFAULT_PORTS = { http: '80', https: '443' };

// "scheme://host:port" in lower case without a default port, or null for anything but a
// plain http(s) URL. Written out because mini programs have no URL class. Authorities
// with user info, backslashes, spaces or other characters that parsers disagree about
// give null, so such a URL never passes for an allowed origin.
function originOf(url) {
  if (typeof url !== 'string') return null;
  var match = /^(https?):\/\/([^\/?#]*)/i.exec(url);
  if (!match) return null;
  var scheme = match[1].toLowerCase();
  var authority = match[2].toLowerCase();
  var hostAndPort = /^([a-z0-9.\-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/.exec(authority);
  if (!hostAndPort) return null;
  var port = hostAndPort[2] === undefined || hostAndPort[2] === '' ? DEFAULT_PORTS[scheme] : String(parseInt(hostAndPort[2], 10));
  return scheme + '://' + hostAndPort[1] + (port === DEFAULT_PORTS[scheme] ? '' : ':' + port);
}

/**
 * Creates a client bound to one wxlogin server.
 *
 * options.baseUrl              required, e.g. "https://login.example.com"
 * options.appid                sent with /v1/login when the server serves several apps
 * options.storageKey           storage key for the session, default "wxlogin.session"
 * options.refreshLeewaySeconds refresh this long before the access token expires (default 60,
 *                              capped at half the token's lifetime)
 * options.timeout              wx.request / wx.login timeout in ms
 * options.autoLogin            request() logs in when there is no session (default true)
 * options.tokenOrigins         further origins request() sends the access token to (the
 *                              baseUrl's origin always gets it, every other origin never)
 * options.wx                   the wx API object; defaults to the `wx` global
 */
function createClient(options) {
  options = options || {};
  if (!options.baseUrl || typeof options.baseUrl !== 'string') {
    throw new TypeError('wxlogin.createClient: options.baseUrl is required');
  }
  var baseUrl = options.baseUrl.replace(/\/+$/, '');
  var baseOrigin = originOf(baseUrl);
  if (!baseOrigin) throw new TypeError('wxlogin.createClient: options.baseUrl must be an http(s) URL, e.g. https://login.example.com');
  var tokenOrigins = [baseOrigin];
  if (options.tokenOrigins !== undefined) {
    if (!Array.isArray(options.tokenOrigins)) throw new TypeError('wxlogin.createClient: options.tokenOrigins must be an array of origins');
    for (var i = 0; i < options.tokenOrigins.length; i += 1) {
      var origin = originOf(options.tokenOrigins[i]);
      if (!origin) throw new TypeError('wxlogin.createClient: options.tokenOrigins[' + i + '] is not an http(s) origin');
      tokenOrigins.push(origin);
    }
  }
  var appid = options.appid || null;
  var storageKey = options.storageKey || DEFAULT_STORAGE_KEY;
  var pendingLogoutKey = storageKey + PENDING_LOGOUT_SUFFIX;
  var leewayMs =
    (typeof options.refreshLeewaySeconds === 'number' ? options.refreshLeewaySeconds : DEFAULT_REFRESH_LEEWAY_SECONDS) * 1000;
  var timeout = options.timeout;
  var autoLogin = options.autoLogin !== false;

  var pendingLogin = null;
  var pendingRefresh = null;
  var pendingLogoutRetry = null;
  // Bumped by logout() so that a login or refresh still in flight does not store its
  // tokens after the user logged out.
  var generation = 0;
  // Every POST /v1/login and /v1/token/refresh still waiting for its answer, as a promise
  // of {sentRefreshToken, tokens} (the checked answer, or null) that never rejects.
  // logout() waits for them: to revoke the session they create, and because sending a
  // refresh token that is already on its way would be taken for token theft and revoke
  // the whole family.
  var tokenRequestsInFlight = [];

  function wxApi() {
    if (options.wx) return options.wx;
    if (typeof wx !== 'undefined') return wx; // eslint-disable-line no-undef
    throw makeError('no_wx', 'The wx API is not available: run inside a mini program or pass options.wx');
  }

  // ---- storage ---------------------------------------------------------------------

  function readSession() {
    var stored;
    try {
      stored = wxApi().getStorageSync(storageKey);
    } catch (unreadable) {
      return null;
    }
    if (!isPlainObject(stored) || !isNonEmptyString(stored.access_token)) return null;
    return stored;
  }

  // setStorageSync throws when the storage quota (10 MB) is used up.
  function writeStorage(key, value) {
    var api = wxApi();
    try {
      api.setStorageSync(key, value);
    } catch (failure) {
      throw makeError('storage_failed', 'The session could not be saved (' + describeFailure(failure) + ')');
    }
  }

  function removeStorage(key) {
    try {
      wxApi().removeStorageSync(key);
    } catch (ignored) {
      // Nothing stored, or storage unavailable: either way nothing usable remains.
    }
  }

  function storeSession(answer, previousUser) {
    var issuedAt = Date.now();
    var session = {
      access_token: answer.access_token,
      token_type: answer.token_type || 'Bearer',
      refresh_token: answer.refresh_token,
      issued_at: issuedAt,
      expires_at: issuedAt + answer.expires_in * 1000,
      user: answer.user || previousUser || null,
    };
    writeStorage(storageKey, session);
    return session;
  }

  // Stores a new token pair. A pair that cannot be stored is revoked at once: nobody could
  // use it, yet it would stay valid on the server.
  function keepSession(answer, previousUser) {
    try {
      return storeSession(answer, previousUser);
    } catch (failure) {
      send({ url: '/v1/logout', method: 'POST' }, answer.access_token).then(null, function () {});
      throw failure;
    }
  }

  // Only a copy of what the server holds: a full storage leaves it stale, not the call failed.
  function storeUser(user) {
    var session = readSession();
    if (!session || !isPlainObject(user)) return;
    var updated = shallowCopy(session);
    updated.user = user;
    try {
      writeStorage(storageKey, updated);
    } catch (ignored) {
      // currentUser() shows the user as before; the next me() tries again.
    }
  }

  function clearSession() {
    removeStorage(storageKey);
  }

  function needsRefresh(session) {
    var lifetime = session.expires_at - session.issued_at;
    var leeway = Math.min(leewayMs, lifetime / 2);
    return !(Date.now() < session.expires_at - leeway);
  }

  function readPendingLogouts() {
    var stored;
    try {
      stored = wxApi().getStorageSync(pendingLogoutKey);
    } catch (unreadable) {
      return [];
    }
    if (!Array.isArray(stored)) return [];
    return stored.filter(function (entry) {
      return isPlainObject(entry) && isNonEmptyString(entry.access_token);
    });
  }

  function writePendingLogouts(entries) {
    if (!entries.length) {
      removeStorage(pendingLogoutKey);
      return;
    }
    try {
      writeStorage(pendingLogoutKey, entries.slice(-MAX_PENDING_LOGOUTS));
    } catch (ignored) {
      // Storage full: the session then simply lives until its refresh token expires.
    }
  }

  function rememberPendingLogouts(pairs) {
    if (pairs.length) writePendingLogouts(readPendingLogouts().concat(pairs));
  }

  // ---- transport -------------------------------------------------------------------

  function resolveUrl(url) {
    if (/^https?:\/\//i.test(url)) return url;
    return baseUrl + (url.charAt(0) === '/' ? url : '/' + url);
  }

  function mayCarryToken(url) {
    var origin = originOf(resolveUrl(url));
    return origin !== null && tokenOrigins.indexOf(origin) >= 0;
  }

  // Resolves with the wx.request answer whatever its status; rejects only when no
  // answer arrived (network_error) or the request was invalid.
  function send(request, accessToken) {
    return new Promise(function (resolve, reject) {
      var method = (request.method || 'GET').toUpperCase();
      if (WX_REQUEST_METHODS.indexOf(method) < 0) {
        reject(makeError('invalid_request', 'wx.request does not support the method ' + method));
        return;
      }
      var header = shallowCopy(request.header);
      if (request.data !== undefined && !header['content-type'] && !header['Content-Type']) {
        header['content-type'] = 'application/json';
      }
      // Checked here too, so that no path through this file hands a token to another host.
      if (accessToken && mayCarryToken(request.url)) header.Authorization = 'Bearer ' + accessToken;
      var call = {
        url: resolveUrl(request.url),
        method: method,
        header: header,
        dataType: request.dataType || 'json',
        success: function (response) {
          if (response && typeof response.statusCode === 'number') resolve(response);
          else reject(makeError('network_error', 'wx.request succeeded without an HTTP status'));
        },
        fail: function (failure) {
          var detail = failure && failure.errMsg ? failure.errMsg : 'request:fail';
          reject(makeError('network_error', 'The request did not reach the server (' + detail + ')'));
        },
      };
      if (request.data !== undefined) call.data = request.data;
      if (request.responseType) call.responseType = request.responseType;
      var requestTimeout = request.timeout !== undefined ? request.timeout : timeout;
      if (requestTimeout !== undefined) call.timeout = requestTimeout;
      var api = wxApi();
      try {
        api.request(call);
      } catch (thrown) {
        reject(makeError('network_error', 'wx.request refused the request (' + describeFailure(thrown) + ')'));
      }
    });
  }

  function wxLoginCode() {
    return new Promise(function (resolve, reject) {
      var call = {
        success: function (answer) {
          if (answer && answer.code) resolve(answer.code);
          else reject(makeError('wx_login_failed', 'wx.login returned no code (' + ((answer && answer.errMsg) || 'no errMsg') + ')'));
        },
        fail: function (failure) {
          reject(makeError('wx_login_failed', 'wx.login failed (' + ((failure && failure.errMsg) || 'no errMsg') + ')'));
        },
      };
      if (timeout !== undefined) call.timeout = timeout;
      var api = wxApi();
      try {
        api.login(call);
      } catch (thrown) {
        reject(makeError('wx_login_failed', 'wx.login failed (' + describeFailure(thrown) + ')'));
      }
    });
  }

  // ---- login and refresh (each single-flight) --------------------------------------

  function loggedOut(what) {
    return makeError('logged_out', 'Logged out while the ' + what + ' was in progress');
  }

  // Registers a login or refresh answer for logout() (see tokenRequestsInFlight).
  function trackTokenRequest(answer, sentRefreshToken) {
    var outcome = answer.then(
      function (tokens) {
        return { sentRefreshToken: sentRefreshToken, tokens: tokens };
      },
      function () {
        return { sentRefreshToken: sentRefreshToken, tokens: null };
      }
    );
    tokenRequestsInFlight.push(outcome);
    outcome.then(function () {
      var index = tokenRequestsInFlight.indexOf(outcome);
      if (index >= 0) tokenRequestsInFlight.splice(index, 1);
    });
    return answer;
  }

  // POSTs to /v1/login or /v1/token/refresh and resolves with the checked tokens; rejects
  // with the server's error, network_error or invalid_response.
  function requestTokens(url, body) {
    return trackTokenRequest(
      send({ url: url, method: 'POST', data: body }).then(function (response) {
        if (!isSuccess(response)) throw errorFromResponse(response);
        return tokenAnswer(response, url === '/v1/login');
      }),
      body.refresh_token || null
    );
  }

  function login() {
    if (pendingLogin) return pendingLogin;
    var startedIn = generation;
    var attempt = wxLoginCode()
      .then(function (code) {
        if (startedIn !== generation) throw loggedOut('login');
        var body = { code: code };
        if (appid) body.appid = appid;
        return requestTokens('/v1/login', body);
      })
      .then(function (tokens) {
        if (startedIn !== generation) throw loggedOut('login');
        return keepSession(tokens).user;
      });
    var shared = whenSettled(attempt, function () {
      if (pendingLogin === shared) pendingLogin = null;
    });
    pendingLogin = shared;
    return shared;
  }

  function notLoggedIn() {
    return makeError('not_logged_in', 'Not logged in: call login() first', 401);
  }

  function loginAndReadSession() {
    return login().then(function () {
      var session = readSession();
      if (!session) throw notLoggedIn();
      return session;
    });
  }

  function refreshOnce() {
    var session = readSession();
    if (!session || !session.refresh_token) {
      if (!autoLogin) return Promise.reject(notLoggedIn());
      return loginAndReadSession();
    }
    var startedIn = generation;
    return requestTokens('/v1/token/refresh', { refresh_token: session.refresh_token }).then(
      function (tokens) {
        if (startedIn !== generation) throw loggedOut('refresh');
        return keepSession(tokens, session.user);
      },
      function (error) {
        // No answer, a malformed one, or a failure that passes: the old session stays.
        if (error.status !== 401 && error.status !== 403) throw error;
        // logout() revoked this session meanwhile: logging in again would undo it.
        if (startedIn !== generation) throw loggedOut('refresh');
        // Refused: the refresh token is spent, revoked or expired. Only a new login helps.
        var current = readSession();
        if (current && current.refresh_token === session.refresh_token) clearSession();
        if (!autoLogin) throw error;
        return loginAndReadSession();
      }
    );
  }

  // One refresh at a time: every caller that finds the token stale shares it.
  function refresh() {
    if (pendingRefresh) return pendingRefresh;
    var shared = whenSettled(refreshOnce(), function () {
      if (pendingRefresh === shared) pendingRefresh = null;
    });
    pendingRefresh = shared;
    return shared;
  }

  // A usable (not stale) session, logging in or refreshing when needed.
  function ensureSession() {
    var session = readSession();
    if (!session) {
      if (pendingRefresh) return pendingRefresh;
      if (!autoLogin && !pendingLogin) return Promise.reject(notLoggedIn());
      return loginAndReadSession();
    }
    if (needsRefresh(session)) return refresh();
    return Promise.resolve(session);
  }

  // Sends with the access token; on 401 renews (sharing one refresh with every other
  // caller) and replays exactly once.
  function sendAuthorised(request) {
    return ensureSession().then(function (session) {
      return send(request, session.access_token).then(function (response) {
        if (response.statusCode !== 401) return response;
        var current = readSession();
        var renewed;
        if (current && current.access_token !== session.access_token && !needsRefresh(current)) {
          // Another caller already renewed while this request was on the way.
          renewed = Promise.resolve(current);
        } else if (current) {
          renewed = refresh();
        } else {
          renewed = ensureSession();
        }
        return renewed.then(function (fresh) {
          return send(request, fresh.access_token);
        });
      });
    });
  }

  function normaliseRequest(requestOptions) {
    if (typeof requestOptions === 'string') requestOptions = { url: requestOptions };
    if (!requestOptions || typeof requestOptions.url !== 'string') {
      throw makeError('invalid_request', 'request() needs options.url');
    }
    return {
      url: requestOptions.url,
      method: requestOptions.method,
      data: requestOptions.data,
      header: requestOptions.header,
      timeout: requestOptions.timeout,
      dataType: requestOptions.dataType,
      responseType: requestOptions.responseType,
    };
  }

  // ---- logout ----------------------------------------------------------------------

  function tokenPair(tokens) {
    return { access_token: tokens.access_token, refresh_token: tokens.refresh_token || null };
  }

  // Ends one session on the server: POST /v1/logout, renewing an expired access token
  // once to do it. Resolves with {revoked, retry}; `retry` is the pair to try again at the
  // next start when no decisive answer came (offline, 5xx, 429), null otherwise.
  function revokeSession(pair) {
    var decided = { revoked: false, retry: null };
    function later(tokens) {
      return { revoked: false, retry: tokens };
    }
    function undecided(response, tokens) {
      return isTransient(response) ? later(tokens) : decided;
    }
    return send({ url: '/v1/logout', method: 'POST' }, pair.access_token).then(
      function (response) {
        if (isSuccess(response)) return { revoked: true, retry: null };
        if (response.statusCode !== 401 || !pair.refresh_token) return undecided(response, pair);
        // The access token had expired: renew it once to revoke the session on the server.
        return send({ url: '/v1/token/refresh', method: 'POST', data: { refresh_token: pair.refresh_token } }).then(
          function (refreshed) {
            if (!isSuccess(refreshed)) return undecided(refreshed, pair);
            var renewed;
            try {
              renewed = tokenPair(tokenAnswer(refreshed, false));
            } catch (malformed) {
              // Spent or not, the old pair revokes the session later: a spent refresh
              // token that comes back revokes its whole family.
              return later(pair);
            }
            return send({ url: '/v1/logout', method: 'POST' }, renewed.access_token).then(
              function (again) {
                return isSuccess(again) ? { revoked: true, retry: null } : undecided(again, renewed);
              },
              function () {
                return later(renewed);
              }
            );
          },
          function () {
            return later(pair);
          }
        );
      },
      function () {
        return later(pair);
      }
    );
  }

  function logout() {
    var session = readSession();
    var inFlight = tokenRequestsInFlight.slice();
    // Whatever is still in flight belongs to the old session: it must not store tokens,
    // and a login() after this logout must start afresh instead of joining it.
    generation += 1;
    pendingLogin = null;
    pendingRefresh = null;
    clearSession();
    // A login or refresh on its way is waited for: its answer is the session to revoke,
    // and the session's refresh token is not sent again while it is still on the way.
    return Promise.all(inFlight)
      .then(function (outcomes) {
        var pairs = [];
        var sessionRenewed = false;
        outcomes.forEach(function (outcome) {
          if (!outcome.tokens) return;
          pairs.push(tokenPair(outcome.tokens));
          if (session && outcome.sentRefreshToken === session.refresh_token) sessionRenewed = true;
        });
        if (session && !sessionRenewed) pairs.unshift(tokenPair(session));
        if (!pairs.length) return { serverRevoked: false };
        return Promise.all(pairs.map(revokeSession)).then(function (results) {
          var retry = [];
          var revoked = true;
          results.forEach(function (result) {
            if (!result.revoked) revoked = false;
            if (result.retry) retry.push(result.retry);
          });
          rememberPendingLogouts(retry);
          return { serverRevoked: revoked };
        });
      })
      .then(null, function () {
        return { serverRevoked: false };
      });
  }

  // Sends the logouts that found no server before. They leave storage before anything
  // is sent, so that two clients on one storage never send one refresh token twice; those
  // that fail again go back for the next start.
  function retryLogout() {
    if (pendingLogoutRetry) return pendingLogoutRetry;
    var entries = readPendingLogouts();
    if (!entries.length) return Promise.resolve({ revoked: 0, remaining: 0 });
    writePendingLogouts([]);
    var attempt = Promise.all(entries.map(revokeSession)).then(function (results) {
      var retry = [];
      var revoked = 0;
      results.forEach(function (result) {
        if (result.revoked) revoked += 1;
        if (result.retry) retry.push(result.retry);
      });
      rememberPendingLogouts(retry);
      return { revoked: revoked, remaining: readPendingLogouts().length };
    });
    var shared = whenSettled(attempt, function () {
      if (pendingLogoutRetry === shared) pendingLogoutRetry = null;
    });
    pendingLogoutRetry = shared;
    return shared;
  }

  // ---- public API ------------------------------------------------------------------

  function request(requestOptions) {
    var normalised = normaliseRequest(requestOptions);
    // Another origin gets the request as it is: no token, no login, no refresh.
    var sending = mayCarryToken(normalised.url) ? sendAuthorised(normalised) : send(normalised, null);
    return sending.then(function (response) {
      if (!isSuccess(response)) throw errorFromResponse(response);
      return response;
    });
  }

  function me() {
    return request({ url: '/v1/me', method: 'GET' }).then(function (response) {
      var user = userAnswer(response);
      storeUser(user);
      return user;
    });
  }

  function updateProfile(profile) {
    profile = profile || {};
    var body = {};
    if (profile.nickname !== undefined) body.nickname = profile.nickname;
    if (profile.avatar_url !== undefined) body.avatar_url = profile.avatar_url;
    else if (profile.avatarUrl !== undefined) body.avatar_url = profile.avatarUrl;
    // wx.request cannot send PATCH, so the partial update goes out as PUT.
    return request({ url: '/v1/me', method: 'PUT', data: body }).then(function (response) {
      var user = userAnswer(response);
      storeUser(user);
      return user;
    });
  }

  function phoneRequestBody(detail) {
    if (detail.code) return { code: detail.code };
    if (detail.encryptedData && detail.iv) return { encrypted_data: detail.encryptedData, iv: detail.iv };
    return null;
  }

  function bindPhoneNumber(event) {
    var detail = (event && event.detail) || event || {};
    var errMsg = typeof detail.errMsg === 'string' ? detail.errMsg : '';
    if (/:fail/.test(errMsg)) {
      if (/deny|denied|cancel/i.test(errMsg)) {
        return Promise.reject(makeError('user_denied', 'The user declined to share a phone number'));
      }
      if (detail.errno === 1400001) {
        return Promise.reject(
          makeError('phone_quota_exhausted', 'The mini program has no phone-number verification quota left', 0, { errno: detail.errno })
        );
      }
      return Promise.reject(makeError('phone_unavailable', 'WeChat gave no phone number (' + errMsg + ')', 0, { errno: detail.errno }));
    }
    var body = phoneRequestBody(detail);
    if (!body) {
      return Promise.reject(makeError('invalid_request', 'The getPhoneNumber event carries neither code nor encryptedData and iv'));
    }
    return request({ url: '/v1/me/phone', method: 'POST', data: body }).then(
      function (response) {
        var phone = parseBody(response.data);
        if (!isPlainObject(phone) || !isNonEmptyString(phone.phone_number)) throw invalidResponse(response, 'a phone number');
        var session = readSession();
        if (session && session.user) {
          var user = shallowCopy(session.user);
          user.phone_number = phone.phone_number;
          storeUser(user);
        }
        return phone;
      },
      function (error) {
        if (error.code !== 'decrypt_failed') throw error;
        // The data was encrypted with a session key that has since rotated. A fresh
        // wx.login lets the server hold the key WeChat uses now; the user must tap
        // again so that WeChat encrypts the number with it.
        var askAgain = makeError(
          'decrypt_failed',
          'The phone number could not be read because the WeChat session changed. Ask the user to tap the button again.',
          error.status,
          { tapAgain: true, data: error.data }
        );
        return login().then(
          function () {
            throw askAgain;
          },
          function (loginError) {
            askAgain.loginError = asWxLoginError(loginError);
            throw askAgain;
          }
        );
      }
    );
  }

  // Closes the account (DELETE /v1/me): the server removes the user with every session
  // and token, so there is nothing left to log out. Never logs in first: with no session
  // stored, a login would create an account only to delete it.
  function deleteAccount() {
    if (!readSession() && !pendingLogin && !pendingRefresh) return Promise.reject(notLoggedIn());
    return request({ url: '/v1/me', method: 'DELETE' }).then(function () {
      // A login or refresh still in flight belongs to the closed account: it must not
      // store tokens afterwards.
      generation += 1;
      pendingLogin = null;
      pendingRefresh = null;
      clearSession();
    });
  }

  function accessToken() {
    return ensureSession().then(function (session) {
      return session.access_token;
    });
  }

  function currentUser() {
    var session = readSession();
    return session ? session.user : null;
  }

  function isLoggedIn() {
    return readSession() !== null;
  }

  // Whatever fails inside (a wx API that throws, storage that is full), callers of the
  // public API get a rejected promise with a WxLoginError, never a throw.
  function guarded(method) {
    return function () {
      try {
        return method.apply(null, arguments).then(null, function (error) {
          throw asWxLoginError(error);
        });
      } catch (thrown) {
        return Promise.reject(asWxLoginError(thrown));
      }
    };
  }

  // The next start after an offline logout: revoke those sessions now, in the background.
  Promise.resolve()
    .then(retryLogout)
    .then(null, function () {});

  return {
    login: guarded(login),
    request: guarded(request),
    logout: guarded(logout),
    me: guarded(me),
    updateProfile: guarded(updateProfile),
    bindPhoneNumber: guarded(bindPhoneNumber),
    deleteAccount: guarded(deleteAccount),
    accessToken: guarded(accessToken),
    retryLogout: guarded(retryLogout),
    currentUser: currentUser,
    isLoggedIn: isLoggedIn,
  };
}

module.exports = {
  createClient: createClient,
};
