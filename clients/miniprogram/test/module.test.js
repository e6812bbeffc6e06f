'use strict';
// The module itself, without a server: what it may use in a mini program, its
// declarations, and its handling of wx failures.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const MODULE_PATH = path.join(__dirname, '..', 'wxlogin.js');
const source = fs.readFileSync(MODULE_PATH, 'utf8');
const declarations = fs.readFileSync(path.join(__dirname, '..', 'wxlogin.d.ts'), 'utf8');
const { createClient } = require(MODULE_PATH);

// Only code, not comments, counts.
const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

test('the module needs nothing a mini program lacks: no require, Node globals, fetch, URL, async or console', () => {
  for (const forbidden of [/\brequire\s*\(/, /\bprocess\./, /\bBuffer\b/, /\bfetch\s*\(/, /\basync\b/, /\bawait\b/, /\bconsole\b/, /\bclass\b/, /\bnew URL\b/]) {
    assert.doesNotMatch(code, forbidden);
  }
  assert.match(code, /module\.exports\s*=/);
});

test('the uni-app and Taro adapters are ES5 that needs nothing a mini program lacks, and require only ./wxlogin.js', () => {
  for (const adapter of ['uni.js', 'taro.js', 'index.js']) {
    const adapterCode = fs
      .readFileSync(path.join(__dirname, '..', adapter), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    const required = [...adapterCode.matchAll(/\brequire\s*\(([^)]*)\)/g)].map((match) => match[1].trim());
    assert.deepEqual(required, ["'./wxlogin.js'"], `${adapter} requires ${required.join(', ')}`);
    for (const forbidden of [/\bprocess\./, /\bBuffer\b/, /\bfetch\s*\(/, /\basync\b/, /\bawait\b/, /\bconsole\b/, /\bclass\b/, /\bnew URL\b/, /=>/, /\b(?:let|const)\b/]) {
      assert.doesNotMatch(adapterCode, forbidden, `${adapter} uses ${forbidden}`);
    }
  }
});

test('the TypeScript declarations name every method the client has', () => {
  const client = createClient({ baseUrl: 'https://login.example.com', wx: {} });
  for (const method of Object.keys(client)) {
    assert.match(declarations, new RegExp(`\\b${method}\\(`), `wxlogin.d.ts lacks ${method}()`);
  }
  assert.match(declarations, /export function createClient\(/);
});

test('createClient requires a baseUrl', () => {
  assert.throws(() => createClient({}), TypeError);
});

test('without a wx API, calls reject with no_wx instead of throwing', async () => {
  delete globalThis.wx;
  const client = createClient({ baseUrl: 'https://login.example.com' });
  await assert.rejects(client.login(), { code: 'no_wx' });
  assert.equal(client.isLoggedIn(), false);
});

test('a failing wx.login rejects with wx_login_failed and its errMsg', async () => {
  const storage = new Map();
  const wx = {
    login: ({ fail }) => setImmediate(() => fail({ errMsg: 'login:fail timeout' })),
    request: () => assert.fail('nothing may be sent without a code'),
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
  };
  const client = createClient({ baseUrl: 'https://login.example.com', wx });
  await assert.rejects(client.login(), (error) => error.code === 'wx_login_failed' && /login:fail timeout/.test(error.message));
});

test('request() refuses methods wx.request cannot send, before sending anything', async () => {
  let sent = 0;
  const storage = new Map([
    ['wxlogin.session', { access_token: 'a', refresh_token: 'r', issued_at: Date.now(), expires_at: Date.now() + 600000 }],
  ]);
  const wx = {
    login: () => assert.fail('already logged in'),
    request: () => {
      sent += 1;
    },
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
  };
  const client = createClient({ baseUrl: 'https://login.example.com', wx });
  await assert.rejects(client.request({ url: '/v1/things', method: 'PATCH' }), { code: 'invalid_request' });
  assert.equal(sent, 0);
});

test('error rejections never carry a token in their message', async () => {
  const token = 'secret-access-token-value';
  const storage = new Map([
    ['wxlogin.session', { access_token: token, refresh_token: 'secret-refresh', issued_at: Date.now(), expires_at: Date.now() + 600000 }],
  ]);
  const wx = {
    login: ({ success }) => setImmediate(() => success({ code: 'c' })),
    request: ({ fail }) => setImmediate(() => fail({ errMsg: 'request:fail timeout' })),
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ''),
    setStorageSync: (key, value) => storage.set(key, value),
    removeStorageSync: (key) => storage.delete(key),
  };
  const client = createClient({ baseUrl: 'https://login.example.com', wx });
  await assert.rejects(client.me(), (error) => {
    assert.equal(error.code, 'network_error');
    assert.doesNotMatch(JSON.stringify({ ...error, message: error.message }), /secret/);
    return true;
  });
});
