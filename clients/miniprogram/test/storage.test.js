'use strict';
// Storage that is full (setStorageSync throws at the 10 MB quota) and wx APIs that throw:
// every rejection is still a WxLoginError, and a token pair that cannot be kept does not
// stay alive on the server.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { startServer } = require('../test-support/server');
const { newDevice, makeStale, waitFor } = require('../test-support/harness');
const { createClient } = require(path.join(__dirname, '..', 'wxlogin.js'));

let server;

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
});

after(async () => {
  if (server) await server.stop();
});

function assertStorageFailed(error) {
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'WxLoginError');
  assert.equal(error.code, 'storage_failed');
  assert.equal(error.status, 0);
  assert.match(error.message, /exceed storage max size/);
  return true;
}

test('login() with full storage rejects with storage_failed, and the unsaved session is revoked', async () => {
  const device = newDevice(server, 'full-login');
  device.storageFull = true;
  await assert.rejects(device.client.login(), assertStorageFailed);
  assert.equal(device.client.isLoggedIn(), false);
  const loggedIn = device.requests.find((r) => r.path === '/v1/login');
  assert.equal(loggedIn.status, 200);
  await waitFor(() => device.requests.some((r) => r.path === '/v1/logout' && r.status === 204), 'the logout of the unsaved session');
  const logout = device.requests.find((r) => r.path === '/v1/logout');
  assert.equal(logout.authorization, `Bearer ${loggedIn.data.access_token}`);
});

test('request() that logs in with full storage rejects with storage_failed', async () => {
  const device = newDevice(server, 'full-request');
  device.storageFull = true;
  await assert.rejects(device.client.request({ url: '/v1/me' }), assertStorageFailed);
});

test('a refresh with full storage rejects with storage_failed; once there is room the client recovers', async () => {
  const device = newDevice(server, 'full-refresh');
  const user = await device.client.login();
  makeStale(device);
  device.storageFull = true;
  const results = await Promise.allSettled([device.client.me(), device.client.accessToken()]);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assertStorageFailed(result.reason);
  }
  assert.equal(device.count('/v1/token/refresh', 'POST'), 1);
  device.storageFull = false;
  assert.equal((await device.client.me()).id, user.id);
});

test('me() with full storage still answers the user (the stored copy just stays as it was)', async () => {
  const device = newDevice(server, 'full-me');
  await device.client.login();
  await device.client.updateProfile({ nickname: 'Before' });
  device.storageFull = true;
  const user = await device.client.updateProfile({ nickname: 'After' });
  assert.equal(user.nickname, 'After');
  assert.equal(device.client.currentUser().nickname, 'Before');
});

test('a wx.request or wx.login that throws instead of calling fail rejects with a WxLoginError', async () => {
  const storage = new Map();
  const wx = {
    login: () => {
      throw new TypeError('wx.login is not supported here');
    },
    request: () => {
      throw new Error('request:fail url not in domain list');
    },
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
  };
  const client = createClient({ baseUrl: 'https://login.example.com', wx });
  await assert.rejects(client.login(), { name: 'WxLoginError', code: 'wx_login_failed' });
  storage.set('wxlogin.session', { access_token: 'a', refresh_token: 'r', issued_at: Date.now(), expires_at: Date.now() + 600000 });
  await assert.rejects(client.me(), { name: 'WxLoginError', code: 'network_error' });
  assert.deepEqual(await client.logout(), { serverRevoked: false });
});

test('storage that cannot even be read or cleared still gives WxLoginErrors, never a throw', async () => {
  const broken = () => {
    throw new Error('storage:fail');
  };
  const wx = {
    login: ({ success }) => setImmediate(() => success({ code: 'c' })),
    request: ({ fail }) => setImmediate(() => fail({ errMsg: 'request:fail' })),
    getStorageSync: broken,
    setStorageSync: broken,
    removeStorageSync: broken,
  };
  const client = createClient({ baseUrl: 'https://login.example.com', wx });
  assert.equal(client.isLoggedIn(), false);
  assert.equal(client.currentUser(), null);
  await assert.rejects(client.request('/v1/me'), { name: 'WxLoginError', code: 'network_error' });
  await assert.rejects(client.request(42), { name: 'WxLoginError', code: 'invalid_request' });
  assert.deepEqual(await client.logout(), { serverRevoked: false });
  assert.deepEqual(await client.retryLogout(), { revoked: 0, remaining: 0 });
});
