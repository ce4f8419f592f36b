"""Helpers shared by the LSP tests: how to start ``redline lsp`` and a tiny raw client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def server_command() -> list[str]:
    """``redline lsp`` from the venv's console script, else ``python -m redline.ide``."""
    script = Path(sys.executable).parent / "redline"
    if script.is_file():
        return [str(script), "lsp"]
    return [sys.executable, "-m", "redline.ide"]


def server_env(base: Path) -> dict[str, str]:
    """The test process's environment, with redline's state and config kept in ``base``."""
    env = dict(os.environ)
    env["REDLINE_STATE_DIR"] = str(base / "state")
    env["REDLINE_CONFIG"] = str(base / "no-user-config.toml")
    env.pop("REDLINE_PROVIDER", None)
    return env


def frame(payload: dict[str, Any] | bytes) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawClient:
    """Speaks JSON-RPC over a byte stream, so a test can send what no library would."""

    def __init__(self, reader: Any, writer: Any) -> None:
        self.reader, self.writer = reader, writer
        self.notifications: list[dict[str, Any]] = []

    def send(self, payload: dict[str, Any] | bytes) -> None:
        self.writer.write(frame(payload))
        self.writer.flush()

    def read(self) -> dict[str, Any]:
        length = 0
        while True:
            line = self.reader.readline()
            if not line:
                raise EOFError("the server closed the stream")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.reader.read(length))

    def response(self, msg_id: int) -> dict[str, Any]:
        """Read until the response to ``msg_id``; notifications are kept."""
        while True:
            msg = self.read()
            if msg.get("id") == msg_id and "method" not in msg:
                return msg
            if "method" in msg and "id" not in msg:
                self.notifications.append(msg)

    def request(self, msg_id: int, method: str, params: Any = None) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return self.response(msg_id)

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})


def start_stdio(base: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*server_command(), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=server_env(base),
    )
