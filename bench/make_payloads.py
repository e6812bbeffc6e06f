#!/usr/bin/env python3
"""Write the payload file both sides of the crypto peer comparison decrypt.

The payloads are encrypted here with Python `cryptography` (AES-128-CBC, PKCS#7), as
WeChat does, so they do not come from the Rust code under test. Deterministic: the same
file every run. Usage: make_payloads.py OUT.json
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

APPID = "wxbench0000000001"
SESSION_KEY = bytes(range(16))


def encrypt(plaintext: str, iv: bytes) -> dict:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(algorithms.AES(SESSION_KEY), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return {
        "iv": base64.b64encode(iv).decode(),
        "encrypted_data": base64.b64encode(ciphertext).decode(),
        "plaintext": plaintext,
    }


def main() -> None:
    watermark = {"timestamp": 1700000000, "appid": APPID}
    # Field order and shapes as WeChat's documentation prints them.
    phone = json.dumps(
        {
            "phoneNumber": "13800000000",
            "purePhoneNumber": "13800000000",
            "countryCode": "86",
            "watermark": watermark,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    user_info = json.dumps(
        {
            "openId": "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
            "nickName": "微信用户",
            "gender": 0,
            "language": "zh_CN",
            "city": "",
            "province": "",
            "country": "",
            "avatarUrl": "https://thirdwx.qlogo.cn/mmopen/vi_32/POgEwh4mIHO4nibH0KlMECNjjGxQUq24ZEaGT4poC6icRiccVGKSyXwibcPq4BWmiaIGuG1icwxaQX6grC9VemZoJ8rg/132",
            "unionId": "ocMvos6NjeKLIBqg5Mr9QjxrP1FA",
            "watermark": watermark,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )
    session_key = base64.b64encode(SESSION_KEY).decode()
    user_info_payload = encrypt(user_info, bytes(range(16, 32)))
    user_info_payload["raw_data"] = user_info
    user_info_payload["signature"] = hashlib.sha1((user_info + session_key).encode("utf-8")).hexdigest()
    out = {
        "appid": APPID,
        "session_key": session_key,
        "phone": encrypt(phone, bytes(range(32, 48))),
        "user_info": user_info_payload,
    }
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
