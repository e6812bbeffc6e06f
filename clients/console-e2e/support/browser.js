'use strict';
// One headless Debian Chromium per test file, driven by playwright-core (which never
// downloads a browser of its own), and pages that watch themselves: every console error,
// every uncaught page error, every console answer lacking the console's security headers
// and every POST form without its csrf field is recorded, and `assertClean()` fails the
// test on any. A CSP violation is a console error in Chromium, so a page that breaks its
// own policy fails here.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// What the console sends with every answer (console-spec: headers).
const EXPECTED_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
};

// playwright's launch() starts Chromium on a fresh user-data dir of its own (a mkdtemp
// dir it deletes on close); no other network than loopback is reachable, so everything
// that would phone home is off.
function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

// A console page: /admin/ but not the JSON admin API under /admin/v1/.
function isConsoleUrl(server, url) {
  const parsed = new URL(url);
  return (
    parsed.origin === new URL(server.baseUrl).origin &&
    parsed.pathname.startsWith('/admin/') &&
    !parsed.pathname.startsWith('/admin/v1/')
  );
}

// Every header on every console answer, but Cache-Control: no-store on pages only: the
// stylesheet holds nothing of anyone's and may be cached.
function missingHeaders(headers, isDocument) {
  const wrong = [];
  for (const [name, value] of Object.entries(EXPECTED_HEADERS)) {
    if (name === 'cache-control' && !isDocument) continue;
    if (headers[name] !== value) wrong.push(`${name}: ${JSON.stringify(headers[name])} (wanted ${JSON.stringify(value)})`);
  }
  return wrong;
}

/**
 * A fresh browser context (its own cookies) with one watched page, 1200x800 so that
 * screenshots stay small. `locale` also sets Accept-Language.
 */
async function openPage(browser, server, { locale = 'en-US' } = {}) {
  const context = await browser.newContext({ locale, viewport: { width: 1200, height: 800 } });
  // Server-rendered pages on loopback: anything slower than this is a failure to report,
  // not a wait worth 30 s (playwright's default) per locator.
  context.setDefaultTimeout(10000);
  const page = await context.newPage();
  const problems = [];
  // A page the test asked for that answered 4xx (a refused sign-in, a CSRF refusal):
  // Chromium logs "Failed to load resource" for it, which is no fault of the page.
  const refusedDocuments = new Map();
  const headerChecks = [];

  page.on('response', (response) => {
    const request = response.request();
    if (request.isNavigationRequest() && request.frame() === page.mainFrame() && response.status() >= 400) {
      refusedDocuments.set(response.url(), response.status());
    }
    if (isConsoleUrl(server, response.url())) {
      const check = response.allHeaders().then((headers) => {
        const wrong = missingHeaders(headers, request.resourceType() === 'document');
        if (wrong.length) problems.push(`${request.method()} ${response.url()} (${response.status()}) lacks: ${wrong.join('; ')}`);
      });
      headerChecks.push(check.catch(() => {}));
    }
  });
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const failed = message.text().match(/^Failed to load resource: the server responded with a status of (\d+)/);
    if (failed && refusedDocuments.get(message.location().url) === Number(failed[1])) return;
    problems.push(`console error on ${page.url()}: ${message.text()} (at ${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`page error on ${page.url()}: ${error.message}`));
  // Every POST form of every console page carries its CSRF token.
  page.on('load', () => {
    if (!isConsoleUrl(server, page.url())) return;
    const url = page.url();
    const check = page
      .evaluate(() =>
        Array.from(document.forms)
          .filter((form) => form.method === 'post' && !form.querySelector('input[type="hidden"][name="csrf"]'))
          .map((form) => form.getAttribute('action'))
      )
      .then((bare) => {
        for (const action of bare) problems.push(`${url}: a POST form to ${action} has no csrf field`);
      });
    headerChecks.push(check.catch(() => {})); // the page may have moved on already
  });

  return {
    context,
    page,
    problems,
    // No console error, no page error, no answer without the console's headers.
    async assertClean() {
      await Promise.all(headerChecks);
      assert.deepEqual(problems, [], 'the console pages visited logged errors or lacked headers');
    },
    close: () => context.close(),
  };
}

// Does what `action` does (a click that submits or follows a link) and resolves with the
// answer of the page it led to (the last one of a redirect chain).
async function navigatedBy(page, action) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), action()]);
  return response;
}

// With CONSOLE_SCREENSHOTS=DIR, a PNG of what the page shows now, as DIR/NAME.png.
async function screenshot(page, name) {
  const dir = process.env.CONSOLE_SCREENSHOTS;
  if (!dir) return;
  fs.mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`) });
}

module.exports = { launchBrowser, openPage, navigatedBy, screenshot, EXPECTED_HEADERS, isConsoleUrl };
