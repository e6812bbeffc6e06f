'use strict';
// A stand-in for the mini program's `wx` global, faithful in the parts wxlogin.js uses
// (see fake-phone.js for what happens behind the calls): wx.login and wx.request take
// success / fail / complete callbacks, wx.request returns a task at once, and the
// storage calls are synchronous. The returned object holds `wx` and the phone's
// controls (offline, storageFull, overrideAnswer, count, ...).

const { createFakePhone, withControls, finish, WX_REQUEST_METHODS } = require('./fake-phone');

function createFakeWx({ simUrl, appid, user }) {
  const phone = createFakePhone({ simUrl, appid, user });
  const modals = [];
  const modalAnswers = [];

  const wx = {
    login(callbacks = {}) {
      phone.login().then(
        (result) => finish(callbacks, 'success', result),
        (failure) => finish(callbacks, 'fail', failure)
      );
    },

    request(options) {
      phone.request(options).then(
        (response) => finish(options, 'success', response),
        (failure) => finish(options, 'fail', failure)
      );
      return { abort() {} };
    },

    // The confirmation dialog: answers with the next of `answerModal()`'s answers (a tap
    // on confirm or cancel); without one queued it fails, as a test must say what the
    // user taps. It refuses a confirmText or cancelText longer than the 4 characters the
    // documentation allows (the real one's count is laxer for Latin letters; this one
    // keeps to what is documented).
    showModal(options = {}) {
      modals.push({ ...options });
      setImmediate(() => {
        for (const field of ['confirmText', 'cancelText']) {
          if (typeof options[field] === 'string' && [...options[field]].length > 4) {
            finish(options, 'fail', { errMsg: `showModal:fail ${field} length should not larger than 4 Chinese characters` });
            return;
          }
        }
        if (!modalAnswers.length) {
          finish(options, 'fail', { errMsg: 'showModal:fail the test queued no answer' });
          return;
        }
        const confirm = modalAnswers.shift() === 'confirm';
        finish(options, 'success', { confirm, cancel: !confirm, errMsg: 'showModal:ok' });
      });
    },

    ...phone.storageApi,
  };

  return withControls(phone, {
    wx,
    modals,
    // The user's next tap in a wx.showModal dialog: 'confirm' or 'cancel'.
    answerModal(answer) {
      modalAnswers.push(answer);
    },
  });
}

module.exports = { createFakeWx, WX_REQUEST_METHODS };
