'use strict';
// What every fake runtime (fake-wx, fake-uni, fake-taro) shares: one simulated phone.
// - logins ask the simulator's device side for a real login code (POST /sim/login),
// - requests do real HTTP, accept only the methods wx.request accepts, turn GET data
//   into a query string, JSON-encode other data, parse JSON answers when they can and
//   fail only when no answer arrived,
// - storage is an in-memory map that, like the real one, stores copies.
// It records every request (method, path, Authorization header, and the answer's status
// and data) so tests can count them. Tests can also make it misbehave as phones do:
// `offline` (every request fails), `storageFull` (setStorageSync throws, as at the
// 10 MB quota) and `overrideAnswer` (a proxy, firewall or captive portal that answers
// in the server's place).
//
// The runtimes differ only in their call shapes: `login()` and `request()` here resolve
// with what a success callback gets and reject with what a fail callback gets.

const { httpRequest, postJson } = require('./http');

const WX_REQUEST_METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'];

function queryString(data) {
  return Object.keys(data)
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(data[key])}`)
    .join('&');
}

function createFakePhone({ simUrl, appid, user }) {
  const storage = new Map();
  const requests = [];
  const stats = { logins: 0 };
  const overrides = new Map();
  const listeners = [];
  const state = { offline: false, storageFull: false };

  function login() {
    stats.logins += 1;
    return postJson(`${simUrl}/sim/login`, { appid, user }).then(
      ({ status, body }) => {
        if (status === 200 && body && body.code) return { code: body.code, errMsg: 'login:ok' };
        throw { errMsg: `login:fail simulator answered ${status}` };
      },
      (error) => {
        throw { errMsg: `login:fail ${error.message}` };
      }
    );
  }

  // Records the request at once (as the real ones leave at once) and settles later.
  function request(options) {
    const method = (options.method || 'GET').toUpperCase();
    const header = { ...(options.header || {}) };
    const record = { method, url: options.url, path: new URL(options.url).pathname, authorization: null };
    for (const name of Object.keys(header)) {
      if (name.toLowerCase() === 'authorization') record.authorization = header[name];
    }
    requests.push(record);
    for (const listener of listeners.splice(0)) listener(record);
    const later = (failure) => new Promise((resolve, reject) => setImmediate(() => reject(failure)));
    if (state.offline) return later({ errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' });
    if (!WX_REQUEST_METHODS.includes(method)) {
      return later({ errMsg: `request:fail parameter error: parameter.method should be one of ${WX_REQUEST_METHODS.join(', ')}` });
    }
    let url = options.url;
    let body;
    if (options.data !== undefined) {
      if (method === 'GET' || method === 'HEAD') {
        if (typeof options.data === 'object') {
          const query = queryString(options.data);
          if (query) url += (url.includes('?') ? '&' : '?') + query;
        }
      } else {
        body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
        if (!Object.keys(header).some((name) => name.toLowerCase() === 'content-type')) {
          header['content-type'] = 'application/json';
        }
      }
    }
    const override = overrides.get(record.path);
    const sent = override && !override.forward ? Promise.resolve(null) : httpRequest({ method, url, headers: header, body });
    return sent.then(
      (real) => {
        const answer = override ? { status: override.status, headers: override.headers || {}, text: override.text } : real;
        let data = answer.text;
        if ((options.dataType || 'json') === 'json') {
          try {
            data = JSON.parse(answer.text);
          } catch {
            // The real wx.request also hands over the raw text when it is not JSON.
          }
        }
        record.status = answer.status;
        record.data = data;
        return { statusCode: answer.status, data, header: answer.headers, errMsg: 'request:ok' };
      },
      (error) => {
        throw { errMsg: `request:fail ${error.message}` };
      }
    );
  }

  const storageApi = {
    setStorageSync(key, value) {
      if (state.storageFull) throw new Error('setStorageSync:fail exceed storage max size 10MB');
      storage.set(key, JSON.stringify(value));
    },
    getStorageSync(key) {
      return storage.has(key) ? JSON.parse(storage.get(key)) : '';
    },
    removeStorageSync(key) {
      storage.delete(key);
    },
  };

  // What the tests see of the phone, whichever runtime drives it.
  const controls = {
    stats,
    requests,
    storage,
    get offline() {
      return state.offline;
    },
    set offline(value) {
      state.offline = value;
    },
    get storageFull() {
      return state.storageFull;
    },
    set storageFull(value) {
      state.storageFull = value;
    },
    // From now on requests to `path` get this answer ({status, text, headers}) instead of
    // the server's; with `forward: true` they still reach the server first.
    overrideAnswer(path, answer) {
      overrides.set(path, answer);
    },
    clearOverrides() {
      overrides.clear();
    },
    // Resolves with the record of the next request sent to `path`.
    nextRequest(path) {
      return new Promise((resolve) => {
        const listener = (record) => {
          if (record.path === path) resolve(record);
          else listeners.push(listener);
        };
        listeners.push(listener);
      });
    },
    // How many requests went to `path` (optionally with `method`).
    count(path, method) {
      return requests.filter((r) => r.path === path && (!method || r.method === method)).length;
    },
    clearRequests() {
      requests.length = 0;
    },
  };

  return { login, request, storageApi, controls };
}

// A runtime object plus the phone's controls, copied with their accessors so that
// `fake.offline = true` reaches the phone.
function withControls(phone, extra) {
  return Object.defineProperties(extra, Object.getOwnPropertyDescriptors(phone.controls));
}

// Calls a wx-style callback set: the outcome's callback, then `complete`.
function finish(callbacks, outcome, value) {
  const callback = callbacks[outcome];
  if (typeof callback === 'function') callback(value);
  if (typeof callbacks.complete === 'function') callbacks.complete(value);
}

module.exports = { createFakePhone, withControls, finish, WX_REQUEST_METHODS };
