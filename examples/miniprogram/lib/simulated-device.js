// Development only, for `wxlogin serve --sim`: plays the phone's part through the
// simulator's device side. The simulator cannot know codes minted by real WeChat, so
// login codes come from POST /sim/login and phone data from POST /sim/phone instead.
// Everything else (requests, storage) is the real wx API.

var USER_STORAGE_KEY = 'wxlogin-example.simulated-user';

function postJson(url, data) {
  return new Promise(function (resolve, reject) {
    wx.request({
      url: url,
      method: 'POST',
      data: data,
      header: { 'content-type': 'application/json' },
      success: function (response) {
        if (response.statusCode >= 200 && response.statusCode < 300) resolve(response.data);
        else reject(new Error('The simulator answered HTTP ' + response.statusCode));
      },
      fail: function (failure) {
        reject(new Error('The simulator could not be reached (' + (failure && failure.errMsg) + ')'));
      },
    });
  });
}

// One simulated WeChat user per install, so that logging in again finds the same user.
function simulatedUser() {
  var user = wx.getStorageSync(USER_STORAGE_KEY);
  if (!user) {
    user = 'devtools-' + Math.random().toString(36).slice(2, 10);
    wx.setStorageSync(USER_STORAGE_KEY, user);
  }
  return user;
}

function createSimulatedDevice(options) {
  var simulatorUrl = options.simulatorUrl.replace(/\/+$/, '');
  var appid = options.appid;

  // The wx API for wxlogin's createClient({ wx }): only login differs from the real one.
  var simulatedWx = {
    login: function (call) {
      postJson(simulatorUrl + '/sim/login', { appid: appid, user: simulatedUser() }).then(
        function (answer) {
          call.success({ code: answer.code, errMsg: 'login:ok' });
        },
        function (error) {
          call.fail({ errMsg: 'login:fail ' + error.message });
        }
      );
    },
    request: function (call) {
      return wx.request(call);
    },
    getStorageSync: function (key) {
      return wx.getStorageSync(key);
    },
    setStorageSync: function (key, value) {
      wx.setStorageSync(key, value);
    },
    removeStorageSync: function (key) {
      wx.removeStorageSync(key);
    },
  };

  // Turns a tap on the getPhoneNumber button into the event WeChat would deliver. A
  // refusal is passed on as it is; anything else (DevTools' tourist mode cannot share a
  // number) is replaced by phone data the simulator mints for the simulated user.
  function phoneTap(event) {
    var errMsg = (event && event.detail && event.detail.errMsg) || '';
    if (/deny|cancel/.test(errMsg)) return Promise.resolve(event);
    return postJson(simulatorUrl + '/sim/phone', { appid: appid, user: simulatedUser() }).then(function (minted) {
      return {
        type: 'getphonenumber',
        detail: { errMsg: 'getPhoneNumber:ok', code: minted.code, encryptedData: minted.encrypted_data, iv: minted.iv },
      };
    });
  }

  return { wx: simulatedWx, phoneTap: phoneTap };
}

module.exports = { createSimulatedDevice: createSimulatedDevice };
