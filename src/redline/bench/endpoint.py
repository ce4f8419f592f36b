"""A ``redline serve`` child process on a free loopback port, for "through the server" runs.

The benchmarks may not import the server (the layer rule keeps bench and server
apart), and a separate process is what a user runs anyway: this starts the
``redline serve`` command, waits for ``/health``, and stops it on exit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from redline.bench.sandbox import die_with_parent
from redline.errors import RedlineError


class EndpointError(RedlineError):
    """The benchmark's server could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redline_command() -> list[str]:
    """The ``redline`` next to this interpreter, else ``python -m redline.cli``-style entry."""
    exe = Path(sys.executable).parent / "redline"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from redline.cli import main; main()"]


COUNTERS = {
    "prompt_tokens": "redline_prompt_tokens_total",
    "completion_tokens": "redline_completion_tokens_total",
    "drafted_tokens": "redline_spec_drafted_tokens_total",
    "accepted_tokens": "redline_spec_accepted_tokens_total",
}


def server_counters(root_url: str) -> dict[str, float]:
    """Token counters from the server's ``/metrics``, summed over models.

    Read before and after an agent's try, they meter every agent on the same
    scale, whatever the agent itself reports.
    """
    out = dict.fromkeys(COUNTERS, 0.0)
    try:
        text = httpx.get(f"{root_url}/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return out
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        for key, metric in COUNTERS.items():
            if name.startswith(metric + "{") or name == metric:
                out[key] += float(value)
    return out


class ServeProcess:
    """``with ServeProcess("smollm2-135m") as srv: srv.base_url`` -> ``http://127.0.0.1:P/v1``."""

    def __init__(
        self,
        *models: str,
        port: int | None = None,
        startup_s: float = 180.0,
        args: tuple[str, ...] = (),
    ) -> None:
        self.models = list(models) or ["smollm2-135m"]
        self.args = args
        """Extra ``redline serve`` options."""
        self.port = port or free_port()
        self.startup_s = startup_s
        self.proc: subprocess.Popen[bytes] | None = None
        fd, name = tempfile.mkstemp(prefix="redline-serve-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    def start(self) -> ServeProcess:
        cmd = [*redline_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        for model in self.models:
            cmd += ["--model", model]
        cmd += self.args
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                status, tail = self.proc.returncode, self.log_tail()
                self.stop()
                raise EndpointError(
                    f"`redline serve` exited with status {status}: {tail}",
                    hint="check that `redline serve --model M --port P` works on its own",
                )
            try:
                if httpx.get(f"{self.root_url}/health", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise EndpointError(f"`redline serve` was not healthy after {self.startup_s:.0f}s")

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after 10 s; idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
