'use strict';
// The operator pages beyond users: the overview's figures after real logins (and refused
// codes), the events page with its webhook deliveries (to a hook that answers 500), and
// the keys page: rotating the signing key, creating an admin key that is shown once and
// works on the admin API, and revoking it. Each action is in the audit log under the key.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { execFileSync } = require('node:child_process');

const { startServer } = require('../support/server');
const { launchBrowser, openPage, navigatedBy, screenshot } = require('../support/browser');
const { signInOk, tableRows, tableNamed } = require('../support/console');

const OPERATOR = 'e2e-ops';

function hasSqlite3() {
  try {
    execFileSync('sqlite3', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let server;
let browser;
let hook;
let hookCalls = 0;
let operatorKey;
let readerKey;

before(async () => {
  // A webhook receiver that is down for maintenance: every delivery fails and is retried.
  hook = http.createServer((request, response) => {
    hookCalls += 1;
    request.resume();
    response.writeHead(500).end('down for maintenance');
  });
  await new Promise((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const hookUrl = `http://127.0.0.1:${hook.address().port}/wxlogin-events`;
  [server, browser] = await Promise.all([
    startServer({ extraArgs: ['--webhook-url', hookUrl, '--webhook-secret', 'e2e-webhook-secret-0123456789abcdef', '--webhook-poll-interval-ms', '100'] }),
    launchBrowser(),
  ]);
  operatorKey = await server.createAdminKey(OPERATOR, 'console');
  readerKey = await server.createAdminKey('e2e-reader', 'users:read');
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (hook) await new Promise((resolve) => hook.close(resolve));
});

async function signedIn() {
  const view = await openPage(browser, server);
  await signInOk(view.page, server, operatorKey);
  return view;
}

async function auditOf(action) {
  const { entries } = await server.callOk('GET', '/admin/v1/audit?limit=200', { bearer: readerKey });
  return entries.filter((entry) => entry.action === action);
}

async function kids(page) {
  return (await tableRows(tableNamed(page, 'Signing keys'))).map((row) => row[0]);
}

test('overview after real logins and refused codes: figures and charts; the events page lists user.created and the failing deliveries', async () => {
  const users = [];
  for (const label of ['overview-a', 'overview-b', 'overview-c']) users.push(await server.loginUser(label));
  for (let i = 0; i < 2; i += 1) {
    const refused = await server.call('POST', '/v1/login', { json: { code: `not-a-real-code-${i}` } });
    assert.equal(refused.status, 400, 'WeChat refuses a made-up code (40029)');
  }
  const deadline = Date.now() + 10000;
  while (hookCalls === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(hookCalls > 0, 'the webhook was tried');

  const view = await signedIn();
  try {
    const { page } = view;
    const active = page.locator('dt', { hasText: 'Active sessions' }).locator('xpath=following-sibling::dd[1]');
    assert.ok(Number((await active.innerText()).replace(/\D/g, '')) >= 3, 'three users hold a session');
    assert.ok((await page.locator('svg[role="img"][aria-label]').count()) >= 2, 'the login charts');
    await screenshot(page, 'overview');

    await navigatedBy(page, () => page.getByRole('navigation').getByRole('link', { name: 'Events', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, '/admin/events');
    await page.getByRole('heading', { level: 1, name: 'Events and webhooks', exact: true }).waitFor();
    const events = await tableRows(tableNamed(page, 'Recent events'));
    for (const { user } of users) {
      assert.ok(
        events.some((row) => row.includes('user.created') && row.some((cell) => cell.includes(user.id))),
        `user.created of ${user.id} among ${JSON.stringify(events)}`
      );
    }
    const deliveries = await tableRows(tableNamed(page, 'Webhook deliveries'));
    assert.ok(deliveries.length > 0, 'the failing deliveries are listed');
    assert.ok(
      deliveries.some((row) => row.some((cell) => cell.includes('/wxlogin-events'))),
      `a delivery names its url: ${JSON.stringify(deliveries)}`
    );
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('"Rotate signing key" + "Confirm" adds a signing key; the JWKS publishes it', async () => {
  const view = await signedIn();
  try {
    const { page } = view;
    await navigatedBy(page, () => page.getByRole('navigation').getByRole('link', { name: 'Keys', exact: true }).click());
    await page.getByRole('heading', { level: 1, name: 'Keys', exact: true }).waitFor();
    const before = await kids(page);
    assert.ok(before.length >= 1, `signing keys: ${before}`);

    await navigatedBy(page, () => page.getByRole('button', { name: 'Rotate signing key', exact: true }).click());
    await navigatedBy(page, () => page.getByRole('button', { name: 'Confirm', exact: true }).click());
    await page.getByRole('heading', { level: 1, name: 'Keys', exact: true }).waitFor();
    const afterRotation = await kids(page);
    const added = afterRotation.filter((kid) => !before.includes(kid));
    assert.equal(added.length, 1, `one new kid: before ${before}, after ${afterRotation}`);
    const jwks = await server.callOk('GET', '/.well-known/jwks.json');
    assert.ok(jwks.keys.some((key) => key.kid === added[0]), 'the new key is in the JWKS');
    await view.assertClean();

    const rotated = await auditOf('signing_key.rotated');
    assert.equal(rotated.length, 1);
    assert.equal(rotated[0].key_name, OPERATOR);
  } finally {
    await view.close();
  }
});

test('"Create key" shows the new admin key once, it works on the admin API; "Revoke" + "Confirm" ends it', async () => {
  const name = 'made-in-console';
  const view = await signedIn();
  try {
    const { page } = view;
    await page.goto(`${server.baseUrl}/admin/keys`);
    await screenshot(page, 'keys');
    await page.getByRole('heading', { name: 'Create an admin key', exact: true }).waitFor();
    for (const scope of ['users:read', 'users:write', 'events:read', 'tokens:introspect', 'console']) {
      await page.getByRole('checkbox', { name: scope, exact: true }).waitFor();
    }
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill(name);
    await page.getByRole('checkbox', { name: 'users:read', exact: true }).check();
    await page.getByRole('checkbox', { name: 'events:read', exact: true }).check();
    await navigatedBy(page, () => page.getByRole('button', { name: 'Create key', exact: true }).click());
    const shown = (await page.getByTestId('new-admin-key').innerText()).trim();
    assert.match(shown, /^wxa_[A-Za-z0-9_-]+$/, `the new key: ${shown}`);
    await page.getByText('Shown only now').waitFor();

    assert.equal((await server.call('GET', '/admin/v1/users?q=nobody', { bearer: shown })).status, 200, 'users:read works');
    assert.equal((await server.call('GET', '/admin/v1/events?limit=1', { bearer: shown })).status, 200, 'events:read works');
    assert.equal(
      (await server.call('POST', '/admin/v1/users/nobody/revoke', { bearer: shown })).status,
      403,
      'users:write was not given'
    );

    await page.goto(`${server.baseUrl}/admin/keys`);
    assert.ok(!(await page.content()).includes(shown), 'the key is shown only once');
    const row = tableNamed(page, 'Admin keys').getByRole('row').filter({ hasText: name });
    assert.equal(await row.count(), 1);
    const cells = (await row.innerText()).replace(/\s+/g, ' ');
    assert.ok(cells.includes('users:read') && cells.includes('events:read'), `scopes listed: ${cells}`);

    // "Revoke", or "Revoke <name>" where the button's label names the key it revokes.
    await navigatedBy(page, () => row.getByRole('button', { name: /^Revoke\b/ }).click());
    await navigatedBy(page, () => page.getByRole('button', { name: 'Confirm', exact: true }).click());
    await page.getByRole('heading', { level: 1, name: 'Keys', exact: true }).waitFor();
    assert.equal(await tableNamed(page, 'Admin keys').getByRole('row').filter({ hasText: name }).count(), 0, 'gone from the list');
    assert.equal((await server.call('GET', '/admin/v1/users?q=nobody', { bearer: shown })).status, 401, 'the revoked key is refused');
    await view.assertClean();

    for (const action of ['admin_key.created', 'admin_key.revoked']) {
      const entries = await auditOf(action);
      assert.equal(entries.length, 1, `one ${action}`);
      assert.equal(entries[0].key_name, OPERATOR);
    }
  } finally {
    await view.close();
  }
});

test('a dead delivery (24 h of failures) shows on the overview and has "Retry", which sends it again', {
  skip: !hasSqlite3() && 'needs the sqlite3 command (apt-get install sqlite3; .ci/run installs it)',
}, async () => {
  await server.loginUser('webhook-dead');
  const waitFor = async (what, condition) => {
    const deadline = Date.now() + 10000;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  // 24 h of failures, played fast: every pending delivery is due now and past its give-up
  // time, so the server's own worker marks each dead at its next failed attempt.
  await server.sql("UPDATE webhook_deliveries SET next_attempt_at = 0, give_up_at = 0 WHERE status = 'pending'");
  const deadCount = async () => Number(await server.sql("SELECT count(*) FROM webhook_deliveries WHERE status = 'dead'"));
  await waitFor('dead deliveries', async () => (await deadCount()) > 0 && (await server.sql("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")) === '0');
  const dead = await deadCount();

  const view = await signedIn();
  try {
    const { page } = view;
    const figure = page.locator('dt', { hasText: 'Dead deliveries' }).locator('xpath=following-sibling::dd[1]');
    assert.equal(Number((await figure.innerText()).trim()), dead, 'the overview counts the dead deliveries');

    await page.goto(`${server.baseUrl}/admin/events`);
    const table = tableNamed(page, 'Webhook deliveries');
    const retry = table.getByRole('button', { name: 'Retry', exact: true });
    assert.equal(await retry.count(), dead, 'each dead delivery has "Retry"');
    await screenshot(page, 'events');
    const callsBefore = hookCalls;
    await navigatedBy(page, () => retry.first().click());
    assert.equal(new URL(page.url()).pathname, '/admin/events');
    assert.equal(await tableNamed(page, 'Webhook deliveries').getByRole('button', { name: 'Retry', exact: true }).count(), dead - 1);
    await waitFor('the retried delivery to be sent', async () => hookCalls > callsBefore);
    assert.equal(await deadCount(), dead - 1, 'one delivery is pending again (its retry failed, with a new retry period)');
    await view.assertClean();

    const retried = await auditOf('webhook.retried');
    assert.equal(retried.length, 1);
    assert.equal(retried[0].key_name, OPERATOR);
  } finally {
    await view.close();
  }
});
