'use strict';
// A logout that finds no server (the phone offline) clears the phone at once and revokes
// the session on the server at the next start, or whenever retryLogout() is called.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../test-support/server');
const { postJson } = require('../test-support/http');
const { newDevice, waitFor, STORAGE_KEY } = require('../test-support/harness');

const PENDING_KEY = `${STORAGE_KEY}.pending-logout`;
let server;

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
});

after(async () => {
  if (server) await server.stop();
});

async function loggedOutOffline(label) {
  const device = newDevice(server, label);
  await device.client.login();
  const tokens = device.session();
  device.offline = true;
  assert.deepEqual(await device.client.logout(), { serverRevoked: false });
  assert.equal(device.session(), '');
  assert.equal(device.client.isLoggedIn(), false);
  device.offline = false;
  return { device, tokens };
}

async function refreshStatus(refreshToken) {
  return (await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: refreshToken })).status;
}

test('the next start revokes the session of a logout that failed offline, by itself', async () => {
  const { device, tokens } = await loggedOutOffline('offline-logout-next-start');
  device.clearRequests();

  device.restart();
  await waitFor(() => device.requests.some((r) => r.path === '/v1/logout' && r.status === 204), 'the retried logout');

  assert.equal(device.requests.find((r) => r.path === '/v1/logout').authorization, `Bearer ${tokens.access_token}`);
  assert.equal(await refreshStatus(tokens.refresh_token), 401, 'the session is revoked on the server');
  assert.equal(device.wx.getStorageSync(PENDING_KEY), '', 'nothing is left to retry');
});

test('retryLogout() reports the outcome; a retry that is offline again keeps the logout for later', async () => {
  const { device, tokens } = await loggedOutOffline('offline-logout-twice');
  device.offline = true;
  const stillOffline = device.restart();
  assert.deepEqual(await stillOffline.retryLogout(), { revoked: 0, remaining: 1 });
  device.offline = false;

  const online = device.restart();
  assert.deepEqual(await online.retryLogout(), { revoked: 1, remaining: 0 });
  assert.deepEqual(await online.retryLogout(), { revoked: 0, remaining: 0 });
  assert.equal(await refreshStatus(tokens.refresh_token), 401);
});

test('a retried logout whose access token expired meanwhile renews it once to revoke the session', async () => {
  const device = newDevice(server, 'offline-logout-expired');
  await device.client.login();
  const tokens = device.session();
  // A token the server no longer accepts, as after its expiry.
  device.editSession((session) => {
    session.access_token = `${session.access_token}x`;
  });
  device.offline = true;
  await device.client.logout();
  device.offline = false;
  device.clearRequests();

  assert.deepEqual(await device.restart().retryLogout(), { revoked: 1, remaining: 0 });
  assert.equal(device.count('/v1/token/refresh', 'POST'), 1);
  assert.deepEqual(
    device.requests.filter((r) => r.path === '/v1/logout').map((r) => r.status),
    [401, 204]
  );
  assert.equal(await refreshStatus(tokens.refresh_token), 401);
});

test('a logout the server answered is not retried, and a new session on the phone is left alone', async () => {
  const device = newDevice(server, 'online-logout');
  await device.client.login();
  assert.deepEqual(await device.client.logout(), { serverRevoked: true });
  assert.equal(device.wx.getStorageSync(PENDING_KEY), '');

  const { device: phone } = await loggedOutOffline('offline-then-login');
  await phone.client.login();
  const current = phone.session();
  assert.deepEqual(await phone.restart().retryLogout(), { revoked: 1, remaining: 0 });
  assert.deepEqual(phone.session(), current);
  assert.equal(await refreshStatus(current.refresh_token), 200, 'the session after the offline logout still lives');
});
