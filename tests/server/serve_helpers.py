"""Starting and stopping a real ``redline serve`` subprocess for the server tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

API_KEY = "test-key"
MODEL = "smollm2-135m"
FIM_MODEL = "smollm2-fim"
MAX_TOKENS_CAP = 64
START_TIMEOUT_S = 600  # model page-in on a loaded shared box can take minutes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    proc: subprocess.Popen
    log: Path

    @property
    def v1(self) -> str:
        return f"{self.base_url}/v1"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_KEY}"}


def start_server(args: list[str], log: Path) -> Server:
    """Start ``redline serve`` and wait until /health answers."""
    port = free_port()
    cmd = [sys.executable, "-c", "from redline.cli import main; main()", "serve"]
    cmd += ["--port", str(port), "--log-level", "warning", *args]
    fh = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redline serve exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return Server(base, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"redline serve did not start:\n{log.read_text()[-3000:]}")


def stop_server(server: Server) -> int:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            return server.proc.wait(60)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            return server.proc.wait()
    return server.proc.returncode
