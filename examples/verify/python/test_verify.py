"""The recipe against a real server: its tokens pass, and every token a backend must refuse
is refused (tampered, another app's, another deployment's, expired, or signed with an
algorithm outside {ES256, EdDSA})."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest

from wxlogin_server import selectable_algorithms, start_server
from wxlogin_verify import Verifier

ISSUER = "verify-python-test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture(scope="module", params=selectable_algorithms(), ids=lambda alg: alg or "default-alg")
def server(request):
    started = start_server(ISSUER, alg=request.param)
    yield started
    started.stop()


def verifier_for(server, **overrides) -> Verifier:
    options = {"issuer": ISSUER, "audience": server.appid, **overrides}
    return Verifier(server.jwks_url, options.pop("issuer"), options.pop("audience"), **options)


def test_a_servers_token_verifies_and_gives_its_claims(server):
    answer = server.login("alice")
    token = answer["access_token"]
    claims = verifier_for(server).verify(token)
    assert claims["sub"] == answer["user"]["id"]
    assert claims["aud"] == server.appid
    assert claims["iss"] == ISSUER
    assert isinstance(claims["sid"], str) and claims["sid"]
    assert jwt.get_unverified_header(token)["alg"] in ("ES256", "EdDSA")
    # A server told which algorithm to sign with must use it.
    if server.alg:
        assert jwt.get_unverified_header(token)["alg"] == server.alg


def test_a_flipped_signature_byte_is_refused(server):
    header, payload, signature = server.login("bob")["access_token"].split(".")
    flipped = bytearray(unb64url(signature))
    flipped[0] ^= 0x01
    with pytest.raises(jwt.InvalidSignatureError):
        verifier_for(server).verify(f"{header}.{payload}.{b64url(bytes(flipped))}")


def test_a_token_for_another_appid_is_refused(server):
    token = server.login("carol")["access_token"]
    with pytest.raises(jwt.InvalidAudienceError):
        verifier_for(server, audience="wx00000000000other").verify(token)


def test_a_token_from_another_issuer_is_refused(server):
    token = server.login("dave")["access_token"]
    with pytest.raises(jwt.InvalidIssuerError):
        verifier_for(server, issuer="someone-else").verify(token)


def test_alg_none_and_an_hmac_keyed_with_the_public_key_are_refused(server):
    token = server.login("erin")["access_token"]
    kid = jwt.get_unverified_header(token)["kid"]
    payload = token.split(".")[1]
    public_key = next(key for key in server.jwks()["keys"] if key["kid"] == kid)
    verify = verifier_for(server).verify
    none_header = b64url(json.dumps({"alg": "none", "kid": kid}).encode())
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(f"{none_header}.{payload}.")
    hs_header = b64url(json.dumps({"alg": "HS256", "kid": kid}).encode())
    for secret in (json.dumps(public_key).encode(), unb64url(public_key["x"])):
        mac = hmac.new(secret, f"{hs_header}.{payload}".encode(), hashlib.sha256).digest()
        with pytest.raises(jwt.InvalidAlgorithmError):
            verify(f"{hs_header}.{payload}.{b64url(mac)}")


def test_an_expired_token_is_refused_once_past_the_leeway():
    # 2 s, not 1: `exp` is whole seconds, so a 1 s token issued late in a second can be
    # expired by the time the first check runs.
    short = start_server(ISSUER, access_token_ttl=2)
    try:
        token = short.login("frank")["access_token"]
        strict = verifier_for(short, leeway=0)
        assert strict.verify(token)["aud"] == short.appid
        time.sleep(3)
        with pytest.raises(jwt.ExpiredSignatureError):
            strict.verify(token)
        # The default leeway still takes it: that is what the leeway is for.
        assert verifier_for(short).verify(token)["aud"] == short.appid
    finally:
        short.stop()
