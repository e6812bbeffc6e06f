'use strict';
// A stand-in for the mini program's `wx` global, faithful in the parts wxlogin.js uses:
// - wx.login asks the simulator's device side for a real login code (POST /sim/login),
// - wx.request does real HTTP, accepts only the methods the real one accepts, turns GET
//   data into a query string, JSON-encodes other data, parses JSON answers when it can
//   and calls `fail` only when no answer arrived,
// - storage is an in-memory map that, like the real one, stores copies.
// It records every request (method, path, Authorization header, and the answer's status
// and data) so tests can count them. Tests can also make it misbehave as phones do:
// `offline` (every wx.request fails), `storageFull` (setStorageSync throws, as at the
// 10 MB quota) and `overrideAnswer` (a proxy, firewall or captive portal that answers
// in the server's place).

const { httpRequest, postJson } = require('./http');

const WX_REQUEST_METHODS = ['OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'CONNECT'];

function queryString(data) {
  return Object.keys(data)
    .map((key) => `${encodeURIComponent(key)}=${encodeURIComponent(data[key])}`)
    .join('&');
}

function createFakeWx({ simUrl, appid, user }) {
  const storage = new Map();
  const requests = [];
  const stats = { logins: 0 };
  const overrides = new Map();
  const listeners = [];
  const state = { offline: false, storageFull: false };

  function finish(callbacks, outcome, value) {
    const callback = callbacks[outcome];
    if (typeof callback === 'function') callback(value);
    if (typeof callbacks.complete === 'function') callbacks.complete(value);
  }

  const fake = {
    login(callbacks = {}) {
      stats.logins += 1;
      postJson(`${simUrl}/sim/login`, { appid, user }).then(
        ({ status, body }) => {
          if (status === 200 && body && body.code) finish(callbacks, 'success', { code: body.code, errMsg: 'login:ok' });
          else finish(callbacks, 'fail', { errMsg: `login:fail simulator answered ${status}` });
        },
        (error) => finish(callbacks, 'fail', { errMsg: `login:fail ${error.message}` })
      );
    },

    request(options) {
      const method = (options.method || 'GET').toUpperCase();
      const header = { ...(options.header || {}) };
      const record = { method, url: options.url, path: new URL(options.url).pathname, authorization: null };
      for (const name of Object.keys(header)) {
        if (name.toLowerCase() === 'authorization') record.authorization = header[name];
      }
      requests.push(record);
      for (const listener of listeners.splice(0)) listener(record);
      if (state.offline) {
        setImmediate(() => finish(options, 'fail', { errMsg: 'request:fail net::ERR_INTERNET_DISCONNECTED' }));
        return { abort() {} };
      }
      if (!WX_REQUEST_METHODS.includes(method)) {
        setImmediate(() =>
          finish(options, 'fail', {
            errMsg: `request:fail parameter error: parameter.method should be one of ${WX_REQUEST_METHODS.join(', ')}`,
          })
        );
        return { abort() {} };
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
      sent.then(
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
          finish(options, 'success', { statusCode: answer.status, data, header: answer.headers, errMsg: 'request:ok' });
        },
        (error) => finish(options, 'fail', { errMsg: `request:fail ${error.message}` })
      );
      return { abort() {} };
    },

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

  return {
    wx: fake,
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
}

module.exports = { createFakeWx, WX_REQUEST_METHODS };
