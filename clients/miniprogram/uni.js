'use strict';
/*
 * wxlogin for uni-app apps built for WeChat (mp-weixin): the client of wxlogin.js on the
 * `uni` API instead of `wx`.
 *
 *   import { createClient } from 'wxlogin-miniprogram/uni';
 *   export const wxlogin = createClient({ baseUrl: 'https://login.example.com' });
 *
 * uni.request and the storage calls take and give what wx's do; uni.login differs only in
 * naming its provider. The callback forms are used because they behave alike in every
 * uni-app version (the promise forms resolve with [error, result] in Vue 2 projects and
 * with the result in Vue 3 ones).
 *
 * Only the mp-weixin build gives a code the server can exchange: in an App build
 * uni.login({provider: 'weixin'}) yields a WeChat Open Platform code, which
 * jscode2session refuses.
 */

var wxlogin = require('./wxlogin.js');

// The wx calls wxlogin.js makes, answered by `uni`. Looked up at each call, so that a
// test or a plugin that patches uni.request later is used too.
function wxFromUni(uniApi) {
  return {
    login: function (call) {
      var options = { provider: 'weixin', success: call.success, fail: call.fail };
      if (call.timeout !== undefined) options.timeout = call.timeout;
      return uniApi.login(options);
    },
    request: function (call) {
      return uniApi.request(call);
    },
    getStorageSync: function (key) {
      return uniApi.getStorageSync(key);
    },
    setStorageSync: function (key, value) {
      uniApi.setStorageSync(key, value);
    },
    removeStorageSync: function (key) {
      uniApi.removeStorageSync(key);
    },
  };
}

function globalUni() {
  return typeof uni !== 'undefined' ? uni : null; // eslint-disable-line no-undef
}

/**
 * Creates a client bound to one wxlogin server, on the uni API.
 *
 * Takes the options of wxlogin.js's createClient, with `uni` (default: the `uni` global)
 * in place of `wx`.
 */
function createClient(options) {
  options = options || {};
  var uniApi = options.uni || globalUni();
  if (!uniApi || typeof uniApi.request !== 'function' || typeof uniApi.login !== 'function') {
    throw new TypeError('wxlogin/uni.createClient: no uni API: run inside a uni-app app or pass options.uni');
  }
  var coreOptions = {};
  for (var key in options) {
    if (Object.prototype.hasOwnProperty.call(options, key) && key !== 'uni') coreOptions[key] = options[key];
  }
  coreOptions.wx = wxFromUni(uniApi);
  return wxlogin.createClient(coreOptions);
}

module.exports = {
  createClient: createClient,
};
