"""The ``run`` tool's shell: sandboxed, scrubbed environment, timeout, capped output.

A model-written command must not see API keys, must not run forever, and must
not flood the context; it runs in its own process group so a timeout or an
interrupt kills the whole tree, not just the shell. Confinement and the
environment come from :mod:`redline.agent.environment.sandbox`, the same as test runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from redline.agent.environment.sandbox import Sandbox
from redline.agent.environment.secrets import scrubbed_env

__all__ = ["ShellResult", "cap", "run_shell", "scrubbed_env"]


@dataclass
class ShellResult:
    exit_code: int
    output: str
    timed_out: bool
    duration_s: float

    def report(self) -> str:
        tail = "\n[timed out; killed]" if self.timed_out else ""
        return f"exit code {self.exit_code}{tail}\n{self.output}".rstrip()


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
    sandbox: Sandbox | None = None,
) -> ShellResult:
    """Run ``command`` with bash in ``cwd`` inside ``sandbox`` (default: the
    workspace-write sandbox of ``cwd``); output is stdout+stderr, capped to ``limit``."""
    jail = sandbox or Sandbox(cwd)
    with jail.command(["bash", "-c", command]) as (argv, env):
        return _run(argv, env, cwd, timeout, limit, cancel)


def _run(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    limit: int,
    cancel: threading.Event | None,
) -> ShellResult:
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
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
