#!/usr/bin/env python3
"""Known-answer fixtures for wxlogin-crypto, produced by an independent implementation.

The Rust crate is tested against these answers so that a bug shared by its encrypt and
decrypt (which a round trip cannot see) still shows. Everything here uses Python's
`cryptography` package (AES-128-CBC, PKCS#7, HMAC-SHA256) and `hashlib` (SHA-1), not the
Rust code.

Regenerate (only when adding cases; the output is deterministic, byte for byte):

    pip install cryptography            # if missing
    python3 scripts/crypto_fixtures.py > crates/wxlogin-crypto/tests/fixtures/known_answers.json

Check that the committed file is what this script produces:

    python3 scripts/crypto_fixtures.py --check

The Rust tests only read the committed JSON; they never need Python.

Keys and ivs are fixed: derived from SHA-256 of a label, so they look random but never
change. Two published vectors are included as well: WeChat's own WXBizDataCrypt demo
(session key tiihtNczf5v6AKRyjwEUhQ==) and a rawData signature from go-pay/wechat-sdk's
README. They are re-derived here, not trusted blindly: the script fails if they disagree.
"""

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.hashes import SHA256

FIXTURE_PATH = (
    Path(__file__).resolve().parent.parent
    / "crates/wxlogin-crypto/tests/fixtures/known_answers.json"
)

APPID = "wx0123456789abcdef"


