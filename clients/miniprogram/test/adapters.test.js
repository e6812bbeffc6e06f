'use strict';
// The uni-app and Taro adapters themselves, without a server: how they call their
// framework's API and how they turn its failures into WxLoginErrors.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const uniAdapter = require(path.join(__dirname, '..', 'uni.js'));
const taroAdapter = require(path.join(__dirname, '..', 'taro.js'));

const BASE_URL = 'https://login.example.com';
const LOGIN_ANSWER = {
  statusCode: 200,
  header: {},
  data: { access_token: 'a', refresh_token: 'r', token_type: 'Bearer', expires_in: 600, user: { id: 1, appid: 'wx1' } },
};

function memoryStorage() {
  const storage = new Map();
  return {
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
  };
}

test('uni: uni.login is asked for the weixin provider with the timeout; uni.request gets the call with its callbacks', async () => {
  const logins = [];
  const requests = [];
  const uni = {
    login(options) {
      logins.push(options);
      setImmediate(() => options.success({ code: 'code-1', errMsg: 'login:ok' }));
    },
    request(options) {
      requests.push(options);
      setImmediate(() => options.success(LOGIN_ANSWER));
      return { abort() {} };
    },
    ...memoryStorage(),
  };
  const client = uniAdapter.createClient({ baseUrl: BASE_URL, uni, timeout: 4000 });
  assert.equal((await client.login()).id, 1);
  assert.equal(logins.length, 1);
  assert.equal(logins[0].provider, 'weixin');
  assert.equal(logins[0].timeout, 4000);
  assert.equal(requests.length, 1);
  assert.equal(requests[0].url, `${BASE_URL}/v1/login`);
  assert.equal(requests[0].method, 'POST');
  assert.deepEqual(requests[0].data, { code: 'code-1' });
  assert.equal(requests[0].timeout, 4000);
  assert.equal(typeof requests[0].success, 'function', 'the callback form, the same in every uni-app version');
  assert.equal(uni.getStorageSync('wxlogin.session').refresh_token, 'r');
});

test('uni: the uni global is used when options.uni is not given; without either createClient throws a TypeError', async () => {
  assert.throws(() => uniAdapter.createClient({ baseUrl: BASE_URL }), TypeError);
  let failedLogins = 0;
  globalThis.uni = {
    login: ({ fail }) => {
      failedLogins += 1;
      setImmediate(() => fail({ errMsg: 'login:fail auth deny' }));
    },
    request: () => assert.fail('nothing may be sent without a code'),
    ...memoryStorage(),
  };
  try {
    const client = uniAdapter.createClient({ baseUrl: BASE_URL });
    await assert.rejects(client.login(), (error) => error.code === 'wx_login_failed' && /auth deny/.test(error.message));
    assert.equal(failedLogins, 1);
  } finally {
    delete globalThis.uni;
  }
});

test('taro: Taro.login and Taro.request are used in their promise form, with the request options only', async () => {
  const requests = [];
  const taro = {
    login: (options) => Promise.resolve({ code: 'code-2', errMsg: 'login:ok', options }),
    request(options) {
      requests.push(options);
      return Promise.resolve(LOGIN_ANSWER);
    },
    ...memoryStorage(),
  };
  const client = taroAdapter.createClient({ baseUrl: BASE_URL, taro, timeout: 3000 });
  assert.equal((await client.login()).id, 1);
  assert.equal(requests.length, 1);
  assert.equal(requests[0].url, `${BASE_URL}/v1/login`);
  assert.equal(requests[0].method, 'POST');
  assert.equal(requests[0].timeout, 3000);
  assert.deepEqual(requests[0].data, { code: 'code-2' });
  for (const callback of ['success', 'fail', 'complete']) {
    assert.equal(requests[0][callback], undefined, `no ${callback} callback: Taro would answer twice`);
  }
});

test('taro: rejections, errMsg objects or Errors, become WxLoginErrors; so does a Taro.request that throws', async () => {
  const base = memoryStorage();
  const loginRefused = taroAdapter.createClient({
    baseUrl: BASE_URL,
    taro: { ...base, login: () => Promise.reject({ errMsg: 'login:fail timeout' }), request: () => assert.fail('no code, no request') },
  });
  await assert.rejects(loginRefused.login(), (error) => error.code === 'wx_login_failed' && /login:fail timeout/.test(error.message));

  const fetchFailed = taroAdapter.createClient({
    baseUrl: BASE_URL,
    taro: { ...base, login: () => Promise.resolve({ code: 'c' }), request: () => Promise.reject(new TypeError('Failed to fetch')) },
  });
  await assert.rejects(fetchFailed.login(), (error) => {
    assert.equal(error.name, 'WxLoginError');
    assert.equal(error.code, 'network_error');
    assert.match(error.message, /Failed to fetch/);
    return true;
  });

  const throwing = taroAdapter.createClient({
    baseUrl: BASE_URL,
    taro: {
      ...base,
      login: () => Promise.resolve({ code: 'c' }),
      request: () => {
        throw new Error('request:fail invalid url');
      },
    },
  });
  await assert.rejects(throwing.login(), { code: 'network_error' });
});

test('taro: createClient needs options.taro and also takes the module object of require("@tarojs/taro")', async () => {
  assert.throws(() => taroAdapter.createClient({ baseUrl: BASE_URL }), TypeError);
  assert.throws(() => taroAdapter.createClient({ baseUrl: BASE_URL, taro: {} }), TypeError);
  const Taro = {
    login: () => Promise.resolve({ code: 'code-3' }),
    request: () => Promise.resolve(LOGIN_ANSWER),
    ...memoryStorage(),
  };
  const client = taroAdapter.createClient({ baseUrl: BASE_URL, taro: { default: Taro } });
  assert.equal((await client.login()).id, 1);
  assert.equal(client.isLoggedIn(), true);
});

test('both adapters still require a baseUrl and give a client with every method of wxlogin.js', () => {
  const core = require(path.join(__dirname, '..', 'wxlogin.js'));
  const methods = Object.keys(core.createClient({ baseUrl: BASE_URL, wx: memoryStorage() })).sort();
  const uni = { login() {}, request() {}, ...memoryStorage() };
  const taro = { login: () => Promise.resolve({}), request: () => Promise.resolve({}), ...memoryStorage() };
  assert.throws(() => uniAdapter.createClient({ uni }), TypeError);
  assert.throws(() => taroAdapter.createClient({ taro }), TypeError);
  assert.deepEqual(Object.keys(uniAdapter.createClient({ baseUrl: BASE_URL, uni })).sort(), methods);
  assert.deepEqual(Object.keys(taroAdapter.createClient({ baseUrl: BASE_URL, taro })).sort(), methods);
});
