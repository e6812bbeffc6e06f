'use strict';
// Login, authorised requests, the shared refresh on 401, refused refresh → re-login, and
// logout, against a real `wxlogin serve --sim`.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const path = require('node:path');

const { startServer } = require('../test-support/server');
const { postJson } = require('../test-support/http');
const { createFakeWx } = require('../test-support/fake-wx');
const { newDevice, makeStale, uniqueUser, STORAGE_KEY } = require('../test-support/harness');
const { createClient } = require(path.join(__dirname, '..', 'wxlogin.js'));

let server;

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
});

after(async () => {
  if (server) await server.stop();
});

test('login stores the session and answers the user; a client without options.wx uses the wx global', async () => {
  const fake = createFakeWx({ simUrl: server.simUrl, appid: server.appid, user: uniqueUser('global') });
  globalThis.wx = fake.wx;
  try {
    const client = createClient({ baseUrl: server.baseUrl, appid: server.appid });
    const user = await client.login();
    assert.equal(user.appid, server.appid);
    assert.equal(typeof user.openid, 'string');
    assert.ok(user.id !== undefined && user.id !== null);
    assert.equal(fake.stats.logins, 1);
    const stored = fake.wx.getStorageSync(STORAGE_KEY);
    assert.equal(typeof stored.access_token, 'string');
    assert.equal(typeof stored.refresh_token, 'string');
    assert.ok(stored.expires_at > Date.now());
    assert.deepEqual(stored.user, user);
    assert.equal(client.isLoggedIn(), true);
    assert.deepEqual(client.currentUser(), user);
  } finally {
    delete globalThis.wx;
  }
});

test('concurrent login() calls share one wx.login and one POST /v1/login', async () => {
  const device = newDevice(server, 'concurrent-login');
  const users = await Promise.all([device.client.login(), device.client.login(), device.client.login()]);
  assert.equal(device.stats.logins, 1);
  assert.equal(device.count('/v1/login', 'POST'), 1);
  assert.deepEqual(users[1], users[0]);
  assert.deepEqual(users[2], users[0]);
});

test('request() sends the access token as a Bearer header; me() answers the logged-in user', async () => {
  const device = newDevice(server, 'authorised');
  const user = await device.client.login();
  const response = await device.client.request({ url: '/v1/me' });
  assert.equal(response.statusCode, 200);
  assert.equal(response.data.id, user.id);
  const sent = device.requests.find((r) => r.path === '/v1/me');
  assert.equal(sent.authorization, `Bearer ${device.session().access_token}`);
  const me = await device.client.me();
  assert.equal(me.id, user.id);
  assert.equal(me.openid, user.openid);
});

test('request() without a session logs in first', async () => {
  const device = newDevice(server, 'auto-login');
  const response = await device.client.request({ url: '/v1/me' });
  assert.equal(response.statusCode, 200);
  assert.equal(device.stats.logins, 1);
});

test('with autoLogin: false, request() without a session rejects with not_logged_in and sends nothing', async () => {
  const device = newDevice(server, 'no-auto-login', { autoLogin: false });
  await assert.rejects(device.client.request({ url: '/v1/me' }), { code: 'not_logged_in', status: 401 });
  assert.equal(device.stats.logins, 0);
  assert.equal(device.requests.length, 0);
});

test('updateProfile() saves nickname and avatar (sent as PUT: wx.request has no PATCH)', async () => {
  const device = newDevice(server, 'profile');
  await device.client.login();
  const user = await device.client.updateProfile({ nickname: 'Mei', avatar_url: 'https://example.com/a.png' });
  assert.equal(user.nickname, 'Mei');
  assert.equal(user.avatar_url, 'https://example.com/a.png');
  assert.equal((await device.client.me()).nickname, 'Mei');
  assert.equal(device.session().user.nickname, 'Mei');
});

test('server errors reject with the server code and HTTP status', async () => {
  const device = newDevice(server, 'errors');
  await device.client.login();
  await assert.rejects(device.client.request({ url: '/v1/me/phone', method: 'POST', data: {} }), (error) => {
    assert.ok(error instanceof Error);
    assert.equal(error.status, 400);
    assert.equal(typeof error.code, 'string');
    assert.ok(['invalid_request', 'invalid_code'].includes(error.code), `code was ${error.code}`);
    return true;
  });
});

test('10 concurrent requests answered 401 make exactly one refresh, then all replay and succeed', async () => {
  const device = newDevice(server, 'refresh-on-401');
  const user = await device.client.login();
  // A token the server rejects, but that the client believes fresh (as after a key rotation).
  device.editSession((session) => {
    session.access_token = `${session.access_token}x`;
  });
  const rejectedToken = device.session().access_token;
  device.clearRequests();

  const responses = await Promise.all(Array.from({ length: 10 }, () => device.client.request({ url: '/v1/me' })));

  assert.equal(device.count('/v1/token/refresh', 'POST'), 1);
  for (const response of responses) {
    assert.equal(response.statusCode, 200);
    assert.equal(response.data.id, user.id);
  }
  const meCalls = device.requests.filter((r) => r.path === '/v1/me');
  assert.equal(meCalls.length, 20, 'each request is sent once and replayed once');
  const fresh = device.session().access_token;
  assert.notEqual(fresh, rejectedToken);
  assert.equal(meCalls.filter((r) => r.status === 401).length, 10);
  for (const replay of meCalls.filter((r) => r.status === 200)) assert.equal(replay.authorization, `Bearer ${fresh}`);
  assert.equal(device.stats.logins, 1, 'a refresh, not a new login');
});

