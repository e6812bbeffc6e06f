'use strict';
// The access token goes only to the wxlogin server's origin and the origins listed in
// `tokenOrigins`: request() to any other host is sent as it is, without the token, and
// never logs in or refreshes for it.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');

const { startServer } = require('../test-support/server');
const { newDevice } = require('../test-support/harness');
const { createClient } = require(path.join(__dirname, '..', 'wxlogin.js'));

let server;
let otherHost;
let otherOrigin;
// What the other host received: the Authorization header of each request.
const received = [];

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
  otherHost = http.createServer((request, response) => {
    received.push(request.headers.authorization || null);
    response.writeHead(request.url === '/unauthorised' ? 401 : 200, { 'content-type': 'application/json' });
    response.end('{"orders":[]}');
  });
  await new Promise((resolve) => otherHost.listen(0, '127.0.0.1', resolve));
  otherOrigin = `http://127.0.0.1:${otherHost.address().port}`;
});

after(async () => {
  if (otherHost) await new Promise((resolve) => otherHost.close(resolve));
  if (server) await server.stop();
});

test('request() to a host that is not the server carries no token, and a 401 from it renews nothing', async () => {
  const device = newDevice(server, 'other-host');
  await device.client.login();
  received.length = 0;
  device.clearRequests();

  const response = await device.client.request({ url: `${otherOrigin}/orders` });
  assert.deepEqual(response.data, { orders: [] });
  await assert.rejects(device.client.request({ url: `${otherOrigin}/unauthorised` }), { name: 'WxLoginError', status: 401 });

  assert.deepEqual(received, [null, null]);
  assert.deepEqual(
    device.requests.map((r) => [r.path, r.authorization]),
    [
      ['/orders', null],
      ['/unauthorised', null],
    ]
  );
});

test('URLs that only look like the server (user info, another name, scheme or host) carry no token', async () => {
  const device = newDevice(server, 'look-alike');
  await device.client.login();
  const serverAuthority = server.baseUrl.replace(/^http:\/\//, '');
  received.length = 0;
  // wx.request sends this one to the other host: "127.0.0.1:PORT@" is user info.
  await device.client.request({ url: `http://${serverAuthority}@${otherOrigin.replace(/^http:\/\//, '')}/orders` });
  assert.deepEqual(received, [null]);
  for (const url of [`https://${serverAuthority}/v1/me`, `http://localhost:${serverAuthority.split(':')[1]}/v1/me`, `http://127.0.0.1.evil.example:${serverAuthority.split(':')[1]}/v1/me`]) {
    device.clearRequests();
    await device.client.request({ url }).catch(() => {});
    assert.equal(device.requests.length, 1, url);
    assert.equal(device.requests[0].authorization, null, url);
  }
});

test('with no session, request() to another host does not log in', async () => {
  const device = newDevice(server, 'other-host-no-session');
  received.length = 0;
  await device.client.request({ url: `${otherOrigin}/orders` });
  assert.equal(device.stats.logins, 0);
  assert.deepEqual(received, [null]);
});

test('an origin listed in tokenOrigins gets the token; the server itself always does', async () => {
  const device = newDevice(server, 'listed-host', { tokenOrigins: [`${otherOrigin}/`] });
  await device.client.login();
  const token = device.session().access_token;
  received.length = 0;
  await device.client.request({ url: `${otherOrigin}/orders` });
  assert.deepEqual(received, [`Bearer ${token}`]);
  const me = await device.client.request({ url: `${server.baseUrl}/v1/me` });
  assert.equal(me.statusCode, 200);
  assert.equal(device.requests.find((r) => r.path === '/v1/me').authorization, `Bearer ${token}`);
});

test('createClient refuses a tokenOrigins entry that is not an http(s) origin', () => {
  for (const tokenOrigins of ['https://api.example.com', ['api.example.com'], ['https://user@api.example.com'], [42]]) {
    assert.throws(() => createClient({ baseUrl: 'https://login.example.com', tokenOrigins, wx: {} }), TypeError);
  }
});
