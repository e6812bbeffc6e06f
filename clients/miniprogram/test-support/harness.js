'use strict';
// A simulated phone for the tests: a fake wx bound to one simulated WeChat user, and a
// wxlogin client that uses it.

const path = require('node:path');
const { createFakeWx } = require('./fake-wx');
const { createClient } = require(path.join(__dirname, '..', 'wxlogin.js'));

const STORAGE_KEY = 'wxlogin.session';
let usersMade = 0;

// A WeChat user no other test uses, so tests do not share sessions or rate limits.
function uniqueUser(label) {
  usersMade += 1;
  return `${label}-${process.pid}-${Date.now()}-${usersMade}`;
}

function newDevice(server, label, clientOptions = {}) {
  const user = uniqueUser(label);
  const fake = createFakeWx({ simUrl: server.simUrl, appid: server.appid, user });
  const startClient = (options = clientOptions) =>
    createClient({ baseUrl: server.baseUrl, appid: server.appid, wx: fake.wx, ...options });
  // Copied with their accessors, so that `device.offline = true` reaches the fake.
  const device = Object.defineProperties({}, Object.getOwnPropertyDescriptors(fake));
  return Object.assign(device, {
    user,
    client: startClient(),
    // The app started again on the same phone: a new client on the same storage.
    restart(options) {
      return startClient(options);
    },
    session() {
      return fake.wx.getStorageSync(STORAGE_KEY);
    },
    editSession(change) {
      const session = fake.wx.getStorageSync(STORAGE_KEY);
      change(session);
      fake.wx.setStorageSync(STORAGE_KEY, session);
    },
  });
}

// Makes the client believe its access token is about to expire.
function makeStale(device) {
  device.editSession((session) => {
    session.issued_at = Date.now() - 60000;
    session.expires_at = Date.now() - 1000;
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// For what the client does in the background: resolves once `condition()` holds.
async function waitFor(condition, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

module.exports = { newDevice, uniqueUser, makeStale, sleep, waitFor, STORAGE_KEY };
