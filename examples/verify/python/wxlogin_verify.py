"""Verifies wxlogin access tokens in a Python backend with PyJWT, offline.

The public keys come from the server's JWKS: PyJWKClient fetches it once, keeps it for
`cache_lifespan` seconds, and fetches it again when a token names a key id it does not
have (a key rotation), at most once per `refetch_cooldown` seconds so that made-up key ids
cannot turn into a stream of fetches.

Why each check: the algorithm list is the two the server signs with (ES256, EdDSA), so a
token cannot choose `none` or an HMAC keyed with a public key; PyJWT then verifies with the
algorithm of the key that `kid` names and refuses a token whose `alg` says otherwise.
`iss` must be the server's --issuer and `aud` this backend's appid, or a token from
another deployment or for another mini program would pass; `leeway` allows for small clock
differences between the machines, nothing more.

Usage as a program:
    python wxlogin_verify.py --jwks URL --issuer ISS --audience APPID TOKEN
prints the claims as JSON, or the reason on stderr and exits 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import jwt

ACCEPTED_ALGORITHMS = ("ES256", "EdDSA")
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub", "sid")


class Verifier:
    """One per (server, appid); keep it for the life of the process so its key cache lives."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        leeway: float = 30,
        refetch_cooldown: float = 30,
        cache_lifespan: float = 300,
        timeout: float = 5,
    ) -> None:
        if not (jwks_url and issuer and audience):
            raise ValueError("jwks_url, issuer and audience are all required")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._keys = jwt.PyJWKClient(
            jwks_url,
            lifespan=cache_lifespan,
            cooldown_duration=refetch_cooldown,
            timeout=timeout,
        )

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims (`sub` user id, `aud` appid, `sid` session id, `roles` when any).

        Raises jwt.PyJWTError (answer 401) for any token that must not be trusted, and
        jwt.PyJWKClientConnectionError (a subclass) when the JWKS could not be fetched.
        """
        key = self._keys.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key=key,
            algorithms=list(ACCEPTED_ALGORITHMS),
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway,
            options={"require": list(REQUIRED_CLAIMS)},
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a wxlogin access token.")
    parser.add_argument("--jwks", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("token")
    args = parser.parse_args(argv)
    try:
        claims = Verifier(args.jwks, args.issuer, args.audience).verify(args.token)
    except jwt.PyJWTError as error:
        print(f"refused: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(claims))
    return 0


if __name__ == "__main__":
    sys.exit(main())
