'use strict';
// The same life of a session on each runtime the package supports: native `wx`
// (wxlogin.js), uni-app's `uni` (uni.js) and Taro (taro.js), each through a fake written
// from that framework's documented API, against a real `wxlogin serve --sim`.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../test-support/server');
const { httpRequest, postJsonOk } = require('../test-support/http');
const { newDevice, makeStale, RUNTIMES } = require('../test-support/harness');

let server;

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
});

after(async () => {
  if (server) await server.stop();
});

for (const runtime of RUNTIMES) {
  test(`${runtime}: login, me, one shared refresh, profile, phone number, logout`, async () => {
    const device = newDevice(server, `life-${runtime}`, { runtime });

    const user = await device.client.login();
    assert.equal(user.appid, server.appid);
    assert.equal(device.stats.logins, 1);
    assert.equal(typeof device.session().refresh_token, 'string', 'the session is in the runtime storage');
    assert.equal((await device.client.me()).id, user.id);
    const sent = device.requests.find((r) => r.path === '/v1/me');
    assert.equal(sent.authorization, `Bearer ${device.session().access_token}`);

    makeStale(device);
    const answers = await Promise.all([device.client.me(), device.client.me(), device.client.request('/v1/me')]);
    assert.equal(device.count('/v1/token/refresh', 'POST'), 1, 'one refresh for all three');
    assert.equal(answers[2].statusCode, 200);

    const renamed = await device.client.updateProfile({ nickname: `${runtime} user` });
    assert.equal(renamed.nickname, `${runtime} user`);
    assert.equal(device.count('/v1/me', 'PUT'), 1);

    const minted = await postJsonOk(`${server.simUrl}/sim/phone`, { appid: server.appid, user: device.user, phone: '13912345678' });
    const phone = await device.client.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok', code: minted.code } });
    assert.equal(phone.pure_phone_number, '13912345678');

    const accessToken = device.session().access_token;
    assert.deepEqual(await device.client.logout(), { serverRevoked: true });
    assert.equal(device.session(), '');
    const afterLogout = await httpRequest({ method: 'GET', url: `${server.baseUrl}/v1/me`, headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(afterLogout.status, 401);
  });

  test(`${runtime}: offline gives network_error with the runtime's errMsg; a 401 is refreshed and replayed`, async () => {
    const device = newDevice(server, `errors-${runtime}`, { runtime });
    await device.client.login();

    device.offline = true;
    await assert.rejects(device.client.me(), (error) => {
      assert.equal(error.name, 'WxLoginError');
      assert.equal(error.code, 'network_error');
      assert.match(error.message, /ERR_INTERNET_DISCONNECTED/);
      return true;
    });
    device.offline = false;

    device.editSession((session) => {
      session.access_token = 'not-a-token';
    });
    device.clearRequests();
    await device.client.me();
    assert.deepEqual(
      device.requests.map((r) => [r.method, r.path, r.status]),
      [
        ['GET', '/v1/me', 401],
        ['POST', '/v1/token/refresh', 200],
        ['GET', '/v1/me', 200],
      ]
    );
  });

  test(`${runtime}: deleteAccount() closes the account; the next login is a new user`, async () => {
    const device = newDevice(server, `delete-${runtime}`, { runtime });
    const user = await device.client.login();
    const accessToken = device.session().access_token;

    await device.client.deleteAccount();
    assert.equal(device.count('/v1/me', 'DELETE'), 1);
    assert.equal(device.session(), '');
    const afterDelete = await httpRequest({ method: 'GET', url: `${server.baseUrl}/v1/me`, headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(afterDelete.status, 401);

    const again = await device.client.login();
    assert.notEqual(String(again.id), String(user.id));
  });
}
