'use strict';
// Signing in and out of the console with admin keys made by `wxlogin admin-keys create`,
// keys it refuses, the sign-in form's CSRF cookie, and the headers and cookie flags that
// keep the console's pages out of frames, caches and other sites' requests.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../support/server');
const { launchBrowser, openPage, navigatedBy, screenshot, EXPECTED_HEADERS } = require('../support/browser');
const { signIn, signInOk, alertText } = require('../support/console');

let server;
let browser;
let operatorKey;
let auditKey;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  operatorKey = await server.createAdminKey('e2e-operator', 'console');
  auditKey = await server.createAdminKey('e2e-auditor', 'users:read');
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function auditActions(keyName) {
  const { entries } = await server.callOk('GET', '/admin/v1/audit?limit=100', { bearer: auditKey });
  return entries.filter((entry) => entry.key_name === keyName).map((entry) => entry.action);
}

test('without a session /admin/ sends the visitor to the sign-in page, which carries every security header', async () => {
  const home = await fetch(`${server.baseUrl}/admin/`, { redirect: 'manual' });
  assert.equal(home.status, 303);
  assert.equal(new URL(home.headers.get('location'), server.baseUrl).pathname, '/admin/sign-in');

  const signInPage = await fetch(`${server.baseUrl}/admin/sign-in`, { redirect: 'manual' });
  assert.equal(signInPage.status, 200);
  for (const [name, value] of Object.entries(EXPECTED_HEADERS)) {
    assert.equal(signInPage.headers.get(name), value, `${name} of /admin/sign-in`);
  }
  const csrfCookie = signInPage.headers.getSetCookie().find((cookie) => cookie.startsWith('wxlogin_console_csrf='));
  assert.ok(csrfCookie, 'GET /admin/sign-in sets the double-submit cookie wxlogin_console_csrf');
  assert.match(await signInPage.text(), /<input[^>]*name="csrf"/, 'the sign-in form carries a hidden csrf field');

  const view = await openPage(browser, server);
  try {
    await view.page.goto(`${server.baseUrl}/admin/`);
    assert.equal(new URL(view.page.url()).pathname, '/admin/sign-in');
    await view.page.getByRole('heading', { level: 1, name: 'Sign in to wxlogin', exact: true }).waitFor();
    const field = view.page.getByLabel('Admin key', { exact: true });
    assert.equal(await field.getAttribute('type'), 'password', 'the key is typed into a password field');
    assert.equal(await view.page.locator('html').getAttribute('lang'), 'en');
    await screenshot(view.page, 'sign-in');
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('sign in shows the overview with the key name; sign out ends the session so the old cookie leads to the sign-in page', async () => {
  const view = await openPage(browser, server);
  try {
    const { page, context } = view;
    await signInOk(page, server, operatorKey);

    const session = (await context.cookies()).find((cookie) => cookie.name === 'wxlogin_console');
    assert.ok(session, 'signing in sets the wxlogin_console cookie');
    assert.equal(session.httpOnly, true, 'the session cookie is HttpOnly');
    assert.equal(session.sameSite, 'Strict', 'the session cookie is SameSite=Strict');
    assert.equal(session.path, '/admin');
    assert.equal(session.secure, false, 'Secure only when the issuer is https (it is not here)');

    const nav = page.getByRole('navigation');
    for (const name of ['Overview', 'Users', 'Events', 'Keys']) {
      await nav.getByRole('link', { name, exact: true }).waitFor();
    }
    assert.match(await page.locator('body').innerText(), /e2e-operator/, 'the signed-in key name is shown');
    for (const name of ['Logins in the last hour', 'Logins in the last day', 'Upstream errors', 'Upstream latency']) {
      await page.getByRole('heading', { level: 2, name, exact: true }).waitFor();
    }
    for (const name of ['Active sessions', 'Webhook backlog', 'Dead deliveries']) {
      const figure = page.locator('dt', { hasText: name });
      assert.equal(await figure.count(), 1, `one figure "${name}"`);
      const number = await figure.locator('xpath=following-sibling::dd[1]').innerText();
      assert.match(number.trim(), /^\d[\d,.\s]*/, `"${name}" shows a number`);
    }
    assert.ok((await page.locator('svg[role="img"][aria-label]').count()) >= 2, 'the two login charts are labelled SVG images');

    const oldCookies = await context.cookies();
    await navigatedBy(page, () => page.getByRole('button', { name: 'Sign out', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, '/admin/sign-in');
    await page.getByRole('heading', { level: 1, name: 'Sign in to wxlogin', exact: true }).waitFor();

    // Someone who kept a copy of the cookie gets nothing with it.
    const stale = await openPage(browser, server);
    try {
      await stale.context.addCookies(oldCookies);
      await stale.page.goto(`${server.baseUrl}/admin/`);
      assert.equal(new URL(stale.page.url()).pathname, '/admin/sign-in', 'the signed-out cookie leads to the sign-in page');
      await stale.page.getByRole('heading', { level: 1, name: 'Sign in to wxlogin', exact: true }).waitFor();
      await stale.page.goto(`${server.baseUrl}/admin/users`);
      assert.equal(new URL(stale.page.url()).pathname, '/admin/sign-in');
      await stale.assertClean();
    } finally {
      await stale.close();
    }
    await view.assertClean();

    const actions = await auditActions('e2e-operator');
    assert.ok(actions.includes('console.sign_in'), `audit of e2e-operator: ${actions}`);
    assert.ok(actions.includes('console.sign_out'), `audit of e2e-operator: ${actions}`);
  } finally {
    await view.close();
  }
});

test('refused keys: an unknown key, one without the console scope and a revoked one get 401 and the form again', async () => {
  const noConsole = await server.createAdminKey('e2e-reader', 'users:read,users:write');
  const revoked = await server.createAdminKey('e2e-revoked', 'console');
  await server.revokeAdminKey('e2e-revoked');
  const cases = [
    ['an unknown key', 'wxa_' + 'A'.repeat(43), 'This admin key was refused.'],
    ['a key without the console scope', noConsole, 'This admin key lacks the console scope.'],
    ['a revoked key', revoked, 'This admin key was refused.'],
  ];
  const view = await openPage(browser, server);
  try {
    const { page, context } = view;
    for (const [what, key, message] of cases) {
      const response = await signIn(page, server, key);
      assert.equal(response.status(), 401, `${what}: status`);
      assert.equal(await alertText(page), message, `${what}: alert`);
      await page.getByLabel('Admin key', { exact: true }).waitFor();
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      const session = (await context.cookies()).find((cookie) => cookie.name === 'wxlogin_console');
      assert.equal(session, undefined, `${what}: no session cookie`);
      assert.ok(!(await page.content()).includes(key), `${what}: the typed key is not echoed into the page`);
    }
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('CSRF: a sign-in without the csrf cookie, or with a csrf field not matching it, is refused with 403 and no session', async () => {
  const view = await openPage(browser, server);
  try {
    const { page, context } = view;
    await page.goto(`${server.baseUrl}/admin/sign-in`);
    await context.clearCookies();
    await page.getByLabel('Admin key', { exact: true }).fill(operatorKey);
    let response = await navigatedBy(page, () => page.getByRole('button', { name: 'Sign in', exact: true }).click());
    assert.equal(response.status(), 403, 'no csrf cookie');
    assert.match(await alertText(page), /expired/);
    assert.equal((await context.cookies()).find((cookie) => cookie.name === 'wxlogin_console'), undefined);

    await page.goto(`${server.baseUrl}/admin/sign-in`);
    await page.locator('input[name="csrf"]').evaluate((input) => {
      input.value = 'not-the-cookie-value';
    });
    await page.getByLabel('Admin key', { exact: true }).fill(operatorKey);
    response = await navigatedBy(page, () => page.getByRole('button', { name: 'Sign in', exact: true }).click());
    assert.equal(response.status(), 403, 'csrf field not matching the cookie');
    assert.match(await alertText(page), /expired/);
    assert.equal((await context.cookies()).find((cookie) => cookie.name === 'wxlogin_console'), undefined);
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('revoking the admin key ends the console sessions signed in with it', async () => {
  const key = await server.createAdminKey('e2e-leaving', 'console');
  const view = await openPage(browser, server);
  try {
    const { page } = view;
    await signInOk(page, server, key);
    await server.revokeAdminKey('e2e-leaving');
    await page.goto(`${server.baseUrl}/admin/users`);
    assert.equal(new URL(page.url()).pathname, '/admin/sign-in', 'the next page asks to sign in again');
    await page.getByRole('heading', { level: 1, name: 'Sign in to wxlogin', exact: true }).waitFor();
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('with an https issuer both console cookies are Secure', async () => {
  const tls = await startServer({ extraArgs: ['--issuer', 'https://login.example.test'] });
  try {
    const key = await tls.createAdminKey('e2e-tls', 'console');
    const form = await fetch(`${tls.baseUrl}/admin/sign-in`);
    const csrfCookie = form.headers.getSetCookie().find((cookie) => cookie.startsWith('wxlogin_console_csrf='));
    assert.match(csrfCookie, /;\s*Secure/i, csrfCookie);
    const csrf = (await form.text()).match(/name="csrf"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf"/);
    assert.ok(csrf, 'the form carries its csrf value');
    const signedIn = await fetch(`${tls.baseUrl}/admin/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie.split(';')[0] },
      body: new URLSearchParams({ csrf: csrf[1] || csrf[2], key }).toString(),
    });
    assert.equal(signedIn.status, 303);
    const session = signedIn.headers.getSetCookie().find((cookie) => cookie.startsWith('wxlogin_console='));
    assert.ok(session, 'signed in');
    for (const flag of [/;\s*Secure/i, /;\s*HttpOnly/i, /;\s*SameSite=Strict/i, /;\s*Path=\/admin(;|$)/i]) {
      assert.match(session, flag, session);
    }
  } finally {
    await tls.stop();
  }
});