def derived_bytes(label: str) -> bytes:
    return hashlib.sha256(("wxlogin-fixture/" + label).encode()).digest()[:16]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encrypt(key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def decrypt(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def watermark(timestamp: int) -> dict:
    return {"timestamp": timestamp, "appid": APPID}


# (name, kind, plaintext text). kind tells the Rust test which typed decoder applies.
# Phone numbers are from reserved/test ranges, not real subscribers.
OPEN_DATA_CASES = [
    (
        "phone_country_code_string",
        "phone",
        compact(
            {
                "phoneNumber": "13800000000",
                "purePhoneNumber": "13800000000",
                "countryCode": "86",
                "watermark": watermark(1700000000),
            }
        ),
    ),
    (
        "phone_country_code_number",
        "phone",
        compact(
            {
                "phoneNumber": "13800000001",
                "purePhoneNumber": "13800000001",
                "countryCode": 86,
                "watermark": watermark(1700000100),
            }
        ),
    ),
    (
        "phone_hong_kong",
        "phone",
        compact(
            {
                "phoneNumber": "+85251230000",
                "purePhoneNumber": "51230000",
                "countryCode": "852",
                "watermark": watermark(1700000200),
            }
        ),
    ),
    (
        "user_info_full",
        "user_info",
        compact(
            {
                "openId": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
                "nickName": "小明 Band",
                "gender": 1,
                "language": "zh_CN",
                "city": "Guangzhou",
                "province": "Guangdong",
                "country": "CN",
                "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132",
                "unionId": "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
                "watermark": watermark(1700000300),
            }
        ),
    ),
    (
        "user_info_profile_anonymous",
        "user_info",
        compact(
            {
                "nickName": "微信用户",
                "gender": 0,
                "language": "zh_CN",
                "city": "",
                "province": "",
                "country": "",
                "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/vi_32/default/132",
                "watermark": watermark(1700000400),
            }
        ),
    ),
    (
        "werun",
        "raw",
        compact(
            {
                "stepInfoList": [
                    {"timestamp": 1699977600 + 86400 * day, "step": 1000 + 37 * day}
                    for day in range(31)
                ],
                "watermark": watermark(1700000500),
            }
        ),
    ),
    ("share_info", "raw", compact({"openGId": "tGHtD8hN7ChYDsTZbFGyxcmJf7Jq"})),
    (
        "group_enter_info",
        "raw",
        compact(
            {
                "opengid": "tGHtD8hN7ChYDsTZbFGyxcmJf7Jq",
                "open_single_roomid": "",
                "group_openid": "",
                "chat_type": 1,
                "watermark": watermark(1700000600),
            }
        ),
    ),
    # 16 bytes exactly: the padding is a whole extra block of 0x10.
    ("raw_full_pad_block", "raw", compact({"a": "12345678"})),
    # 15 bytes: a single padding byte.
    ("raw_single_pad_byte", "raw", compact({"a": "1234567"})),
]

# WeChat's WXBizDataCrypt demo, as shipped in every language's copy of the demo.
OFFICIAL_DEMO = {
    "name": "wechat_official_demo",
    "kind": "user_info",
    "appid": "wx4f4bc4dec97d474b",
    "session_key": "tiihtNczf5v6AKRyjwEUhQ==",
    "iv": "r7BXXKkLb8qrSNn05n0qiA==",
    "encrypted_data": (
        "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4o"
        "TOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85"
        "d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fj"
        "pXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucet"
        "Df96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSg"
        "ARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85"
        "IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew=="
    ),
}

# go-pay/wechat-sdk README: VerifyDecryptOpenData(rawData, sign, sessionKey) → true.
GO_PAY_RAW_DATA = {
    "name": "go_pay_readme",
    "session_key": "HyVFkGl5F5OQWJZZaNzBBg==",
    "raw_data": (
        '{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou",'
        '"province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/'
        '1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}'
    ),
    "signature": "75e81ceda165f4ffa64f4068af58c64b8f54b88c",
}

RAW_DATA_CASES = [
    ("ascii_profile", compact({"nickName": "Band", "gender": 1, "language": "zh_CN"})),
    ("utf8_profile", compact({"nickName": "微信用户", "gender": 0, "avatarUrl": "https://x/132"})),
    ("empty_raw_data", ""),
]


def open_data_fixtures() -> list:
    fixtures = []
    for name, kind, text in OPEN_DATA_CASES:
        key = derived_bytes("key/" + name)
        iv = derived_bytes("iv/" + name)
        plaintext = text.encode("utf-8")
        if name == "raw_full_pad_block":
            assert len(plaintext) == 16
        if name == "raw_single_pad_byte":
            assert len(plaintext) == 15
        ciphertext = encrypt(key, iv, plaintext)
        assert decrypt(key, iv, ciphertext) == plaintext
        fixtures.append(
            {
                "name": name,
                "kind": kind,
                "appid": APPID if "watermark" in json.loads(text) else None,
                "session_key": b64(key),
                "iv": b64(iv),
                "plaintext": text,
                "encrypted_data": b64(ciphertext),
            }
        )
    demo = dict(OFFICIAL_DEMO)
    plaintext = decrypt(
        base64.b64decode(demo["session_key"]),
        base64.b64decode(demo["iv"]),
        base64.b64decode(demo["encrypted_data"]),
    ).decode("utf-8")
    assert json.loads(plaintext)["watermark"]["appid"] == demo["appid"]
    demo["plaintext"] = plaintext
    fixtures.append(
        {k: demo[k] for k in ("name", "kind", "appid", "session_key", "iv", "plaintext", "encrypted_data")}
    )
    return fixtures


def raw_data_fixtures() -> list:
    fixtures = []
    for name, raw_data in RAW_DATA_CASES:
        session_key = b64(derived_bytes("raw-data-key/" + name))
        signature = hashlib.sha1((raw_data + session_key).encode("utf-8")).hexdigest()
        fixtures.append(
            {"name": name, "session_key": session_key, "raw_data": raw_data, "signature": signature}
        )
    recomputed = hashlib.sha1(
        (GO_PAY_RAW_DATA["raw_data"] + GO_PAY_RAW_DATA["session_key"]).encode("utf-8")
    ).hexdigest()
    assert recomputed == GO_PAY_RAW_DATA["signature"], "go-pay vector does not reproduce"
    fixtures.append(dict(GO_PAY_RAW_DATA))
    return fixtures


def checksession_fixtures() -> list:
    fixtures = []
    for index in range(4):
        session_key = b64(derived_bytes(f"checksession-key/{index}"))
        # The HMAC key is the 24-character base64 TEXT, the message is empty (wechat-api.md §4).
        mac = HMAC(session_key.encode("ascii"), SHA256())
        mac.update(b"")
        signature = mac.finalize().hex()
        assert signature == hmac.new(session_key.encode("ascii"), b"", hashlib.sha256).hexdigest()
        fixtures.append({"session_key": session_key, "signature": signature})
    # WeChat's official demo session key, for a value anyone can recompute by hand.
    demo_key = OFFICIAL_DEMO["session_key"]
    fixtures.append(
        {
            "session_key": demo_key,
            "signature": hmac.new(demo_key.encode("ascii"), b"", hashlib.sha256).hexdigest(),
        }
    )
    return fixtures


def render() -> str:
    document = {
        "generated_by": "scripts/crypto_fixtures.py (Python cryptography); do not edit by hand",
        "open_data": open_data_fixtures(),
        "raw_data_signatures": raw_data_fixtures(),
        "checksession_signatures": checksession_fixtures(),
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def main() -> int:
    output = render()
    if sys.argv[1:] == ["--check"]:
        committed = FIXTURE_PATH.read_text(encoding="utf-8")
        if committed != output:
            print(f"{FIXTURE_PATH} is stale; regenerate it (see the top of this script)", file=sys.stderr)
            return 1
        print("fixtures up to date")
        return 0
    if sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
