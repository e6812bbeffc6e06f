'use strict';
// Customer service's side of the console: finding a user (by id, openid, full phone or
// nickname prefix, a phone shown masked only), their detail page, ending their sessions,
// deleting the account, editing roles, and the CSRF check that keeps another site from
// doing any of it with the operator's cookie. Every change is checked where it matters:
// the user's own token on /v1/me, the admin API, and the audit log.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');

const { startServer } = require('../support/server');
const { launchBrowser, openPage, navigatedBy, screenshot } = require('../support/browser');
const { signInOk, searchUsers, statusText, alertText, tableRows, tableNamed, formOf } = require('../support/console');

const OPERATOR = 'e2e-support-desk';

let server;
let browser;
let operatorKey;
let readerKey;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
  operatorKey = await server.createAdminKey(OPERATOR, 'console');
  readerKey = await server.createAdminKey('e2e-reader', 'users:read');
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

async function signedIn() {
  const view = await openPage(browser, server);
  await signInOk(view.page, server, operatorKey);
  return view;
}

async function openUser(page, userId) {
  const response = await page.goto(`${server.baseUrl}/admin/users/${encodeURIComponent(userId)}`);
  assert.equal(response.status(), 200);
  await page.getByRole('heading', { level: 1, name: 'User' }).waitFor();
}

async function meStatus(accessToken) {
  return (await server.call('GET', '/v1/me', { bearer: accessToken })).status;
}

async function adminUser(userId) {
  return server.call('GET', `/admin/v1/users/${encodeURIComponent(userId)}`, { bearer: readerKey });
}

async function audit() {
  const { entries } = await server.callOk('GET', '/admin/v1/audit?limit=200', { bearer: readerKey });
  return entries;
}

function rolesOf(text) {
  return text
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean)
    .sort();
}

