'use strict';
// Starts a real `wxlogin serve --sim` on a loopback port with a throw-away SQLite
// database and learns its addresses from the lines it prints on start-up.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const STARTUP_TIMEOUT_MS = 60000;

function wxloginBinary() {
  return process.env.WXLOGIN_BIN || path.join(REPO_ROOT, 'target', 'debug', 'wxlogin');
}

// The server's own environment variables would override the flags' defaults.
function environmentWithoutWxlogin() {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('WXLOGIN_')) env[name] = value;
  }
  return env;
}

/**
 * Resolves with { baseUrl, simUrl, appid, stop() } once the server has printed
 * `listening on http://ADDR`, `simulator on http://ADDR` and `demo appid APPID`.
 */
function startServer({ accessTokenTtl = 600, loginRateLimitPerIp = 0, loginRateLimitBurst } = {}) {
  const binary = wxloginBinary();
  if (!fs.existsSync(binary)) {
    return Promise.reject(
      new Error(`wxlogin binary not found at ${binary}: run \`cargo build -p wxlogin\` or set WXLOGIN_BIN`)
    );
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxlogin-miniprogram-'));
  const args = [
    'serve',
    '--sim',
    '--listen',
    '127.0.0.1:0',
    '--database-url',
    `sqlite://${path.join(dir, 't.db')}`,
    '--access-token-ttl',
    String(accessTokenTtl),
    // Every simulated phone logs in from 127.0.0.1: the per-address abuse limits would
    // count the whole suite as one client (a test of the limit itself sets its own).
    '--rate-limit-login-per-ip',
    String(loginRateLimitPerIp),
    '--rate-limit-phone-per-ip',
    '0',
  ];
  if (loginRateLimitBurst !== undefined) args.push('--rate-limit-login-burst', String(loginRateLimitBurst));
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], env: environmentWithoutWxlogin() });
  let output = '';
  const found = {};
  let exited = false;

  // A test file that dies without running its `after` hook must not leave a server behind.
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
    fs.rmSync(dir, { recursive: true, force: true });
  }

  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stop().finally(() => reject(new Error(`${reason}\n--- wxlogin ${args.join(' ')} printed:\n${output}`)));
    };
    const timer = setTimeout(() => fail(`wxlogin serve did not print its addresses within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);

    // Some builds log through stderr; look for the lines on both streams.
    const onData = (chunk) => {
      output += chunk.toString('utf8');
      const listening = output.match(/listening on (https?:\/\/[^\s"']+)/);
      const simulator = output.match(/simulator on (https?:\/\/[^\s"']+)/);
      const demo = output.match(/demo appid ([A-Za-z0-9_-]+)/);
      if (listening) found.baseUrl = listening[1].replace(/\/+$/, '');
      if (simulator) found.simUrl = simulator[1].replace(/\/+$/, '');
      if (demo) found.appid = demo[1];
      if (!settled && found.baseUrl && found.simUrl && found.appid) {
        settled = true;
        clearTimeout(timer);
        resolve({ ...found, stop, output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) => fail(`could not start ${binary}: ${error.message}`));
    exitPromise.then(({ code, signal }) => fail(`wxlogin serve exited early (code ${code}, signal ${signal})`));
  });
}

module.exports = { startServer, wxloginBinary, environmentWithoutWxlogin, REPO_ROOT };
