'use strict';
// Access tokens that really expire (the server issues them for 2 s): the client refreshes
// ahead of expiry, once, however many requests are waiting.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../test-support/server');
const { postJson } = require('../test-support/http');
const { newDevice, sleep } = require('../test-support/harness');

const TTL_SECONDS = 2;
let server;

before(async () => {
  server = await startServer({ accessTokenTtl: TTL_SECONDS });
});

after(async () => {
  if (server) await server.stop();
});

test('the server issues tokens for the configured lifetime', async () => {
  const device = newDevice(server, 'ttl');
  await device.client.login();
  const session = device.session();
  assert.equal(session.expires_at - session.issued_at, TTL_SECONDS * 1000);
});

test('after expiry, 10 concurrent requests share exactly one refresh and all succeed with the new token', async () => {
  const device = newDevice(server, 'expiry');
  const user = await device.client.login();
  const expired = device.session();
  await sleep(TTL_SECONDS * 1000 + 500);
  device.clearRequests();

  const responses = await Promise.all(Array.from({ length: 10 }, () => device.client.request({ url: '/v1/me' })));

  assert.equal(device.count('/v1/token/refresh', 'POST'), 1);
  assert.equal(device.stats.logins, 1, 'refreshed, not logged in again');
  const fresh = device.session();
  assert.notEqual(fresh.access_token, expired.access_token);
  assert.notEqual(fresh.refresh_token, expired.refresh_token);
  assert.ok(fresh.expires_at > Date.now());
  const meCalls = device.requests.filter((r) => r.path === '/v1/me');
  assert.equal(meCalls.length, 10, 'refreshed ahead of sending: no request went out with the expired token');
  for (const call of meCalls) assert.equal(call.authorization, `Bearer ${fresh.access_token}`);
  for (const response of responses) assert.equal(response.data.id, user.id);
});

test('an expired token that reaches the server (client clock behind) is answered 401, refreshed once and replayed', async () => {
  const device = newDevice(server, 'expiry-401');
  const user = await device.client.login();
  await sleep(TTL_SECONDS * 1000 + 500);
  // The client believes the token is fresh, so the server is the one to notice expiry.
  device.editSession((session) => {
    session.issued_at = Date.now();
    session.expires_at = Date.now() + 600000;
  });
  device.clearRequests();

  const responses = await Promise.all(Array.from({ length: 10 }, () => device.client.request({ url: '/v1/me' })));

  assert.equal(device.count('/v1/token/refresh', 'POST'), 1);
  for (const response of responses) assert.equal(response.data.id, user.id);
  const meCalls = device.requests.filter((r) => r.path === '/v1/me');
  assert.equal(meCalls.filter((r) => r.status === 401).length, 10);
  assert.equal(meCalls.filter((r) => r.status === 200).length, 10);
});

test('the refreshed session keeps working across a second expiry', async () => {
  const device = newDevice(server, 'expiry-twice');
  await device.client.login();
  await sleep(TTL_SECONDS * 1000 + 200);
  await device.client.me();
  await sleep(TTL_SECONDS * 1000 + 200);
  await device.client.me();
  assert.equal(device.count('/v1/token/refresh', 'POST'), 2);
  assert.equal(device.stats.logins, 1);
});

test('logout() during a refresh of an expired token waits for it: one refresh, and the renewed session is revoked', async () => {
  const device = newDevice(server, 'logout-during-expired-refresh');
  await device.client.login();
  await sleep(TTL_SECONDS * 1000 + 500);
  device.clearRequests();
  const refreshSent = device.nextRequest('/v1/token/refresh');

  const discarded = assert.rejects(device.client.me(), { name: 'WxLoginError', code: 'logged_out' });
  await refreshSent;
  const outcome = await device.client.logout();
  await discarded;

  assert.equal(device.count('/v1/token/refresh', 'POST'), 1, 'logout() sent no refresh of its own beside the one in flight');
  assert.deepEqual(outcome, { serverRevoked: true });
  const logouts = device.requests.filter((r) => r.path === '/v1/logout');
  assert.deepEqual(
    logouts.map((r) => r.status),
    [204],
    'one logout, with the access token of the refresh that was in flight'
  );
  const refreshed = device.requests.find((r) => r.path === '/v1/token/refresh');
  assert.equal(refreshed.status, 200);
  assert.equal(logouts[0].authorization, `Bearer ${refreshed.data.access_token}`);
  const afterLogout = await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: refreshed.data.refresh_token });
  assert.equal(afterLogout.status, 401, 'the renewed session is revoked on the server');
  assert.equal(device.session(), '');
  assert.equal(device.stats.logins, 1);
});
