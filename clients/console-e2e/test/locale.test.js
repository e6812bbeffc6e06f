'use strict';
// English and Simplified Chinese: the language follows Accept-Language (any zh tag is
// Chinese, anything else English) until the page's switch sets a cookie, which then wins.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../support/server');
const { launchBrowser, openPage, navigatedBy, screenshot } = require('../support/browser');
const { alertText } = require('../support/console');

const ZH = {
  signInHeading: '登录 wxlogin',
  adminKey: '管理密钥',
  signIn: '登录',
};

let server;
let browser;
let operatorKey;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  operatorKey = await server.createAdminKey('e2e-locale', 'console');
  await server.loginUser('locale');
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function htmlLang(page) {
  return page.locator('html').getAttribute('lang');
}

async function signInZh(page) {
  await page.goto(`${server.baseUrl}/admin/`);
  await page.getByRole('heading', { level: 1, name: ZH.signInHeading, exact: true }).waitFor();
  await page.getByLabel(ZH.adminKey, { exact: true }).fill(operatorKey);
  return navigatedBy(page, () => page.getByRole('button', { name: ZH.signIn, exact: true }).click());
}

test('Accept-Language picks the language: zh, zh-CN, zh-Hans are Chinese; others and none are English', async () => {
  const cases = [
    ['zh-CN,zh;q=0.9', 'zh-CN'],
    ['zh', 'zh-CN'],
    ['zh-Hans', 'zh-CN'],
    ['en-US,en;q=0.9', 'en'],
    ['fr-FR', 'en'],
    ['', 'en'],
  ];
  for (const [accepted, lang] of cases) {
    const headers = accepted ? { 'accept-language': accepted } : {};
    const html = await (await fetch(`${server.baseUrl}/admin/sign-in`, { headers })).text();
    assert.match(html, new RegExp(`<html[^>]*\\blang="${lang}"`), `Accept-Language: ${JSON.stringify(accepted)}`);
  }
});

test('a zh-CN browser gets the Chinese console: sign-in, refusal, overview, users', async () => {
  const view = await openPage(browser, server, { locale: 'zh-CN' });
  try {
    const { page } = view;
    await page.goto(`${server.baseUrl}/admin/`);
    assert.equal(await htmlLang(page), 'zh-CN');
    await page.getByLabel(ZH.adminKey, { exact: true }).fill('wxa_' + 'B'.repeat(43));
    const refused = await navigatedBy(page, () => page.getByRole('button', { name: ZH.signIn, exact: true }).click());
    assert.equal(refused.status(), 401);
    assert.equal(await alertText(page), '此管理密钥被拒绝。');

    const response = await signInZh(page);
    assert.equal(response.status(), 200);
    assert.equal(await htmlLang(page), 'zh-CN');
    await page.getByRole('heading', { level: 1, name: '概览', exact: true }).waitFor();
    const nav = page.getByRole('navigation');
    for (const name of ['概览', '用户', '事件', '密钥']) await nav.getByRole('link', { name, exact: true }).waitFor();
    await page.getByRole('button', { name: '退出登录', exact: true }).waitFor();
    for (const name of ['最近一小时的登录', '最近一天的登录', '上游错误', '上游延迟']) {
      await page.getByRole('heading', { level: 2, name, exact: true }).waitFor();
    }
    for (const name of ['活跃会话', 'Webhook 积压', '失败的投递']) {
      assert.equal(await page.locator('dt', { hasText: name }).count(), 1, `figure ${name}`);
    }
    await screenshot(page, 'overview-zh');

    await navigatedBy(page, () => nav.getByRole('link', { name: '用户', exact: true }).click());
    await page.getByRole('heading', { level: 1, name: '用户', exact: true }).waitFor();
    await page.getByRole('searchbox', { name: '搜索用户', exact: true }).fill('没有这个人');
    await navigatedBy(page, () => page.getByRole('button', { name: '搜索', exact: true }).click());
    await page.getByText('没有匹配的用户。', { exact: true }).waitFor();
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('the 中文 / English switch changes the language of the page being read, and the choice outlives Accept-Language', async () => {
  const view = await openPage(browser, server, { locale: 'en-US' });
  try {
    const { page, context } = view;
    await page.goto(`${server.baseUrl}/admin/`);
    await page.getByLabel('Admin key', { exact: true }).fill(operatorKey);
    await navigatedBy(page, () => page.getByRole('button', { name: 'Sign in', exact: true }).click());
    await navigatedBy(page, () => page.getByRole('navigation').getByRole('link', { name: 'Users', exact: true }).click());
    await page.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor();

    await navigatedBy(page, () => page.getByRole('link', { name: '中文', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, '/admin/users', 'back on the page the switch was pressed on');
    assert.equal(await htmlLang(page), 'zh-CN');
    await page.getByRole('heading', { level: 1, name: '用户', exact: true }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'wxlogin_console_lang');
    assert.equal(cookie && cookie.value, 'zh');

    await navigatedBy(page, () => page.getByRole('navigation').getByRole('link', { name: '密钥', exact: true }).click());
    await page.getByRole('heading', { level: 1, name: '密钥', exact: true }).waitFor();

    await navigatedBy(page, () => page.getByRole('link', { name: 'English', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, '/admin/keys');
    assert.equal(await htmlLang(page), 'en');
    await page.getByRole('heading', { level: 1, name: 'Keys', exact: true }).waitFor();
    await view.assertClean();
  } finally {
    await view.close();
  }

  // English chosen in a zh-CN browser stays English on the next pages.
  const zh = await openPage(browser, server, { locale: 'zh-CN' });
  try {
    await signInZh(zh.page);
    await navigatedBy(zh.page, () => zh.page.getByRole('link', { name: 'English', exact: true }).click());
    assert.equal(await htmlLang(zh.page), 'en');
    await zh.page.goto(`${server.baseUrl}/admin/users`);
    assert.equal(await htmlLang(zh.page), 'en');
    await zh.page.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor();
    await zh.assertClean();
  } finally {
    await zh.close();
  }
});

test('the switch sends the reader back only to a console page, never to another site', async () => {
  for (const back of ['https://evil.example/admin/', '//evil.example/admin/', '/\\evil.example/admin/', '/v1/me', 'javascript:alert(1)']) {
    const answer = await fetch(`${server.baseUrl}/admin/lang?to=zh&back=${encodeURIComponent(back)}`, { redirect: 'manual' });
    assert.ok(answer.status >= 300 && answer.status < 400, `back=${back}: a redirect (${answer.status})`);
    const target = new URL(answer.headers.get('location'), server.baseUrl);
    assert.equal(target.origin, new URL(server.baseUrl).origin, `back=${back}: stays on this server`);
    assert.ok(target.pathname.startsWith('/admin/'), `back=${back}: to a console page, got ${target}`);
  }
});
