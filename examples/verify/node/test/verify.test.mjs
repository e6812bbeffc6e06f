// The recipe against a real server: its tokens pass, and every token a backend must refuse
// is refused (tampered, another app's, another deployment's, expired, or signed with an
// algorithm outside {ES256, EdDSA}).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createVerifier } from '../verify.mjs';
import { selectableAlgorithms, startServer } from '../support/server.mjs';

const ISSUER = 'verify-node-test';
const servers = [];
let short;

before(async () => {
  const started = await Promise.all([
    ...selectableAlgorithms().map((alg) => startServer({ issuer: ISSUER, alg })),
    // 2 s, not 1: `exp` is whole seconds, so a 1 s token issued late in a second can be
    // expired by the time the first check runs, a few milliseconds later.
    startServer({ issuer: ISSUER, accessTokenTtl: 2 }),
  ]);
  short = started.pop();
  servers.push(...started);
});
after(async () => Promise.all([...servers, short].filter(Boolean).map((server) => server.stop())));

const b64url = (buffer) => Buffer.from(buffer).toString('base64url');
const part = (token, index) => JSON.parse(Buffer.from(token.split('.')[index], 'base64url'));
const verifierFor = (server, overrides = {}) =>
  createVerifier({ jwksUrl: server.jwksUrl, issuer: ISSUER, audience: server.appid, ...overrides });

function forEachServer(name, body) {
  // Registered lazily: the servers exist only once `before` ran.
  test(name, async (t) => {
    for (const server of servers) {
      const jwks = await (await fetch(server.jwksUrl)).json();
      await t.test(`signed with ${jwks.keys.map((key) => key.alg).join(',')}`, () => body(server, jwks));
    }
  });
}

forEachServer("a server's token verifies and gives its claims", async (server) => {
  const { access_token: token, user } = await server.login('alice');
  const claims = await verifierFor(server)(token);
  assert.equal(claims.sub, user.id);
  assert.equal(claims.aud, server.appid);
  assert.equal(claims.iss, ISSUER);
  assert.equal(typeof claims.sid, 'string');
  assert.ok(['ES256', 'EdDSA'].includes(part(token, 0).alg));
  // A server told which algorithm to sign with must use it.
  if (server.alg) assert.equal(part(token, 0).alg, server.alg);
});

forEachServer('a flipped signature byte is refused', async (server) => {
  const [header, payload, signature] = (await server.login('bob')).access_token.split('.');
  const bytes = Buffer.from(signature, 'base64url');
  bytes[0] ^= 0x01;
  await assert.rejects(verifierFor(server)(`${header}.${payload}.${b64url(bytes)}`), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
});

forEachServer('a token for another appid is refused', async (server) => {
  const { access_token: token } = await server.login('carol');
  await assert.rejects(verifierFor(server, { audience: 'wx00000000000other' })(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' });
});

forEachServer('a token from another issuer is refused', async (server) => {
  const { access_token: token } = await server.login('dave');
  await assert.rejects(verifierFor(server, { issuer: 'someone-else' })(token), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
});

forEachServer('alg none and an HMAC keyed with the public key are refused', async (server, jwks) => {
  const token = (await server.login('erin')).access_token;
  const { kid } = part(token, 0);
  const payload = token.split('.')[1];
  const none = `${b64url(JSON.stringify({ alg: 'none', kid }))}.${payload}.`;
  const hsHeader = b64url(JSON.stringify({ alg: 'HS256', kid }));
  const publicKey = jwks.keys.find((key) => key.kid === kid);
  const hmacKeys = [JSON.stringify(publicKey), Buffer.from(publicKey.x, 'base64url')];
  const verify = verifierFor(server);
  await assert.rejects(verify(none), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  for (const key of hmacKeys) {
    const mac = createHmac('sha256', key).update(`${hsHeader}.${payload}`).digest();
    await assert.rejects(verify(`${hsHeader}.${payload}.${b64url(mac)}`), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' });
  }
});

test('an expired token is refused (once past the clock tolerance)', async () => {
  const { access_token: token } = await short.login('frank');
  const verify = verifierFor(short, { clockToleranceSeconds: 0 });
  assert.equal((await verify(token)).aud, short.appid);
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await assert.rejects(verify(token), { code: 'ERR_JWT_EXPIRED' });
  // The default tolerance still takes it: that is what the tolerance is for.
  assert.equal((await verifierFor(short)(token)).aud, short.appid);
});
