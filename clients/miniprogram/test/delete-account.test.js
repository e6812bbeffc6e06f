'use strict';
// deleteAccount(): DELETE /v1/me against a real `wxlogin serve --sim`. The account, its
// sessions and tokens are gone; the stored session with them; the next login of the same
// WeChat user is a new user.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../test-support/server');
const { httpRequest, postJson } = require('../test-support/http');
const { newDevice, makeStale } = require('../test-support/harness');

let server;

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
});

after(async () => {
  if (server) await server.stop();
});

function getMe(accessToken) {
  return httpRequest({ method: 'GET', url: `${server.baseUrl}/v1/me`, headers: { authorization: `Bearer ${accessToken}` } });
}

test('deleteAccount() sends DELETE /v1/me, clears the session; the old tokens are refused and the next login is a new user', async () => {
  const device = newDevice(server, 'delete');
  const user = await device.client.login();
  const { access_token: accessToken, refresh_token: refreshToken } = device.session();

  assert.equal(await device.client.deleteAccount(), undefined);

  const sent = device.requests.filter((r) => r.path === '/v1/me');
  assert.deepEqual(
    sent.map((r) => [r.method, r.status, r.authorization]),
    [['DELETE', 204, `Bearer ${accessToken}`]]
  );
  assert.equal(device.session(), '', 'the session is no longer stored');
  assert.equal(device.client.isLoggedIn(), false);
  assert.equal(device.client.currentUser(), null);

  assert.equal((await getMe(accessToken)).status, 401, 'the access token stops working at once');
  const refreshed = await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: refreshToken });
  assert.equal(refreshed.status, 401, 'the refresh token is gone too');
  assert.equal(refreshed.body.error.code, 'unauthorized');

  const again = await device.client.login();
  assert.equal(again.openid, user.openid, 'the same WeChat user');
  assert.notEqual(String(again.id), String(user.id), 'but a new account');
  assert.equal((await device.client.me()).id, again.id);
});

test('deleteAccount() with a stale access token refreshes once, then deletes', async () => {
  const device = newDevice(server, 'delete-stale');
  await device.client.login();
  makeStale(device);
  device.clearRequests();

  await device.client.deleteAccount();

  assert.deepEqual(
    device.requests.map((r) => [r.method, r.path, r.status]),
    [
      ['POST', '/v1/token/refresh', 200],
      ['DELETE', '/v1/me', 204],
    ]
  );
  assert.equal(device.session(), '');
  assert.equal(device.stats.logins, 1, 'no new login');
});

test('deleteAccount() without a session rejects with not_logged_in and neither logs in nor sends anything', async () => {
  const device = newDevice(server, 'delete-no-session');
  await assert.rejects(device.client.deleteAccount(), { name: 'WxLoginError', code: 'not_logged_in', status: 401 });
  assert.equal(device.stats.logins, 0, 'a login would create the account only to delete it');
  assert.equal(device.requests.length, 0);
});

test('deleteAccount() that gets no answer or a failure keeps the account and the session', async () => {
  const device = newDevice(server, 'delete-fails');
  const user = await device.client.login();
  const stored = device.session();

  device.offline = true;
  await assert.rejects(device.client.deleteAccount(), { code: 'network_error' });
  device.offline = false;
  assert.deepEqual(device.session(), stored);

  device.overrideAnswer('/v1/me', {
    status: 503,
    headers: { 'content-type': 'application/json', 'retry-after': '5' },
    text: JSON.stringify({ error: { code: 'upstream_unavailable', message: 'try later' } }),
  });
  await assert.rejects(device.client.deleteAccount(), { code: 'upstream_unavailable', status: 503, retryAfter: 5 });
  device.clearOverrides();
  assert.deepEqual(device.session(), stored);
  assert.deepEqual(device.client.currentUser(), user);

  assert.equal((await device.client.me()).id, user.id, 'the account is still there');
});

test('a login still in flight when deleteAccount() succeeds neither logs in nor stores anything afterwards', async () => {
  const device = newDevice(server, 'delete-during-login');
  await device.client.login();
  // The user taps "Log in" again and, before wx.login answers, confirms closing the account.
  const realLogin = device.wx.login;
  let releaseLogin;
  const loginAsked = new Promise((resolve) => {
    device.wx.login = (callbacks) => {
      releaseLogin = () => realLogin(callbacks);
      resolve();
    };
  });
  const racingLogin = device.client.login();
  await loginAsked;
  device.clearRequests();

  await device.client.deleteAccount();
  releaseLogin();

  await assert.rejects(racingLogin, { code: 'logged_out' });
  assert.equal(device.count('/v1/login'), 0, 'no login may recreate the account just closed');
  assert.equal(device.session(), '');
});
