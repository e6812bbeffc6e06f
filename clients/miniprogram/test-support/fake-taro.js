'use strict';
// A stand-in for Taro (the default export of @tarojs/taro) in a weapp build, written from
// Taro's documented API (see fake-phone.js for what happens behind the calls):
// - Taro.login(option?) returns a promise of {code, errMsg},
// - Taro.request(option) returns a RequestTask: a promise of {statusCode, data, header,
//   errMsg} with abort(); it rejects with {errMsg} when no answer arrived,
// - both also call success / fail / complete when given, as Taro does,
// - storage calls are synchronous, as wx's.

const { createFakePhone, withControls, finish } = require('./fake-phone');

function alsoCallbacks(options, outcome) {
  outcome.then(
    (result) => finish(options, 'success', result),
    (failure) => finish(options, 'fail', failure)
  );
  // The promise itself is the caller's to handle; the callbacks must not leave it unhandled.
  outcome.catch(() => {});
  return outcome;
}

function createFakeTaro({ simUrl, appid, user }) {
  const phone = createFakePhone({ simUrl, appid, user });

  const taro = {
    login(options = {}) {
      return alsoCallbacks(options, phone.login());
    },

    request(options = {}) {
      const task = alsoCallbacks(options, phone.request(options));
      task.abort = () => {};
      return task;
    },

    ...phone.storageApi,
  };

  return withControls(phone, { taro });
}

module.exports = { createFakeTaro };
