'use strict';
// The README's first command, `wxlogin serve --sim`, leads straight into the console: it
// prints the console's address and a development key (made once, kept in a 0600 file
// beside the database, the same on every start), and with that key a newcomer finds the
// simulated user they just logged in and ends their sessions.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { startServer, newDatabaseDir } = require('../support/server');
const { launchBrowser, openPage, navigatedBy } = require('../support/browser');
const { signInOk, searchUsers, statusText } = require('../support/console');

let browser;
let dir;

before(async () => {
  browser = await launchBrowser();
  dir = newDatabaseDir();
});

after(async () => {
  if (browser) await browser.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('serve --sim prints the console address and a console key, the same key on the next start', async () => {
  let server = await startServer({ dir });
  let printed;
  try {
    printed = server.consoleLines();
    assert.equal(printed.consoleUrl, `${server.baseUrl}/admin/`, `printed:\n${server.output()}`);
    assert.match(printed.consoleKey || '', /^wxa_/, 'a console key is printed');

    const keyFiles = fs
      .readdirSync(dir)
      .map((name) => path.join(dir, name))
      .filter((file) => fs.statSync(file).isFile() && fs.readFileSync(file, 'utf8').includes(printed.consoleKey));
    assert.equal(keyFiles.length, 1, `one file beside the database keeps the key: ${fs.readdirSync(dir)}`);
    assert.equal(fs.statSync(keyFiles[0]).mode & 0o777, 0o600, `${keyFiles[0]} is 0600`);

    // What the newcomer does next: the `try:` line logs "alice" in; then the console.
    const alice = await server.loginUser('alice');
    const view = await openPage(browser, server);
    try {
      const { page } = view;
      await signInOk(page, server, printed.consoleKey);
      assert.match(await page.locator('body').innerText(), /dev-console/, 'signed in as the key named dev-console');
      await searchUsers(page, server, alice.user.openid);
      await navigatedBy(page, () => page.getByRole('link', { name: alice.user.id, exact: true }).click());
      await navigatedBy(page, () => page.getByRole('button', { name: 'Revoke sessions', exact: true }).click());
      await navigatedBy(page, () => page.getByRole('button', { name: 'Confirm', exact: true }).click());
      assert.equal(await statusText(page), 'Every session of this user has ended.');
      assert.equal((await server.call('GET', '/v1/me', { bearer: alice.accessToken })).status, 401);
      await view.assertClean();
    } finally {
      await view.close();
    }
  } finally {
    await server.stop();
  }

  server = await startServer({ dir });
  try {
    assert.equal(server.consoleLines().consoleKey, printed.consoleKey, 'the next start prints the same key');
  } finally {
    await server.stop();
  }
});
