'use strict';
// A 200 that is not the contract (a firewall's or captive portal's page, a proxy that
// mangles the body): nothing is stored, the old session stays, and the call rejects with
// a WxLoginError `invalid_response`.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../test-support/server');
const { newDevice, makeStale } = require('../test-support/harness');

const PORTAL_PAGE = '<!DOCTYPE html><html><body><h1>Welcome to the free Wi-Fi</h1><a href="/accept">Accept</a></body></html>';
const NOT_THE_CONTRACT = [
  { label: 'an HTML page', text: PORTAL_PAGE },
  { label: 'an empty body', text: '' },
  { label: 'JSON without a refresh token', text: JSON.stringify({ access_token: 'a.b.c', expires_in: 600, user: { id: 1 } }) },
  { label: 'JSON without a lifetime', text: JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r', user: { id: 1 } }) },
];

let server;

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
});

after(async () => {
  if (server) await server.stop();
});

for (const { label, text } of NOT_THE_CONTRACT) {
  test(`a refresh answered 200 with ${label} keeps the old session and rejects with invalid_response`, async () => {
    const device = newDevice(server, 'refresh-portal');
    const user = await device.client.login();
    makeStale(device);
    const before = device.session();
    device.overrideAnswer('/v1/token/refresh', { status: 200, headers: { 'content-type': 'text/html' }, text });

    await assert.rejects(device.client.me(), (error) => {
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'WxLoginError');
      assert.equal(error.code, 'invalid_response');
      assert.equal(error.status, 200);
      assert.ok(!JSON.stringify({ ...error, message: error.message }).includes(before.refresh_token), 'no token in the error');
      return true;
    });
    assert.deepEqual(device.session(), before, 'the stored session, refresh token included, is untouched');

    // Once past the portal, the kept refresh token still works: a refresh, not a new login.
    device.clearOverrides();
    assert.equal((await device.client.me()).id, user.id);
    assert.notEqual(device.session().refresh_token, before.refresh_token);
    assert.equal(device.stats.logins, 1);
  });
}

for (const { label, text } of NOT_THE_CONTRACT) {
  test(`a login answered 200 with ${label} rejects with invalid_response and keeps the session there was`, async () => {
    const device = newDevice(server, 'login-portal');
    await device.client.login();
    const before = device.session();
    device.overrideAnswer('/v1/login', { status: 200, headers: { 'content-type': 'text/html' }, text });

    await assert.rejects(device.client.login(), { name: 'WxLoginError', code: 'invalid_response', status: 200 });
    assert.deepEqual(device.session(), before);
    assert.equal(device.client.isLoggedIn(), true);
  });
}

test('a login answered 200 with a page, on a phone without a session, leaves it logged out', async () => {
  const device = newDevice(server, 'first-login-portal');
  device.overrideAnswer('/v1/login', { status: 200, headers: { 'content-type': 'text/html' }, text: PORTAL_PAGE });
  await assert.rejects(device.client.request({ url: '/v1/me' }), { name: 'WxLoginError', code: 'invalid_response' });
  assert.equal(device.session(), '');
  assert.equal(device.client.isLoggedIn(), false);
});

test('me() answered 200 with a page rejects with invalid_response and keeps the stored user', async () => {
  const device = newDevice(server, 'me-portal');
  const user = await device.client.login();
  device.overrideAnswer('/v1/me', { status: 200, headers: { 'content-type': 'text/html' }, text: PORTAL_PAGE });
  await assert.rejects(device.client.me(), { name: 'WxLoginError', code: 'invalid_response', status: 200 });
  await assert.rejects(device.client.updateProfile({ nickname: 'Mei' }), { name: 'WxLoginError', code: 'invalid_response' });
  assert.deepEqual(device.client.currentUser(), user);
});
