'use strict';
// bindPhoneNumber() with the events a <button open-type="getPhoneNumber"> delivers, the
// phone data minted by the simulator's device side (POST /sim/phone).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../test-support/server');
const { postJsonOk } = require('../test-support/http');
const { newDevice } = require('../test-support/harness');

let server;

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
});

after(async () => {
  if (server) await server.stop();
});

// What WeChat hands the page when the user taps "allow": code, encryptedData and iv.
function tapAllow(device, phone) {
  return postJsonOk(`${server.simUrl}/sim/phone`, { appid: server.appid, user: device.user, phone });
}

test('phone by code: event.detail.code is sent, the number is stored on the user', async () => {
  const device = newDevice(server, 'phone-code');
  await device.client.login();
  const minted = await tapAllow(device, '13912345678');
  device.clearRequests();

  const phone = await device.client.bindPhoneNumber({
    type: 'getphonenumber',
    detail: { errMsg: 'getPhoneNumber:ok', code: minted.code, encryptedData: minted.encrypted_data, iv: minted.iv },
  });

  assert.equal(phone.pure_phone_number, '13912345678');
  assert.equal(phone.country_code, '86');
  assert.ok(phone.phone_number.endsWith('13912345678'));
  assert.equal(device.count('/v1/me/phone', 'POST'), 1);
  assert.equal((await device.client.me()).phone_number, phone.phone_number);
  assert.equal(device.client.currentUser().phone_number, phone.phone_number);
});

test('legacy phone: without a code, encryptedData and iv are sent and decrypted by the server', async () => {
  const device = newDevice(server, 'phone-legacy');
  await device.client.login();
  const minted = await tapAllow(device, '13700001111');

  const phone = await device.client.bindPhoneNumber({
    detail: { errMsg: 'getPhoneNumber:ok', encryptedData: minted.encrypted_data, iv: minted.iv },
  });

  assert.equal(phone.pure_phone_number, '13700001111');
  assert.equal((await device.client.me()).phone_number, phone.phone_number);
  assert.equal(device.stats.logins, 1);
});

test('legacy data encrypted with a rotated session key: decrypt_failed, a fresh wx.login, "tap again"', async () => {
  const device = newDevice(server, 'phone-rotated');
  await device.client.login();
  const minted = await tapAllow(device, '13600002222');
  // Logging in again rotates the session key on WeChat's side and the server's.
  await device.client.login();
  assert.equal(device.stats.logins, 2);

  await assert.rejects(
    device.client.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok', encryptedData: minted.encrypted_data, iv: minted.iv } }),
    (error) => {
      assert.equal(error.code, 'decrypt_failed');
      assert.equal(error.status, 400);
      assert.equal(error.tapAgain, true);
      assert.match(error.message, /tap the button again/);
      return true;
    }
  );
  assert.equal(device.stats.logins, 3, 're-logged in so that the next tap uses the current key');

  const retapped = await tapAllow(device, '13600002222');
  const phone = await device.client.bindPhoneNumber({
    detail: { errMsg: 'getPhoneNumber:ok', encryptedData: retapped.encrypted_data, iv: retapped.iv },
  });
  assert.equal(phone.pure_phone_number, '13600002222');
});

test('user deny rejects with user_denied and sends nothing', async () => {
  const device = newDevice(server, 'phone-deny');
  await device.client.login();
  device.clearRequests();
  await assert.rejects(
    device.client.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail user deny' } }),
    (error) => error instanceof Error && error.code === 'user_denied' && /declined/.test(error.message)
  );
  assert.equal(device.requests.length, 0);
});

test('an exhausted phone-number quota (errno 1400001) rejects with phone_quota_exhausted', async () => {
  const device = newDevice(server, 'phone-quota');
  await assert.rejects(
    device.client.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 } }),
    { code: 'phone_quota_exhausted' }
  );
  assert.equal(device.requests.length, 0);
});

test('an event with neither code nor encryptedData rejects with invalid_request', async () => {
  const device = newDevice(server, 'phone-empty');
  await assert.rejects(device.client.bindPhoneNumber({ detail: { errMsg: 'getPhoneNumber:ok' } }), {
    code: 'invalid_request',
  });
  assert.equal(device.requests.length, 0);
});

test('a phone code used twice is refused with the server error code', async () => {
  const device = newDevice(server, 'phone-twice');
  await device.client.login();
  const minted = await tapAllow(device, '13500003333');
  const event = { detail: { errMsg: 'getPhoneNumber:ok', code: minted.code } };
  await device.client.bindPhoneNumber(event);
  await assert.rejects(device.client.bindPhoneNumber(event), (error) => {
    assert.equal(error.status >= 400, true);
    assert.notEqual(error.code, 'http_error', 'the server error code is passed through');
    return true;
  });
});
