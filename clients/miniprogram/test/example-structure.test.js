'use strict';
// The sample project in examples/miniprogram is one WeChat DevTools can open: a valid
// project.config.json, every page in app.json with its four files, requires that stay
// inside the project, handlers that exist, and an up-to-date copy of wxlogin.js.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { REPO_ROOT } = require('../test-support/server');

const PROJECT = path.join(REPO_ROOT, 'examples', 'miniprogram');
const readJson = (relative) => JSON.parse(fs.readFileSync(path.join(PROJECT, relative), 'utf8'));
const isFile = (file) => fs.existsSync(file) && fs.statSync(file).isFile();

function projectFiles(dir, extension) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...projectFiles(full, extension));
    else if (entry.name.endsWith(extension)) found.push(full);
  }
  return found;
}

function appJson() {
  return readJson('app.json');
}

test('project.config.json parses and names the project root, an appid and the mini program compile type', () => {
  const config = readJson('project.config.json');
  assert.equal(typeof config.appid, 'string');
  assert.ok(config.appid.length > 0);
  assert.equal(config.compileType, 'miniprogram');
  assert.equal(typeof config.miniprogramRoot, 'string');
  const root = path.join(PROJECT, config.miniprogramRoot);
  assert.ok(isFile(path.join(root, 'app.json')), 'app.json sits in miniprogramRoot');
  assert.equal(config.setting.urlCheck, false, 'local development needs "do not verify domain"');
});

test('app.json lists pages, each with its .js, .json, .wxml and .wxss', () => {
  const app = appJson();
  assert.ok(Array.isArray(app.pages) && app.pages.length > 0);
  for (const page of app.pages) {
    for (const extension of ['.js', '.json', '.wxml', '.wxss']) {
      assert.ok(isFile(path.join(PROJECT, page + extension)), `${page}${extension} is missing`);
    }
    JSON.parse(fs.readFileSync(path.join(PROJECT, `${page}.json`), 'utf8'));
  }
  for (const file of ['app.js', 'app.wxss']) assert.ok(isFile(path.join(PROJECT, file)), `${file} is missing`);
  if (app.sitemapLocation) readJson(app.sitemapLocation);
});

test('lib/wxlogin.js is an exact copy of clients/miniprogram/wxlogin.js', () => {
  const original = fs.readFileSync(path.join(REPO_ROOT, 'clients', 'miniprogram', 'wxlogin.js'));
  const copy = fs.readFileSync(path.join(PROJECT, 'lib', 'wxlogin.js'));
  assert.ok(
    original.equals(copy),
    'examples/miniprogram/lib/wxlogin.js differs: cp clients/miniprogram/wxlogin.js examples/miniprogram/lib/wxlogin.js'
  );
});

test('every require() in the project is relative and resolves to a file inside the project', () => {
  const scripts = projectFiles(PROJECT, '.js');
  assert.ok(scripts.length > 0);
  for (const script of scripts) {
    const source = fs.readFileSync(script, 'utf8');
    for (const [, target] of source.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      assert.match(target, /^\.\.?\//, `${path.relative(PROJECT, script)} requires "${target}", not a relative path`);
      let resolved = path.resolve(path.dirname(script), target);
      if (!resolved.endsWith('.js')) resolved += '.js';
      assert.ok(isFile(resolved), `${path.relative(PROJECT, script)} requires missing ${target}`);
      assert.ok(!path.relative(PROJECT, resolved).startsWith('..'), `${target} is outside the project`);
    }
  }
});

// Tags open and close in order (mini program WXML is XML-strict about this).
function assertBalancedTags(wxml, name) {
  const stack = [];
  const withoutComments = wxml.replace(/<!--[\s\S]*?-->/g, '');
  for (const [tag, closing, tagName, selfClosing] of withoutComments.matchAll(/<(\/?)([a-zA-Z][\w-]*)(?:"[^"]*"|'[^']*'|[^'">])*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (closing) {
      const open = stack.pop();
      assert.equal(open, tagName, `${name}: ${tag} closes <${open}>`);
    } else {
      stack.push(tagName);
    }
  }
  assert.deepEqual(stack, [], `${name}: unclosed tags`);
}

test('each page has balanced WXML whose event handlers exist on its Page definition', () => {
  for (const page of appJson().pages) {
    const wxml = fs.readFileSync(path.join(PROJECT, `${page}.wxml`), 'utf8');
    assertBalancedTags(wxml, `${page}.wxml`);
    const handlers = [...wxml.matchAll(/\s(?:bind|catch|capture-bind|capture-catch):?[a-z]+="([^"{}]+)"/g)].map((m) => m[1]);
    assert.ok(handlers.length > 0, `${page}.wxml binds no handlers`);

    let definition = null;
    const globalsBefore = { Page: globalThis.Page, getApp: globalThis.getApp };
    globalThis.Page = (object) => {
      definition = object;
    };
    globalThis.getApp = () => ({});
    try {
      const file = path.join(PROJECT, `${page}.js`);
      delete require.cache[require.resolve(file)];
      require(file);
    } finally {
      globalThis.Page = globalsBefore.Page;
      globalThis.getApp = globalsBefore.getApp;
    }
    assert.ok(definition, `${page}.js does not call Page()`);
    for (const handler of handlers) assert.equal(typeof definition[handler], 'function', `${page}.js lacks ${handler}()`);
  }
});

test('the index page offers log in, share phone number (open-type getPhoneNumber), who am I and close account', () => {
  const wxml = fs.readFileSync(path.join(PROJECT, 'pages', 'index', 'index.wxml'), 'utf8');
  assert.match(wxml, /<button[^>]*type="warn"[^>]*bindtap="onCloseAccount"[^>]*>Close account<\/button>/);
  assert.match(wxml, /<button[^>]*bindtap="onLogin"[^>]*>Log in<\/button>/);
  assert.match(wxml, /<button[^>]*open-type="getPhoneNumber"[^>]*bindgetphonenumber="onGetPhoneNumber"[^>]*>Share phone number<\/button>/);
  assert.match(wxml, /<button[^>]*bindtap="onWhoAmI"[^>]*>Who am I<\/button>/);
});
