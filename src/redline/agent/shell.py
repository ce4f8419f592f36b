"""The ``run`` tool's shell: scrubbed environment, timeout, capped output.

A model-written command must not see API keys, must not run forever, and must
not flood the context; it runs in its own process group so a timeout or an
interrupt kills the whole tree, not just the shell.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH|COOKIE|SESSION", re.I)
_KEEP = {"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "USER", "SHELL", "TMPDIR", "TZ"}
_KEEP |= {"VIRTUAL_ENV", "PYTHONPATH", "PWD"}


@dataclass
class ShellResult:
    exit_code: int
    output: str
    timed_out: bool
    duration_s: float

    def report(self) -> str:
        tail = "\n[timed out; killed]" if self.timed_out else ""
        return f"exit code {self.exit_code}{tail}\n{self.output}".rstrip()


def scrubbed_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The parent environment minus anything that looks like a credential."""
    env = {
        k: v
        for k, v in os.environ.items()
        if (k in _KEEP or k.startswith(("LC_", "PYTHON", "UV_", "PIP_"))) and not _SECRET.search(k)
    }
    env.update(extra or {})
    env["REDLINE_AGENT"] = "1"
    return env


def cap(text: str, limit: int) -> str:
    """Keep the head and the tail (errors are usually at the end)."""
    if len(text) <= limit:
        return text
    head = limit // 3
    cut = len(text) - limit
    return f"{text[:head]}\n[... {cut} characters cut ...]\n{text[-(limit - head) :]}"


def run_shell(
    command: str,
    cwd: Path,
    *,
    timeout: float = 60.0,
    limit: int = 8000,
    cancel: threading.Event | None = None,
) -> ShellResult:
    """Run ``command`` with bash in ``cwd``; output is stdout+stderr, capped to ``limit``."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=cwd,
        env=scrubbed_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    timed_out = False
    while proc.poll() is None:
        if time.perf_counter() - start > timeout or (cancel is not None and cancel.is_set()):
            timed_out = True
            _kill_group(proc)
            break
        time.sleep(0.02)
    proc.wait()
    reader.join(timeout=5)
    output = b"".join(chunks).decode("utf-8", "replace")
    return ShellResult(proc.returncode, cap(output, limit), timed_out, time.perf_counter() - start)


def _kill_group(proc: subprocess.Popen) -> None:
    # ProcessLookupError: it ended on its own between poll() and kill; nothing to do.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
