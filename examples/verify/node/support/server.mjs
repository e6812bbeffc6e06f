// Starts a real `wxlogin serve --sim` for the recipe's tests and logs a user in through its
// simulator, the way a mini program would, so the tokens verified are the server's own.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const WXLOGIN_BIN = process.env.WXLOGIN_BIN || 'wxlogin';

/** The algorithms this server binary can be told to sign with: both once it has
 * --access-token-alg, otherwise only its built-in one (null: whatever it publishes). */
export function selectableAlgorithms() {
  const help = execFileSync(WXLOGIN_BIN, ['serve', '--help'], { encoding: 'utf8' });
  return help.includes('--access-token-alg') ? ['ES256', 'EdDSA'] : [null];
}

export async function startServer({ issuer, alg = null, accessTokenTtl = null }) {
  const dir = mkdtempSync(join(tmpdir(), 'wxlogin-verify-node-'));
  const args = ['serve', '--sim', '--listen', '127.0.0.1:0', '--database-url', `sqlite://${join(dir, 'db.sqlite')}`, '--issuer', issuer];
  if (alg) args.push('--access-token-alg', alg);
  if (accessTokenTtl !== null) args.push('--access-token-ttl', String(accessTokenTtl));
  const child = spawn(WXLOGIN_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // Should this process end before `stop` (a runner's timeout, an uncaught error), the
  // server must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const found = await new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`wxlogin did not start in 20 s:\n${stderr}`));
    }, 20000);
    child.on('exit', (code) => reject(new Error(`wxlogin exited with ${code}:\n${stderr}`)));
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(stdout);
      const sim = /simulator on (http:\/\/\S+)/.exec(stdout);
      const appid = /demo appid (\S+)/.exec(stdout);
      if (url && sim && appid) {
        clearTimeout(timer);
        resolve({ url: url[1], simUrl: sim[1], appid: appid[1] });
      }
    });
  });
  return {
    ...found,
    issuer,
    alg,
    jwksUrl: `${found.url}/.well-known/jwks.json`,
    async login(user) {
      const { code } = await postJson(`${found.simUrl}/sim/login`, { appid: found.appid, user });
      return postJson(`${found.url}/v1/login`, { code });
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function postJson(url, body) {
  const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await answer.json();
  if (!answer.ok) throw new Error(`POST ${url} answered ${answer.status}: ${JSON.stringify(data)}`);
  return data;
}
