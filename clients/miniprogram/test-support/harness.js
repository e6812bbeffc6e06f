'use strict';
// A simulated phone for the tests: a fake runtime (wx, uni-app's uni or Taro) bound to one
// simulated WeChat user, and the wxlogin client made for that runtime.

const path = require('node:path');
const { createFakeWx } = require('./fake-wx');
const { createFakeUni } = require('./fake-uni');
const { createFakeTaro } = require('./fake-taro');

const PACKAGE_DIR = path.join(__dirname, '..');
const STORAGE_KEY = 'wxlogin.session';
let usersMade = 0;

// Each runtime: its fake, the module its apps load, and the option that takes its API.
const RUNTIMES = {
  wx: { fake: createFakeWx, api: (fake) => fake.wx, module: 'wxlogin.js', option: 'wx' },
  uni: { fake: createFakeUni, api: (fake) => fake.uni, module: 'uni.js', option: 'uni' },
  taro: { fake: createFakeTaro, api: (fake) => fake.taro, module: 'taro.js', option: 'taro' },
};

// A WeChat user no other test uses, so tests do not share sessions or rate limits.
function uniqueUser(label) {
  usersMade += 1;
  return `${label}-${process.pid}-${Date.now()}-${usersMade}`;
}

// `clientOptions.runtime` ('wx' by default, 'uni' or 'taro') picks the runtime; the rest
// goes to createClient.
function newDevice(server, label, clientOptions = {}) {
  const { runtime: runtimeName = 'wx', ...defaultOptions } = clientOptions;
  const runtime = RUNTIMES[runtimeName];
  if (!runtime) throw new Error(`no such runtime: ${runtimeName}`);
  const { createClient } = require(path.join(PACKAGE_DIR, runtime.module));
  const user = uniqueUser(label);
  const fake = runtime.fake({ simUrl: server.simUrl, appid: server.appid, user });
  const api = runtime.api(fake);
  const startClient = (options = defaultOptions) =>
    createClient({ baseUrl: server.baseUrl, appid: server.appid, [runtime.option]: api, ...options });
  // Copied with their accessors, so that `device.offline = true` reaches the fake.
  const device = Object.defineProperties({}, Object.getOwnPropertyDescriptors(fake));
  return Object.assign(device, {
    user,
    runtime: runtimeName,
    client: startClient(),
    // The app started again on the same phone: a new client on the same storage.
    restart(options) {
      return startClient(options);
    },
    session() {
      return api.getStorageSync(STORAGE_KEY);
    },
    editSession(change) {
      const session = api.getStorageSync(STORAGE_KEY);
      change(session);
      api.setStorageSync(STORAGE_KEY, session);
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

module.exports = { newDevice, uniqueUser, makeStale, sleep, waitFor, STORAGE_KEY, RUNTIMES: Object.keys(RUNTIMES) };
