'use strict';
// A stand-in for uni-app's `uni` global in an mp-weixin build, written from uni-app's
// documented API (see fake-phone.js for what happens behind the calls):
// - uni.login({provider, timeout, success, fail, complete}): the provider is 'weixin'
//   (the only one uni.getProvider({service: 'oauth'}) lists in a WeChat build) or left
//   out; any other fails,
// - uni.request({url, method, header, data, timeout, dataType, responseType, success,
//   fail, complete}) answers {statusCode, data, header, errMsg},
// - both return a promise instead when given none of success / fail / complete (the
//   Vue 3 form: it resolves with the result and rejects with the failure),
// - storage calls are synchronous, as wx's.

const { createFakePhone, withControls, finish } = require('./fake-phone');

const CALLBACKS = ['success', 'fail', 'complete'];

function hasCallbacks(options) {
  return CALLBACKS.some((name) => typeof options[name] === 'function');
}

// The uni-app call convention: callbacks when given, a promise otherwise.
function answer(options, outcome, task) {
  if (!hasCallbacks(options)) return outcome;
  outcome.then(
    (result) => finish(options, 'success', result),
    (failure) => finish(options, 'fail', failure)
  );
  return task;
}

function createFakeUni({ simUrl, appid, user }) {
  const phone = createFakePhone({ simUrl, appid, user });
  const loginCalls = [];

  const uni = {
    login(options = {}) {
      loginCalls.push({ provider: options.provider, timeout: options.timeout });
      const outcome =
        options.provider === undefined || options.provider === 'weixin'
          ? phone.login()
          : Promise.reject({ errMsg: `login:fail provider ${options.provider} is not available in this build` });
      return answer(options, outcome, undefined);
    },

    request(options = {}) {
      const outcome = phone.request(options);
      return answer(options, outcome, { abort() {} });
    },

    ...phone.storageApi,
  };

  return withControls(phone, { uni, loginCalls });
}

module.exports = { createFakeUni };
