// Both algorithms the server can sign with, and a key rotation, against a JWKS this test
// serves itself: it shows the verifier takes ES256 and EdDSA by the key that `kid` names,
// refuses a token whose `alg` does not fit that key, and fetches the JWKS again when a
// token names a key it has not seen (a rotation), whatever the server binary signs with.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createVerifier } from '../verify.mjs';

const ISSUER = 'verify-node-local';
const AUDIENCE = 'wx0000000000local';
const published = [];
const keys = {};
let jwksServer;
let jwksUrl;
let fetches = 0;

async function makeKey(alg, kid) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { crv: alg === 'EdDSA' ? 'Ed25519' : undefined });
  keys[kid] = { alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  return keys[kid];
}

function sign(kid, { alg = keys[kid].alg, claims = {} } = {}) {
  return new SignJWT({ sid: 'session-1', ...claims })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(keys[kid].privateKey);
}

before(async () => {
  published.push((await makeKey('ES256', 'ec-1')).jwk, (await makeKey('EdDSA', 'ed-1')).jwk);
  jwksServer = createServer((request, response) => {
    fetches += 1;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: published }));
  });
  await new Promise((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${jwksServer.address().port}/.well-known/jwks.json`;
});
after(() => new Promise((resolve) => jwksServer.close(resolve)));

const verifier = (overrides = {}) => createVerifier({ jwksUrl, issuer: ISSUER, audience: AUDIENCE, ...overrides });

test('ES256 and EdDSA tokens both verify, each by the key its kid names', async () => {
  const verify = verifier();
  assert.equal((await verify(await sign('ec-1', { claims: { roles: ['admin'] } }))).sub, 'user-1');
  assert.deepEqual((await verify(await sign('ec-1', { claims: { roles: ['admin'] } }))).roles, ['admin']);
  assert.equal((await verify(await sign('ed-1'))).sid, 'session-1');
});

test("a token whose alg does not fit its kid's key is refused", async () => {
  const verify = verifier();
  // Signed with the Ed25519 key but naming the P-256 key: no key fits, so nothing verifies it.
  const [, payload, signature] = (await sign('ed-1')).split('.');
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: 'ec-1', typ: 'JWT' })).toString('base64url');
  await assert.rejects(verify(`${header}.${payload}.${signature}`), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  // A token without exp is refused even when its signature is good.
  const noExp = await new SignJWT({ sid: 's' }).setProtectedHeader({ alg: 'ES256', kid: 'ec-1' })
    .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('u').sign(keys['ec-1'].privateKey);
  await assert.rejects(verify(noExp), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'exp' });
});

test('a key published after the first fetch (a rotation) is fetched when a token names it', async () => {
  const verify = verifier({ refetchCooldownSeconds: 0 });
  await verify(await sign('ec-1'));
  const before = fetches;
  published.push((await makeKey('ES256', 'ec-2')).jwk);
  assert.equal((await verify(await sign('ec-2'))).sub, 'user-1');
  assert.equal(fetches, before + 1);
  // A kid nobody published is refused, after at most one more fetch.
  await makeKey('ES256', 'never-published');
  await assert.rejects(verify(await sign('never-published')), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
});

test('unknown key ids within the cooldown cause no fetch', async () => {
  const verify = verifier({ refetchCooldownSeconds: 3600 });
  await verify(await sign('ec-1'));
  const before = fetches;
  await makeKey('ES256', 'made-up');
  for (let i = 0; i < 5; i += 1) {
    await assert.rejects(verify(await sign('made-up')), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
  }
  assert.equal(fetches, before);
});
