// Verifies wxlogin access tokens in a Node.js backend with jose, offline: the public keys
// come from the server's JWKS (fetched once, cached, fetched again when a token names a
// key id the cache does not have, which is what a key rotation looks like from here).
//
// Why each option: the algorithm list is the two the server signs with (ES256, EdDSA), so
// a token cannot pick `none`, an HMAC algorithm keyed with a public key, or anything else;
// jose then takes the key by `kid` and uses it only if its type fits the token's `alg`.
// `iss` must be the server's --issuer and `aud` this backend's appid, or a token from
// another deployment or for another mini program would pass. The clock tolerance allows
// for small clock differences between the two machines, nothing more.
//
// Usage as a program: node verify.mjs --jwks URL --issuer ISS --audience APPID TOKEN
// prints the claims as JSON, or the reason on stderr and exits 1.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

export const ACCEPTED_ALGORITHMS = Object.freeze(['ES256', 'EdDSA']);

/**
 * @param {object} options
 * @param {string} options.jwksUrl     e.g. https://login.example.com/.well-known/jwks.json
 * @param {string} options.issuer      the server's --issuer
 * @param {string} options.audience    the appid this backend serves
 * @param {number} [options.clockToleranceSeconds=30]
 * @param {number} [options.refetchCooldownSeconds=30] least time between two JWKS fetches
 *   caused by unknown key ids (a stream of made-up kids must not become a stream of fetches)
 * @param {number} [options.cacheMaxAgeSeconds=300] how long fetched keys are trusted
 *   without asking again
 * @returns {(token: string) => Promise<import('jose').JWTPayload>} resolves to the claims
 *   (`sub` user id, `aud` appid, `sid` session id, `roles` when any), rejects otherwise
 */
export function createVerifier({
  jwksUrl,
  issuer,
  audience,
  clockToleranceSeconds = 30,
  refetchCooldownSeconds = 30,
  cacheMaxAgeSeconds = 300,
}) {
  if (!jwksUrl || !issuer || !audience) throw new TypeError('jwksUrl, issuer and audience are all required');
  const keys = createRemoteJWKSet(new URL(jwksUrl), {
    cooldownDuration: refetchCooldownSeconds * 1000,
    cacheMaxAge: cacheMaxAgeSeconds * 1000,
  });
  return async function verify(token) {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: [...ACCEPTED_ALGORITHMS],
      issuer,
      audience,
      clockTolerance: clockToleranceSeconds,
      requiredClaims: ['exp', 'sub', 'sid'],
    });
    return payload;
  };
}

async function main() {
  const { values, positionals } = parseArgs({
    options: { jwks: { type: 'string' }, issuer: { type: 'string' }, audience: { type: 'string' } },
    allowPositionals: true,
  });
  if (!values.jwks || !values.issuer || !values.audience || positionals.length !== 1) {
    console.error('usage: node verify.mjs --jwks URL --issuer ISS --audience APPID TOKEN');
    process.exit(2);
  }
  const verify = createVerifier({ jwksUrl: values.jwks, issuer: values.issuer, audience: values.audience });
  try {
    console.log(JSON.stringify(await verify(positionals[0])));
  } catch (error) {
    console.error(`refused: ${error.code || error.name}: ${error.message}`);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) await main();