test('a refused refresh (its token family revoked) leads to one fresh login, then the request is replayed', async () => {
  const device = newDevice(server, 'refresh-refused');
  const user = await device.client.login();
  const stolen = device.session().refresh_token;
  // Spending the refresh token twice revokes its whole family, as after a token theft.
  const first = await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: stolen });
  assert.equal(first.status, 200);
  const second = await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: stolen });
  assert.equal(second.status, 401);
  assert.equal(second.body.error.code, 'unauthorized');
  makeStale(device);
  device.clearRequests();

  const responses = await Promise.all(Array.from({ length: 5 }, () => device.client.request({ url: '/v1/me' })));

  assert.equal(device.count('/v1/token/refresh', 'POST'), 1);
  assert.equal(device.stats.logins, 2);
  assert.equal(device.count('/v1/login', 'POST'), 1);
  for (const response of responses) assert.equal(response.data.id, user.id);
  assert.notEqual(device.session().refresh_token, stolen);
});

test('a refused refresh with autoLogin: false rejects with the server error and clears the session', async () => {
  const device = newDevice(server, 'refused-no-auto', { autoLogin: false });
  await device.client.login();
  const spent = device.session().refresh_token;
  await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: spent });
  await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: spent });
  makeStale(device);
  await assert.rejects(device.client.me(), { code: 'unauthorized', status: 401 });
  assert.equal(device.stats.logins, 1);
  assert.equal(device.client.isLoggedIn(), false);
});

test('logout() revokes the session on the server and clears storage', async () => {
  const device = newDevice(server, 'logout');
  await device.client.login();
  const { refresh_token: refreshToken } = device.session();
  const outcome = await device.client.logout();
  assert.deepEqual(outcome, { serverRevoked: true });
  assert.equal(device.count('/v1/logout', 'POST'), 1);
  assert.equal(device.session(), '');
  assert.equal(device.client.isLoggedIn(), false);
  const refused = await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: refreshToken });
  assert.equal(refused.status, 401);
});

test('logout() with an expired access token renews it once to revoke the session', async () => {
  const device = newDevice(server, 'logout-stale');
  await device.client.login();
  device.editSession((session) => {
    session.access_token = `${session.access_token}x`;
  });
  const outcome = await device.client.logout();
  assert.deepEqual(outcome, { serverRevoked: true });
  assert.equal(device.session(), '');
});

test('logout() clears storage even when the server cannot be reached', async () => {
  const closedPort = await new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
  const device = newDevice(server, 'logout-offline');
  await device.client.login();
  const offline = createClient({ baseUrl: `http://127.0.0.1:${closedPort}`, wx: device.wx });
  const outcome = await offline.logout();
  assert.deepEqual(outcome, { serverRevoked: false });
  assert.equal(device.session(), '');
  await assert.rejects(offline.request({ url: '/v1/me' }), { code: 'network_error' });
});

test('login() while the server is unreachable rejects with network_error', async () => {
  const fake = createFakeWx({ simUrl: server.simUrl, appid: server.appid, user: uniqueUser('offline-login') });
  const client = createClient({ baseUrl: 'http://127.0.0.1:9', appid: server.appid, wx: fake.wx });
  await assert.rejects(client.login(), { code: 'network_error' });
  assert.equal(client.isLoggedIn(), false);
});

test('logout() while a refresh is in flight: the refresh result is discarded and no new login happens', async () => {
  const device = newDevice(server, 'logout-during-refresh');
  await device.client.login();
  makeStale(device);
  const refused = assert.rejects(device.client.me(), { code: 'logged_out' });
  const outcome = await device.client.logout();
  await refused;
  assert.equal(outcome.serverRevoked, true);
  assert.equal(device.count('/v1/token/refresh', 'POST'), 1);
  assert.equal(device.stats.logins, 1);
  assert.equal(device.session(), '');
});

test('logout() while POST /v1/login is on its way waits for its answer and revokes the session it made', async () => {
  const device = newDevice(server, 'logout-during-login');
  const loginSent = device.nextRequest('/v1/login');
  const discarded = assert.rejects(device.client.login(), { name: 'WxLoginError', code: 'logged_out' });
  await loginSent;
  const outcome = await device.client.logout();
  await discarded;

  assert.deepEqual(outcome, { serverRevoked: true });
  const loggedIn = device.requests.find((r) => r.path === '/v1/login');
  assert.equal(loggedIn.status, 200);
  const logout = device.requests.find((r) => r.path === '/v1/logout');
  assert.equal(logout.authorization, `Bearer ${loggedIn.data.access_token}`);
  const afterLogout = await postJson(`${server.baseUrl}/v1/token/refresh`, { refresh_token: loggedIn.data.refresh_token });
  assert.equal(afterLogout.status, 401, 'the session the login made is revoked on the server');
  assert.equal(device.session(), '');
});

test('logout() while wx.login is still running: the login never reaches the server', async () => {
  const device = newDevice(server, 'logout-during-wx-login');
  const discarded = assert.rejects(device.client.login(), { name: 'WxLoginError', code: 'logged_out' });
  const outcome = await device.client.logout();
  await discarded;
  assert.deepEqual(outcome, { serverRevoked: false });
  assert.equal(device.stats.logins, 1);
  assert.equal(device.count('/v1/login'), 0);
  assert.equal(device.session(), '');
});

test('as documented: me() and accessToken() log in only without a session, login() always starts a new one', async () => {
  const device = newDevice(server, 'when-login');
  await device.client.accessToken();
  assert.equal(device.stats.logins, 1, 'no session: accessToken() logs in');
  const first = device.session();
  await device.client.me();
  await device.client.accessToken();
  assert.equal(device.stats.logins, 1, 'with a session, me() and accessToken() do not log in');
  await device.client.login();
  assert.equal(device.stats.logins, 2, 'login() logs in although a session is stored');
  assert.notEqual(device.session().refresh_token, first.refresh_token);
});
