'use strict';
// Guessing admin keys through the sign-in form: more than five refused sign-ins a minute
// from one address are answered 429.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startServer } = require('../support/server');
const { launchBrowser, openPage } = require('../support/browser');
const { signIn, alertText } = require('../support/console');

let server;
let browser;

before(async () => {
  [server, browser] = await Promise.all([startServer(), launchBrowser()]);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
});

test('five refused sign-ins get 401; the sixth is refused with 429 "Too many refused sign-ins"', async () => {
  const view = await openPage(browser, server);
  try {
    const { page } = view;
    // The six tries must fall into one minute, should the count be kept per clock minute:
    // near the end of one, start at the next.
    const secondsIntoMinute = (Date.now() / 1000) % 60;
    if (secondsIntoMinute > 50) await new Promise((resolve) => setTimeout(resolve, (60.5 - secondsIntoMinute) * 1000));
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const response = await signIn(page, server, `wxa_guess${attempt}${'x'.repeat(38)}`);
      assert.equal(response.status(), 401, `refusal ${attempt}`);
      assert.equal(await alertText(page), 'This admin key was refused.');
    }
    const limited = await signIn(page, server, `wxa_guess6${'x'.repeat(38)}`);
    assert.equal(limited.status(), 429, 'the sixth refused sign-in within a minute');
    assert.match(await alertText(page), /^Too many refused sign-ins/);
    await page.getByLabel('Admin key', { exact: true }).waitFor();
    await view.assertClean();
  } finally {
    await view.close();
  }
});
