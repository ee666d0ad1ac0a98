"""Starts the self-service demo on Express and on FastAPI, for real, on
127.0.0.1, so that one suite checks both routers over HTTP.

Each server is a separate process on its own SQLite file (or a shared one,
for interop), with at most five active keys per user. A server that fails
to start fails the test loudly.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
OPENAPI = REPO / "core" / "src" / "self_service" / "openapi.yaml"
MAX_KEYS = 5
COMMANDS = {
    "express": ["node", str(REPO / "bindings-node" / "examples" / "self-service" / "server.js")],
    "fastapi": [sys.executable, str(REPO / "bindings-python" / "examples" / "self_service.py")],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One demo server process, with its output kept for inspection."""

    def __init__(self, kind: str, db: Path, log: Path) -> None:
        self.kind = kind
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = {**os.environ, "PORT": str(self.port), "KEYHOUSE_DB": str(db), "KEYHOUSE_MAX_KEYS": str(MAX_KEYS)}
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(COMMANDS[kind], env=env, stdout=self._out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the {kind} demo exited with {self.proc.returncode}:\n{log.read_text()}")
            try:
                httpx.get(self.url + "/me", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the {kind} demo did not answer within 30 s:\n{log.read_text()}")
                time.sleep(0.1)

    def user(self, name: Optional[str] = None) -> "User":
        return User(self, name or "u" + uuid.uuid4().hex[:12])

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def output_with(self, text: str, timeout: float = 10.0) -> str:
        """The output once it holds `text`: events fire after the answer is
        sent, so a line may land a little after the request returns."""
        deadline = time.monotonic() + timeout
        while text not in (output := self.output()) and time.monotonic() < deadline:
            time.sleep(0.05)
        return output

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


class User:
    """A signed-in user of one server: an httpx client with the demo's cookie."""

    def __init__(self, server: Server, name: str) -> None:
        self.name = name
        self.server = server
        self.http = httpx.Client(base_url=server.url + "/api", cookies={"demo_user": name}, timeout=30)

    def create(self, **body) -> Dict:
        r = self.http.post("/keys", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def ids(self, include_revoked: bool = True) -> List[str]:
        r = self.http.get("/keys", params={"includeRevoked": str(include_revoked).lower(), "limit": 100})
        assert r.status_code == 200, r.text
        return [k["id"] for k in r.json()["keys"]]

    def call_with(self, key: str) -> int:
        """The status of the protected route, called with `key`."""
        return httpx.get(self.server.url + "/api/data", headers={"X-API-Key": key}, timeout=30).status_code


@pytest.fixture(scope="module", params=["express", "fastapi"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp(request.param)
    s = Server(request.param, base / "keyhouse.db", base / "server.log")
    yield s
    s.stop()
