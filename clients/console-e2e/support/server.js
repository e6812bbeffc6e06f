'use strict';
// A real `wxlogin serve --sim` for one test file: a loopback port picked by the server, a
// throw-away SQLite database, and what a test needs around it: admin keys made with the
// real `wxlogin admin-keys` command on the same database, simulated users logged in
// through the real /v1/login (codes from the simulator's device side), phones bound
// through /sim/phone + /v1/me/phone, and plain HTTP calls to the API.

const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// How to find the binary and which environment to give it: the mini program kit's test
// support says it once for every suite that spawns a server.
const {
  wxloginBinary,
  environmentWithoutWxlogin,
  REPO_ROOT,
} = require('../../miniprogram/test-support/server');

const STARTUP_TIMEOUT_MS = 60000;

function runWxlogin(args) {
  return new Promise((resolve, reject) => {
    execFile(wxloginBinary(), args, { env: environmentWithoutWxlogin(), timeout: 30000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`wxlogin ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

let usersMade = 0;

// A WeChat user no other test uses.
function uniqueUser(label) {
  usersMade += 1;
  return `${label}-${process.pid}-${usersMade}`;
}

function newDatabaseDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-console-e2e-'));
}

/**
 * Resolves with the server's addresses (baseUrl, simUrl, appid, and the console lines
 * `consoleUrl` / `consoleKey` when this build prints them) and the helpers below.
 */
async function startServer({ extraArgs = [], dir: keptDir } = {}) {
  const binary = wxloginBinary();
  if (!fs.existsSync(binary)) {
    throw new Error(`wxlogin binary not found at ${binary}: run \`cargo build -p wxlogin\` or set WXLOGIN_BIN`);
  }
  // A caller that passes `dir` starts again on the same database and removes it itself.
  const dir = keptDir || newDatabaseDir();
  const databaseUrl = `sqlite://${path.join(dir, 'console.db')}`;
  const args = [
    'serve',
    '--sim',
    '--listen',
    '127.0.0.1:0',
    '--database-url',
    databaseUrl,
    // Every simulated user logs in from 127.0.0.1: the per-address login limits would count
    // the whole file as one client. The console's own sign-in limit is not one of these.
    '--rate-limit-login-per-ip',
    '0',
    '--rate-limit-phone-per-ip',
    '0',
    ...extraArgs,
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: environmentWithoutWxlogin() });
  let output = '';
  let exited = false;
  const killOnExit = () => {
    if (!exited) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      process.removeListener('exit', killOnExit);
      resolve({ code, signal });
    });
  });

  async function stop() {
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 5000);
      await exitPromise;
      clearTimeout(timer);
    }
    if (!keptDir) fs.rmSync(dir, { recursive: true, force: true });
  }

  const found = await new Promise((resolve, reject) => {
    let settled = false;
    const fail = (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop().finally(() => reject(new Error(`${reason}\n--- wxlogin ${args.join(' ')} printed:\n${output}`)));
    };
    const timer = setTimeout(() => fail(`wxlogin serve did not print its addresses within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk.toString('utf8');
      const listening = output.match(/listening on (https?:\/\/[^\s"']+)/);
      const simulator = output.match(/simulator on (https?:\/\/[^\s"']+)/);
      const demo = output.match(/demo appid ([A-Za-z0-9_-]+)/);
      if (!settled && listening && simulator && demo) {
        settled = true;
        clearTimeout(timer);
        resolve({
          baseUrl: listening[1].replace(/\/+$/, ''),
          simUrl: simulator[1].replace(/\/+$/, ''),
          appid: demo[1],
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => fail(`could not start ${binary}: ${error.message}`));
    exitPromise.then(({ code, signal }) => fail(`wxlogin serve exited early (code ${code}, signal ${signal})`));
  });

  const server = {
    ...found,
    databaseUrl,
    dir,
    stop,
    output: () => output,

    // The `--sim` first experience: the lines printed beside `try:` (null when absent).
    consoleLines() {
      const address = output.match(/console on (https?:\/\/\S+)/);
      const key = output.match(/console key (wxa_\S+)/);
      return { consoleUrl: address ? address[1] : null, consoleKey: key ? key[1] : null };
    },

    // `wxlogin admin-keys create`: the key it prints once, on stdout.
    async createAdminKey(name, scopes) {
      const { stdout } = await runWxlogin(['admin-keys', 'create', '--database-url', databaseUrl, '--name', name, '--scopes', scopes]);
      const key = stdout.match(/wxa_[A-Za-z0-9_-]+/);
      if (!key) throw new Error(`admin-keys create printed no key: ${stdout}`);
      return key[0];
    },

    // Plain SQL on the server's SQLite file, through the sqlite3 command (only for what
    // no API can do quickly, such as a delivery that has been failing for 24 h).
    async sql(statement) {
      const file = databaseUrl.slice('sqlite://'.length);
      const { stdout } = await new Promise((resolve, reject) => {
        execFile('sqlite3', ['-cmd', '.timeout 5000', file, statement], { timeout: 30000 }, (error, out, err) => {
          if (error) reject(new Error(`sqlite3 ${statement}: ${error.message}\n${err}`));
          else resolve({ stdout: out });
        });
      });
      return stdout.trim();
    },

    async revokeAdminKey(name) {
      await runWxlogin(['admin-keys', 'revoke', '--database-url', databaseUrl, name]);
    },

    // A JSON call to the server; `bearer` is an access token or an admin key.
    async call(method, route, { bearer, json } = {}) {
      const headers = {};
      if (bearer) headers.authorization = `Bearer ${bearer}`;
      if (json !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(`${found.baseUrl}${route}`, {
        method,
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        redirect: 'manual',
      });
      const text = await response.text();
      let body = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      return { status: response.status, headers: response.headers, body };
    },

    async callOk(method, route, options) {
      const answer = await server.call(method, route, options);
      if (answer.status < 200 || answer.status >= 300) {
        throw new Error(`${method} ${route} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      }
      return answer.body;
    },

    async simulator(route, payload) {
      const response = await fetch(`${found.simUrl}${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(`simulator ${route} answered ${response.status}: ${JSON.stringify(body)}`);
      return body;
    },

    /**
     * A simulated WeChat user logged in through the real /v1/login; with `phone`, its
     * number bound through /sim/phone + /v1/me/phone; with `nickname`, set by PATCH /v1/me.
     * Resolves with { wechatUser, accessToken, user } (`user` as /v1/me answers it).
     */
    async loginUser(label, { phone, nickname } = {}) {
      const wechatUser = uniqueUser(label);
      const { code } = await server.simulator('/sim/login', { appid: found.appid, user: wechatUser });
      const login = await server.callOk('POST', '/v1/login', { json: { code } });
      const accessToken = login.access_token;
      if (phone) {
        const minted = await server.simulator('/sim/phone', { appid: found.appid, user: wechatUser, phone });
        await server.callOk('POST', '/v1/me/phone', { bearer: accessToken, json: { code: minted.code } });
      }
      if (nickname) await server.callOk('PATCH', '/v1/me', { bearer: accessToken, json: { nickname } });
      const user = await server.callOk('GET', '/v1/me', { bearer: accessToken });
      return { wechatUser, accessToken, user };
    },
  };
  return server;
}

module.exports = { startServer, newDatabaseDir, wxloginBinary, REPO_ROOT };