test('search by openid, id, full phone and nickname prefix: one row each, the phone masked and never in the page in full', async () => {
  const alice = await server.loginUser('search', { phone: '13812345678', nickname: 'Quokka Search' });
  const view = await signedIn();
  try {
    const { page } = view;
    const queries = [
      ['openid', alice.user.openid],
      ['user id', alice.user.id],
      ['nickname prefix', 'Quokka Se'],
      ['full phone', '13812345678'],
    ];
    // Pages that carry the full number anywhere in their HTML (the results, the search
    // field, a link), checked at the end so that every other check runs first.
    const leaks = [];
    for (const [what, q] of queries) {
      const response = await searchUsers(page, server, q);
      assert.equal(response.status(), 200, `${what}: status`);
      await page.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor();
      for (const name of ['User', 'Openid', 'Phone', 'Nickname', 'Created']) {
        await page.getByRole('columnheader', { name, exact: true }).waitFor();
      }
      const rows = await tableRows(page.getByRole('table'));
      assert.equal(rows.length, 1, `${what}: one result, got ${JSON.stringify(rows)}`);
      const [row] = rows;
      assert.ok(row.includes(alice.user.openid), `${what}: the openid is shown: ${row}`);
      assert.ok(row.some((cell) => cell.endsWith('138****5678')), `${what}: the phone is shown masked: ${row}`);
      assert.ok(row.includes('Quokka Search'), `${what}: the nickname is shown: ${row}`);
      const link = page.getByRole('link', { name: alice.user.id, exact: true });
      assert.equal(new URL(await link.getAttribute('href'), server.baseUrl).pathname, `/admin/users/${alice.user.id}`);
      const html = await page.content();
      const at = html.indexOf('13812345678');
      if (at >= 0) leaks.push(`${what}: …${html.slice(Math.max(0, at - 80), at + 20)}…`);
      if (what === 'nickname prefix') await screenshot(page, 'users-search');
    }

    await searchUsers(page, server, 'nobody-matches-this');
    await page.getByText('No user matches.', { exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: alice.user.id }).count(), 0);
    assert.deepEqual(leaks, [], 'the full phone number appears nowhere in the page HTML');
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('results come in pages: "Next page" leads on until every match was shown once', async () => {
  const made = new Set();
  for (let i = 0; i < 55; i += 1) {
    const { user } = await server.loginUser('pager', { nickname: `Pangolin ${String(i).padStart(2, '0')}` });
    made.add(user.id);
  }
  const view = await signedIn();
  try {
    const { page } = view;
    await searchUsers(page, server, 'Pangolin');
    const seen = [];
    let pages = 1;
    for (;;) {
      const links = await page.getByRole('table').getByRole('link').allInnerTexts();
      seen.push(...links.map((text) => text.trim()));
      const next = page.getByRole('link', { name: 'Next page', exact: true });
      if ((await next.count()) === 0) break;
      await navigatedBy(page, () => next.click());
      pages += 1;
      assert.ok(pages < 60, 'the pages end');
    }
    assert.ok(pages > 1, '55 matches take more than one page');
    assert.equal(seen.length, made.size, 'each match shown once');
    assert.deepEqual(new Set(seen), made);
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('the user page lists identities and sessions; an unknown id is a 404 page', async () => {
  const bob = await server.loginUser('detail', { phone: '13900001111' });
  // A second login of the same WeChat user: a second session.
  const { code } = await server.simulator('/sim/login', { appid: server.appid, user: bob.wechatUser });
  await server.callOk('POST', '/v1/login', { json: { code } });

  const view = await signedIn();
  try {
    const { page } = view;
    await searchUsers(page, server, bob.user.openid);
    await navigatedBy(page, () => page.getByRole('link', { name: bob.user.id, exact: true }).click());
    assert.equal(new URL(page.url()).pathname, `/admin/users/${bob.user.id}`);
    const heading = await page.getByRole('heading', { level: 1 }).innerText();
    assert.ok(heading.startsWith('User') && heading.includes(bob.user.id), `heading: ${heading}`);
    for (const name of ['Identities', 'Sessions', 'Roles']) {
      await page.getByRole('heading', { level: 2, name, exact: true }).waitFor();
    }
    const identities = await tableRows(tableNamed(page, 'Identities'));
    assert.equal(identities.length, 1, `identities: ${JSON.stringify(identities)}`);
    assert.ok(identities[0].includes(server.appid) && identities[0].includes(bob.user.openid), `identity row: ${identities[0]}`);
    const sessions = await tableRows(tableNamed(page, 'Sessions'));
    assert.equal(sessions.length, 2, `sessions: ${JSON.stringify(sessions)}`);
    for (const row of sessions) assert.ok(row.includes(server.appid), `session row names the app: ${row}`);
    await page.getByRole('textbox', { name: 'Roles', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Save roles', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Revoke sessions', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Delete account', exact: true }).waitFor();
    assert.ok(!(await page.content()).includes('13900001111'), 'the full phone number appears nowhere in the page HTML');
    await screenshot(page, 'user-detail');

    const missing = await page.goto(`${server.baseUrl}/admin/users/${randomUUID()}`);
    assert.equal(missing.status(), 404);
    assert.ok((await alertText(page)).length > 0, 'the 404 page says so');
    await view.assertClean();
  } finally {
    await view.close();
  }
});

test('"Revoke sessions" asks first; "Cancel" changes nothing, "Confirm" ends every session: the token gets 401', async () => {
  const carol = await server.loginUser('revoke');
  const view = await signedIn();
  try {
    const { page } = view;
    await openUser(page, carol.user.id);

    await navigatedBy(page, () => page.getByRole('button', { name: 'Revoke sessions', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, `/admin/users/${carol.user.id}/revoke`);
    await page.getByRole('button', { name: 'Confirm', exact: true }).waitFor();
    await screenshot(page, 'confirm');
    await navigatedBy(page, () => page.getByRole('link', { name: 'Cancel', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, `/admin/users/${carol.user.id}`);
    assert.equal(await meStatus(carol.accessToken), 200, 'cancelled: the session goes on');

    await navigatedBy(page, () => page.getByRole('button', { name: 'Revoke sessions', exact: true }).click());
    await navigatedBy(page, () => page.getByRole('button', { name: 'Confirm', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, `/admin/users/${carol.user.id}`);
    assert.equal(await statusText(page), 'Every session of this user has ended.');
    assert.equal(await meStatus(carol.accessToken), 401, 'the revoked access token is refused by /v1/me');
    const user = (await adminUser(carol.user.id)).body;
    assert.equal(user.active_sessions, 0);
    await view.assertClean();

    const revoked = (await audit()).filter((entry) => entry.action === 'user.sessions_revoked' && entry.user_id === carol.user.id);
    assert.equal(revoked.length, 1, 'one user.sessions_revoked audit entry');
    assert.equal(revoked[0].key_name, OPERATOR);
  } finally {
    await view.close();
  }
});

test('"Delete account" + "Confirm": the search finds nothing, the token gets 401, the admin API answers 404', async () => {
  const dave = await server.loginUser('delete', { phone: '13700002222' });
  const view = await signedIn();
  try {
    const { page } = view;
    await openUser(page, dave.user.id);
    await navigatedBy(page, () => page.getByRole('button', { name: 'Delete account', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, `/admin/users/${dave.user.id}/delete`);
    await navigatedBy(page, () => page.getByRole('button', { name: 'Confirm', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, '/admin/users');
    assert.equal(await statusText(page), 'The account was deleted.');

    for (const q of [dave.user.openid, dave.user.id, '13700002222']) {
      await searchUsers(page, server, q);
      await page.getByText('No user matches.', { exact: true }).waitFor();
    }
    assert.equal(await meStatus(dave.accessToken), 401, 'the deleted user\'s token is refused by /v1/me');
    assert.equal((await adminUser(dave.user.id)).status, 404);
    await view.assertClean();

    const deleted = (await audit()).filter((entry) => entry.action === 'user.deleted' && entry.user_id === dave.user.id);
    assert.equal(deleted.length, 1, 'one user.deleted audit entry');
    assert.equal(deleted[0].key_name, OPERATOR);
  } finally {
    await view.close();
  }
});

test('roles: "support,vip" saved shows after a reload and on the admin API; a bad role is refused with an alert', async () => {
  const erin = await server.loginUser('roles');
  const view = await signedIn();
  try {
    const { page } = view;
    await openUser(page, erin.user.id);
    const field = page.getByRole('textbox', { name: 'Roles', exact: true });
    await field.fill('support,vip');
    await navigatedBy(page, () => page.getByRole('button', { name: 'Save roles', exact: true }).click());
    assert.equal(new URL(page.url()).pathname, `/admin/users/${erin.user.id}`);
    assert.equal(await statusText(page), 'Roles saved.');
    await page.reload();
    assert.deepEqual(rolesOf(await page.getByRole('textbox', { name: 'Roles', exact: true }).inputValue()), ['support', 'vip']);
    assert.deepEqual([...(await adminUser(erin.user.id)).body.roles].sort(), ['support', 'vip']);

    await page.getByRole('textbox', { name: 'Roles', exact: true }).fill('Bad Role!');
    const refused = await navigatedBy(page, () => page.getByRole('button', { name: 'Save roles', exact: true }).click());
    assert.equal(refused.status(), 400);
    const alert = await alertText(page);
    assert.ok(alert.length > 0, 'the alert names the rule');
    assert.ok(!alert.includes('Bad Role!'), `the alert names the rule, not the value: ${alert}`);
    assert.deepEqual([...(await adminUser(erin.user.id)).body.roles].sort(), ['support', 'vip'], 'the bad role changed nothing');
    await view.assertClean();

    const changed = (await audit()).filter((entry) => entry.action === 'user.roles_changed' && entry.user_id === erin.user.id);
    assert.equal(changed.length, 1, 'one user.roles_changed audit entry');
    assert.equal(changed[0].key_name, OPERATOR);
  } finally {
    await view.close();
  }
});

test('CSRF: revoke, delete and roles POSTed with the session cookie but a wrong or missing csrf get 403 and change nothing', async () => {
  const frank = await server.loginUser('csrf');
  const view = await signedIn();
  try {
    const { page } = view;
    const forms = {};
    await page.goto(`${server.baseUrl}/admin/users/${frank.user.id}/revoke`);
    forms.revoke = await formOf(page.getByRole('button', { name: 'Confirm', exact: true }));
    await page.goto(`${server.baseUrl}/admin/users/${frank.user.id}/delete`);
    forms.delete = await formOf(page.getByRole('button', { name: 'Confirm', exact: true }));
    await openUser(page, frank.user.id);
    await page.getByRole('textbox', { name: 'Roles', exact: true }).fill('intruder');
    forms.roles = await formOf(page.getByRole('button', { name: 'Save roles', exact: true }));

    for (const [what, form] of Object.entries(forms)) {
      assert.equal(form.method, 'POST', `${what}: a POST form`);
      assert.ok(form.fields.csrf, `${what}: the form carries a csrf field`);
      const { csrf, ...withoutCsrf } = form.fields;
      for (const [how, fields] of [
        ['a wrong csrf', { ...withoutCsrf, csrf: csrf.split('').reverse().join('') + 'x' }],
        ['no csrf', withoutCsrf],
      ]) {
        const answer = await page.request.post(form.action, { form: fields, maxRedirects: 0 });
        assert.equal(answer.status(), 403, `${what} with ${how}`);
        assert.match(await answer.text(), /role="alert"[^>]*>[^<]*expired/, `${what} with ${how}: the page says the form expired`);
      }
    }
    assert.equal(await meStatus(frank.accessToken), 200, 'not revoked');
    const user = await adminUser(frank.user.id);
    assert.equal(user.status, 200, 'not deleted');
    assert.deepEqual(user.body.roles, [], 'roles unchanged');

    // The page in the browser shows the refusal too.
    await page.getByRole('button', { name: 'Save roles', exact: true }).evaluate((button) => {
      button.form.querySelector('input[name="csrf"]').value = 'forged';
    });
    const refused = await navigatedBy(page, () => page.getByRole('button', { name: 'Save roles', exact: true }).click());
    assert.equal(refused.status(), 403);
    assert.match(await alertText(page), /expired/);
    assert.deepEqual((await adminUser(frank.user.id)).body.roles, []);
    await view.assertClean();
  } finally {
    await view.close();
  }
});
