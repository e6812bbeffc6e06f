"""Both algorithms the server can sign with, and a key rotation, against a JWKS this test
serves itself: the verifier takes ES256 and EdDSA by the key that `kid` names, refuses a
token whose `alg` does not fit that key, and fetches the JWKS again when a token names a
key it has not seen (a rotation), whatever the server binary signs with."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from wxlogin_verify import Verifier

ISSUER = "verify-python-local"
AUDIENCE = "wx0000000000local"


class Keys:
    def __init__(self) -> None:
        self.private: dict[str, tuple[str, object]] = {}
        self.published: list[dict] = []
        self.fetches = 0

    def make(self, alg: str, kid: str, publish: bool = True) -> None:
        if alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
            jwk = json.loads(ECAlgorithm.to_jwk(private.public_key()))
        else:
            private = ed25519.Ed25519PrivateKey.generate()
            jwk = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
        self.private[kid] = (alg, private)
        if publish:
            self.published.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})

    def sign(self, kid: str, header_alg: str | None = None, **claims) -> str:
        alg, private = self.private[kid]
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "sid": "session-1",
                "iat": now, "exp": now + 300, **claims}
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, private, algorithm=header_alg or alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def keys():
    keys = Keys()
    keys.make("ES256", "ec-1")
    keys.make("EdDSA", "ed-1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            keys.fetches += 1
            body = json.dumps({"keys": keys.published}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    keys.jwks_url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    yield keys
    server.shutdown()


def test_es256_and_eddsa_tokens_both_verify_by_the_key_their_kid_names(keys):
    verifier = Verifier(keys.jwks_url, ISSUER, AUDIENCE)
    claims = verifier.verify(keys.sign("ec-1", roles=["admin"]))
    assert (claims["sub"], claims["roles"]) == ("user-1", ["admin"])
    assert verifier.verify(keys.sign("ed-1"))["sid"] == "session-1"


def test_a_token_whose_alg_does_not_fit_its_kids_key_is_refused(keys):
    verifier = Verifier(keys.jwks_url, ISSUER, AUDIENCE)
    # Signed with the Ed25519 key but naming the P-256 key.
    header, payload, signature = keys.sign("ed-1").split(".")
    forged_header = jwt.utils.base64url_encode(json.dumps({"alg": "EdDSA", "kid": "ec-1"}).encode())
    with pytest.raises(jwt.InvalidAlgorithmError):
        verifier.verify(f"{forged_header.decode()}.{payload}.{signature}")
    with pytest.raises(jwt.MissingRequiredClaimError):
        verifier.verify(keys.sign("ec-1", exp=None))


def test_a_key_published_after_the_first_fetch_is_fetched_when_a_token_names_it(keys):
    verifier = Verifier(keys.jwks_url, ISSUER, AUDIENCE, refetch_cooldown=0)
    verifier.verify(keys.sign("ec-1"))
    before = keys.fetches
    keys.make("ES256", "ec-2")
    assert verifier.verify(keys.sign("ec-2"))["sub"] == "user-1"
    assert keys.fetches == before + 1
    keys.make("ES256", "never-published", publish=False)
    with pytest.raises(jwt.PyJWKClientError):
        verifier.verify(keys.sign("never-published"))


def test_unknown_key_ids_within_the_cooldown_cause_no_fetch(keys):
    verifier = Verifier(keys.jwks_url, ISSUER, AUDIENCE, refetch_cooldown=3600)
    verifier.verify(keys.sign("ec-1"))
    before = keys.fetches
    keys.make("ES256", "made-up", publish=False)
    for _ in range(5):
        with pytest.raises(jwt.PyJWKClientError):
            verifier.verify(keys.sign("made-up"))
    assert keys.fetches == before
