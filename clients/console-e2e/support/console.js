'use strict';
// What an operator does in the console, by the accessible names of console-spec.md, so
// that the tests read as the steps a person takes.

const assert = require('node:assert/strict');
const { navigatedBy } = require('./browser');

const EN = {
  signInHeading: 'Sign in to wxlogin',
  adminKey: 'Admin key',
  signIn: 'Sign in',
  signOut: 'Sign out',
  searchUsers: 'Search users',
  search: 'Search',
};

// Opens /admin/ (which sends a visitor without a session to the sign-in page), types the
// key and presses "Sign in". Resolves with the answer of the page it led to.
async function signIn(page, server, key, texts = EN) {
  await page.goto(`${server.baseUrl}/admin/`);
  await page.getByRole('heading', { level: 1, name: texts.signInHeading }).waitFor();
  await page.getByLabel(texts.adminKey, { exact: true }).fill(key);
  return navigatedBy(page, () => page.getByRole('button', { name: texts.signIn, exact: true }).click());
}

async function signInOk(page, server, key) {
  const response = await signIn(page, server, key);
  assert.equal(response.status(), 200, `signing in answered ${response.status()}`);
  assert.equal(new URL(page.url()).pathname, '/admin/');
  await page.getByRole('heading', { level: 1, name: 'Overview', exact: true }).waitFor();
}

// The users page, searched for `q`; resolves with the answer.
async function searchUsers(page, server, q) {
  if (new URL(page.url()).pathname !== '/admin/users') {
    await navigatedBy(page, () => page.getByRole('navigation').getByRole('link', { name: 'Users', exact: true }).click());
  }
  await page.getByRole('searchbox', { name: EN.searchUsers, exact: true }).fill(q);
  return navigatedBy(page, () => page.getByRole('button', { name: EN.search, exact: true }).click());
}

// The `role=status` / `role=alert` text of the page shown now.
async function statusText(page) {
  return (await page.getByRole('status').innerText()).trim();
}

async function alertText(page) {
  return (await page.getByRole('alert').innerText()).trim();
}

// The body rows of the table `scope` (a locator), each as the texts of its cells.
async function tableRows(scope) {
  return scope.getByRole('row').evaluateAll((rows) =>
    rows
      .filter((row) => row.querySelector('td'))
      .map((row) => Array.from(row.querySelectorAll('td,th')).map((cell) => cell.textContent.trim()))
  );
}

module.exports = { EN, signIn, signInOk, searchUsers, statusText, alertText, tableRows };

// The table named `name`: by its caption or aria-label, or else the first table after the
// `<h2>` of that name (a section's heading).
function tableNamed(page, name) {
  const literal = JSON.stringify(name).replace(/^"|"$/g, "'");
  return page
    .locator(
      `xpath=//table[normalize-space(caption)=${literal} or @aria-label=${literal}] | //h2[normalize-space()=${literal}]/following::table[1]`
    )
    .first();
}

module.exports.tableNamed = tableNamed;

// What the form of `button` would send: its absolute action, method and fields (the
// hidden csrf among them), read from the page as the browser would submit it.
function formOf(button) {
  return button.evaluate((element) => {
    const form = element.form || element.closest('form');
    const fields = {};
    for (const [name, value] of new FormData(form)) fields[name] = String(value);
    return { action: form.action, method: (form.getAttribute('method') || 'get').toUpperCase(), fields };
  });
}

module.exports.formOf = formOf;
