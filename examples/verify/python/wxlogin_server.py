"""Starts a real `wxlogin serve --sim` for the recipe's tests and logs a user in through
its simulator, the way a mini program would, so the tokens verified are the server's own."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any

WXLOGIN_BIN = os.environ.get("WXLOGIN_BIN", "wxlogin")
_PATTERNS = {
    "url": re.compile(r"listening on (http://\S+)"),
    "sim_url": re.compile(r"simulator on (http://\S+)"),
    "appid": re.compile(r"demo appid (\S+)"),
}


def selectable_algorithms() -> list[str | None]:
    """Both algorithms once the binary has --access-token-alg, else only its built-in one."""
    help_text = subprocess.run(
        [WXLOGIN_BIN, "serve", "--help"], check=True, capture_output=True, text=True
    ).stdout
    return ["ES256", "EdDSA"] if "--access-token-alg" in help_text else [None]


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


@dataclass
class Server:
    issuer: str
    alg: str | None
    url: str
    sim_url: str
    appid: str
    process: subprocess.Popen
    directory: str
    stderr: list[str] = field(default_factory=list)

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/.well-known/jwks.json"

    def jwks(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.jwks_url, timeout=10) as answer:
            return json.load(answer)

    def login(self, user: str) -> dict[str, Any]:
        code = post_json(f"{self.sim_url}/sim/login", {"appid": self.appid, "user": user})["code"]
        return post_json(f"{self.url}/v1/login", {"code": code})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_server(issuer: str, alg: str | None = None, access_token_ttl: int | None = None) -> Server:
    directory = tempfile.mkdtemp(prefix="wxlogin-verify-python-")
    args = [WXLOGIN_BIN, "serve", "--sim", "--listen", "127.0.0.1:0",
            "--database-url", f"sqlite://{directory}/db.sqlite", "--issuer", issuer]
    if alg:
        args += ["--access-token-alg", alg]
    if access_token_ttl is not None:
        args += ["--access-token-ttl", str(access_token_ttl)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    threading.Thread(target=lambda: stderr.extend(process.stderr), daemon=True).start()
    found: dict[str, str] = {}
    timer = threading.Timer(20, process.kill)
    timer.start()
    try:
        for line in process.stdout:
            for name, pattern in _PATTERNS.items():
                if match := pattern.search(line):
                    found[name] = match.group(1)
            if len(found) == len(_PATTERNS):
                break
    finally:
        timer.cancel()
    if len(found) != len(_PATTERNS):
        process.kill()
        raise RuntimeError(f"wxlogin did not start: {''.join(stderr)}")
    # Keep reading stdout so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return Server(issuer=issuer, alg=alg, process=process, directory=directory, stderr=stderr, **found)
