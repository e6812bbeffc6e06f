'use strict';
// Runs the sample mini program (examples/miniprogram: app.js and its index page) as
// WeChat would, against a real `wxlogin serve --sim`, in the simulator mode its README
// describes: buttons tapped in order, what the page shows checked after each.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const Module = require('node:module');
const path = require('node:path');

const { startServer, REPO_ROOT } = require('../test-support/server');
const { createFakeWx } = require('../test-support/fake-wx');

const PROJECT = path.join(REPO_ROOT, 'examples', 'miniprogram');
const MINI_PROGRAM_GLOBALS = ['wx', 'App', 'Page', 'getApp'];

let server;
let fake;
let saved;

// Loads the project's app.js and the index page with `config.js` pointing at the server.
function launchExample(config) {
  const configPath = path.join(PROJECT, 'config.js');
  const configModule = new Module(configPath);
  configModule.filename = configPath;
  configModule.loaded = true;
  configModule.exports = config;
  require.cache[configPath] = configModule;

  let app = null;
  let pageDefinition = null;
  globalThis.App = (definition) => {
    app = definition;
  };
  globalThis.getApp = () => app;
  globalThis.Page = (definition) => {
    pageDefinition = definition;
  };
  for (const file of ['app.js', 'lib/wxlogin.js', 'lib/simulated-device.js', 'pages/index/index.js']) {
    delete require.cache[path.join(PROJECT, file)];
  }
  require(path.join(PROJECT, 'app.js'));
  require(path.join(PROJECT, 'pages', 'index', 'index.js'));
  assert.ok(app, 'app.js calls App()');
  assert.ok(pageDefinition, 'index.js calls Page()');

  const page = Object.create(pageDefinition);
  page.data = { ...pageDefinition.data };
  page.setData = function setData(patch) {
    Object.assign(this.data, patch);
  };
  if (typeof page.onLoad === 'function') page.onLoad({});
  return { app, page };
}

before(async () => {
  server = await startServer({ accessTokenTtl: 600 });
  saved = Object.fromEntries(MINI_PROGRAM_GLOBALS.map((name) => [name, globalThis[name]]));
  fake = createFakeWx({ simUrl: server.simUrl, appid: server.appid, user: 'not-used' });
  // The simulator knows nothing of real WeChat's codes: the example must not rely on wx.login.
  fake.wx.login = ({ fail }) => setImmediate(() => fail({ errMsg: 'login:fail real WeChat is out of reach here' }));
  globalThis.wx = fake.wx;
});

after(async () => {
  for (const name of MINI_PROGRAM_GLOBALS) {
    if (saved && saved[name] !== undefined) globalThis[name] = saved[name];
    else delete globalThis[name];
  }
  delete require.cache[path.join(PROJECT, 'config.js')];
  if (server) await server.stop();
});

test('the sample mini program logs in, shares a phone number, answers who am I and logs out', async () => {
  const { page } = launchExample({ baseUrl: server.baseUrl, appid: server.appid, simulatorUrl: server.simUrl });
  assert.equal(page.data.loggedIn, false);

  await page.onLogin();
  assert.equal(page.data.status, 'Logged in.');
  assert.equal(page.data.loggedIn, true);
  assert.equal(page.data.user.appid, server.appid);
  const userId = page.data.user.id;

  await page.onWhoAmI();
  assert.equal(page.data.status, `The server knows you as user ${userId}.`);

  // DevTools in tourist mode cannot share a number; the simulator supplies one.
  await page.onGetPhoneNumber({ type: 'getphonenumber', detail: { errMsg: 'getPhoneNumber:fail no permission' } });
  assert.equal(page.data.status, 'Phone number saved.');
  assert.equal(typeof page.data.user.phone_number, 'string');
  assert.ok(page.data.user.phone_number.length > 0);

  await page.onGetPhoneNumber({ type: 'getphonenumber', detail: { errMsg: 'getPhoneNumber:fail user deny' } });
  assert.equal(page.data.status, 'No phone number shared. Tap again whenever you like.');

  await page.onLogout();
  assert.equal(page.data.status, 'Logged out.');
  assert.equal(page.data.user, null);
  assert.equal(page.data.loggedIn, false);
  assert.equal(fake.count('/v1/logout', 'POST'), 1);
});

test('the sample mini program closes the account only after the user confirms; the next login is a new user', async () => {
  const { page } = launchExample({ baseUrl: server.baseUrl, appid: server.appid, simulatorUrl: server.simUrl });
  await page.onLogin();
  const userId = page.data.user.id;
  fake.clearRequests();
  const modalsBefore = fake.modals.length;

  fake.answerModal('cancel');
  await page.onCloseAccount();
  assert.equal(fake.modals.length, modalsBefore + 1, 'a confirmation was shown');
  const dialog = fake.modals[modalsBefore];
  assert.match(dialog.title, /close your account/i);
  assert.match(dialog.content, /cannot be undone/);
  assert.equal(page.data.status, 'Your account stays.');
  assert.equal(page.data.loggedIn, true);
  assert.equal(fake.count('/v1/me', 'DELETE'), 0, 'cancel sends nothing');

  fake.answerModal('confirm');
  await page.onCloseAccount();
  assert.equal(page.data.status, 'Account closed. Logging in again starts a new account.');
  assert.equal(page.data.user, null);
  assert.equal(page.data.loggedIn, false);
  assert.equal(fake.count('/v1/me', 'DELETE'), 1);
  assert.equal(fake.requests.find((r) => r.method === 'DELETE').status, 204);

  await page.onLogin();
  assert.equal(page.data.status, 'Logged in.');
  assert.notEqual(String(page.data.user.id), String(userId), 'a new account');
});

test('the sample mini program keeps its session across launches and tells the user when the server is down', async () => {
  const first = launchExample({ baseUrl: server.baseUrl, appid: server.appid, simulatorUrl: server.simUrl });
  await first.page.onLogin();
  const userId = first.page.data.user.id;

  const relaunched = launchExample({ baseUrl: server.baseUrl, appid: server.appid, simulatorUrl: server.simUrl });
  assert.equal(relaunched.page.data.loggedIn, true);
  assert.equal(relaunched.page.data.user.id, userId);

  const offline = launchExample({ baseUrl: 'http://127.0.0.1:9', appid: server.appid, simulatorUrl: server.simUrl });
  await offline.page.onLogout();
  assert.equal(offline.page.data.status, 'Logged out on this phone; the server will be told at the next start.');
  await offline.page.onWhoAmI();
  assert.match(offline.page.data.status, /server could not be reached/);
});
