'use strict';
/*
 * wxlogin for Taro apps built for WeChat (weapp): the client of wxlogin.js on Taro's
 * promise-based API instead of `wx`.
 *
 *   import Taro from '@tarojs/taro';
 *   import { createClient } from 'wxlogin-miniprogram/taro';
 *   export const wxlogin = createClient({ taro: Taro, baseUrl: 'https://login.example.com' });
 *
 * Taro has no global: `@tarojs/taro` is passed in, so that this package needs no
 * dependency on a Taro version. Taro.request and Taro.login are used in their promise
 * form, Taro's own: they resolve with what wx's success callbacks get and reject with
 * what their fail callbacks get (or, on some platforms and interceptors, an Error).
 */

var wxlogin = require('./wxlogin.js');

// wx-style failures carry errMsg; Taro's H5 and interceptors may reject with an Error.
function asWxFailure(failure) {
  if (failure && typeof failure.errMsg === 'string') return failure;
  var text = failure && typeof failure.message === 'string' ? failure.message : String(failure);
  return { errMsg: text };
}

// Hands a Taro promise's outcome to wxlogin.js's success / fail callbacks.
function settle(promise, call) {
  Promise.resolve(promise).then(
    function (result) {
      call.success(result);
    },
    function (failure) {
      call.fail(asWxFailure(failure));
    }
  );
}

// The wx calls wxlogin.js makes, answered by Taro.
function wxFromTaro(taro) {
  return {
    login: function (call) {
      var options = {};
      if (call.timeout !== undefined) options.timeout = call.timeout;
      settle(taro.login(options), call);
    },
    request: function (call) {
      var options = {};
      for (var key in call) {
        if (Object.prototype.hasOwnProperty.call(call, key) && key !== 'success' && key !== 'fail' && key !== 'complete') {
          options[key] = call[key];
        }
      }
      var task = taro.request(options);
      settle(task, call);
      return task;
    },
    getStorageSync: function (key) {
      return taro.getStorageSync(key);
    },
    setStorageSync: function (key, value) {
      taro.setStorageSync(key, value);
    },
    removeStorageSync: function (key) {
      taro.removeStorageSync(key);
    },
  };
}

/**
 * Creates a client bound to one wxlogin server, on Taro's API.
 *
 * Takes the options of wxlogin.js's createClient, with `taro` (required: the default
 * export of `@tarojs/taro`) in place of `wx`.
 */
function createClient(options) {
  options = options || {};
  var taro = options.taro;
  if (taro && typeof taro.request !== 'function' && taro.default) taro = taro.default;
  if (!taro || typeof taro.request !== 'function' || typeof taro.login !== 'function') {
    throw new TypeError("wxlogin/taro.createClient: pass Taro as options.taro (import Taro from '@tarojs/taro')");
  }
  var coreOptions = {};
  for (var key in options) {
    if (Object.prototype.hasOwnProperty.call(options, key) && key !== 'taro') coreOptions[key] = options[key];
  }
  coreOptions.wx = wxFromTaro(taro);
  return wxlogin.createClient(coreOptions);
}

module.exports = {
  createClient: createClient,
};
