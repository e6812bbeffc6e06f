#!/usr/bin/env python3
"""The peer side of the crypto comparison: wechatpy decrypting the same payloads.

One operation is what a Python login server does per request: build
`WeChatWxaCrypto(session_key, iv, appid)` and call `decrypt_message(encrypted_data)`
(base64, AES-128-CBC via `cryptography`/OpenSSL, PKCS#7, json.loads, watermark appid
check). Prints one JSON line per operation, like the Rust `crypto-peer`.
Usage: peer_wechatpy.py PAYLOADS.json ITERATIONS
"""
import json
import sys
import time

import wechatpy
from wechatpy.crypto import WeChatWxaCrypto


def same_known_fields(expected, decrypted) -> bool:
    if isinstance(expected, dict):
        return isinstance(decrypted, dict) and all(
            name in decrypted and same_known_fields(value, decrypted[name]) for name, value in expected.items()
        )
    return expected == decrypted


def run(payloads: dict, operation: str, iterations: int) -> tuple:
    """(wall seconds, process CPU seconds) of `iterations` operations."""
    key, appid = payloads["session_key"], payloads["appid"]
    iv, data = payloads[operation]["iv"], payloads[operation]["encrypted_data"]
    cpu_started, started = time.process_time(), time.perf_counter()
    for _ in range(iterations):
        WeChatWxaCrypto(key, iv, appid).decrypt_message(data)
    return time.perf_counter() - started, time.process_time() - cpu_started


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        payloads = json.load(f)
    iterations = int(sys.argv[2])
    for operation in ("phone", "user_info"):
        payload = payloads[operation]
        decrypted = WeChatWxaCrypto(payloads["session_key"], payload["iv"], payloads["appid"]).decrypt_message(
            payload["encrypted_data"]
        )
        if not same_known_fields(json.loads(payload["plaintext"]), decrypted):
            sys.exit(f"{operation}: wechatpy decrypted something else than the generator's plaintext")
        run(payloads, operation, max(iterations // 10, 1))
        seconds, cpu_seconds = run(payloads, operation, iterations)
        print(
            json.dumps(
                {
                    "implementation": f"wechatpy {wechatpy.__version__}",
                    "operation": operation,
                    "iterations": iterations,
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                    "ops_per_cpu_sec": iterations / max(cpu_seconds, 1e-9),
                }
            )
        )


if __name__ == "__main__":
    main()
