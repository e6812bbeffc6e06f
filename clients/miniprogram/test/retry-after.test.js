'use strict';
// Retry-After on 429 and 503 answers reaches the caller as `error.retryAfter` (seconds):
// from a real rate-limited server, and in both of its forms (delta-seconds, HTTP date).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { startServer } = require('../test-support/server');
const { newDevice } = require('../test-support/harness');
const { createClient } = require(path.join(__dirname, '..', 'wxlogin.js'));

let server;

before(async () => {
  // One login per address and period, so the second phone's login is refused.
  server = await startServer({ accessTokenTtl: 600, loginRateLimitPerIp: 1, loginRateLimitBurst: 1 });
});

after(async () => {
  if (server) await server.stop();
});

test('a rate-limited login rejects with rate_limited, status 429 and the server\'s Retry-After in seconds', async () => {
  await newDevice(server, 'first-login').client.login();
  const second = newDevice(server, 'limited-login');
  await assert.rejects(second.client.login(), (error) => {
    assert.equal(error.name, 'WxLoginError');
    assert.equal(error.code, 'rate_limited');
    assert.equal(error.status, 429);
    assert.ok(Number.isInteger(error.retryAfter) && error.retryAfter > 0, `retryAfter was ${error.retryAfter}`);
    return true;
  });
  assert.equal(second.client.isLoggedIn(), false);
});

// A client whose server answers every request with `status` and `header`.
function clientAnswering(status, header) {
  const storage = new Map([
    ['wxlogin.session', { access_token: 'a', refresh_token: 'r', issued_at: Date.now(), expires_at: Date.now() + 600000 }],
  ]);
  const wx = {
    login: () => assert.fail('already logged in'),
    request: ({ success }) =>
      setImmediate(() =>
        success({ statusCode: status, header, data: { error: { code: 'upstream_unavailable', message: 'WeChat is busy' } } })
      ),
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
  };
  return createClient({ baseUrl: 'https://login.example.com', wx });
}

test('Retry-After as delta-seconds, in any header spelling', async () => {
  for (const header of [{ 'retry-after': '5' }, { 'Retry-After': '5' }, { 'RETRY-AFTER': ' 5 ' }]) {
    await assert.rejects(clientAnswering(503, header).me(), { code: 'upstream_unavailable', status: 503, retryAfter: 5 });
  }
});

test('Retry-After as an HTTP date becomes the seconds until then', async () => {
  const inTwoMinutes = new Date(Date.now() + 120000).toUTCString();
  await assert.rejects(clientAnswering(429, { 'Retry-After': inTwoMinutes }).me(), (error) => {
    assert.equal(error.status, 429);
    assert.ok(error.retryAfter >= 118 && error.retryAfter <= 121, `retryAfter was ${error.retryAfter}`);
    return true;
  });
  const past = new Date(Date.now() - 60000).toUTCString();
  await assert.rejects(clientAnswering(503, { 'Retry-After': past }).me(), { retryAfter: 0 });
});

test('without a readable Retry-After there is no retryAfter', async () => {
  for (const header of [{}, { 'Retry-After': 'soon' }, undefined]) {
    await assert.rejects(clientAnswering(503, header).me(), (error) => {
      assert.equal(error.status, 503);
      assert.equal('retryAfter' in error, false);
      return true;
    });
  }
});
