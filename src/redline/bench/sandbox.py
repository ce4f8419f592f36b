"""Run untrusted generated code in a child process with a timeout and resource limits.

Benchmarks execute what a model wrote: it may loop forever, allocate without
bound, fork or fill the disk. None of that may touch the benchmark's own
process, so every run is a fresh interpreter in its own session (process group)
with ``setrlimit`` caps on address space, CPU seconds, file size and open files,
killed as a group at the wall-clock deadline.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MEMORY_MB = 1024
DEFAULT_TIMEOUT_S = 10.0
OUTPUT_CAP = 20_000


@dataclass
class Limits:
    """Caps for one child process; the CPU cap backs up the wall-clock timeout."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_mb: int = DEFAULT_MEMORY_MB
    file_mb: int = 64
    open_files: int = 256


@dataclass
class RunOutcome:
    """How a sandboxed run ended; ``passed`` means exit status 0 in time."""

    returncode: int | None
    output: str
    duration_s: float
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def reason(self) -> str:
        """One word for the table: passed, failed, timeout, killed (a signal)."""
        if self.timed_out:
            return "timeout"
        if self.returncode == 0:
            return "passed"
        if self.returncode is not None and self.returncode < 0:
            return "killed"
        return "failed"


def _limiter(limits: Limits) -> Callable[[], None]:
    """The ``preexec_fn``: runs in the child between fork and exec."""

    def apply() -> None:
        die_with_parent()
        mem = limits.memory_mb * 1024 * 1024
        cpu = int(limits.timeout_s) + 2
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        fsize = limits.file_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def die_with_parent() -> None:
    """``preexec_fn``: the child gets SIGTERM when the benchmark process dies (Linux).

    Keeps a server or agent started by a benchmark from outliving it, even when
    the benchmark is killed with SIGKILL and no ``finally`` block runs.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the finally blocks still stop children
        pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def run_limited(
    argv: Sequence[str],
    *,
    cwd: str | Path,
    limits: Limits | None = None,
    env: dict[str, str] | None = None,
) -> RunOutcome:
    """Run ``argv`` under ``limits``; output (stdout+stderr) is capped, never raises on failure."""
    limits = limits or Limits()
    child_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "LANG": "C.UTF-8",
    }
    child_env.update(env or {})
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=str(cwd),
        env=child_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_limiter(limits),
        start_new_session=True,
    )
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, _ = proc.communicate()
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    text = out.decode("utf-8", errors="replace")
    if len(text) > OUTPUT_CAP:
        text = text[: OUTPUT_CAP // 4] + "\n...[output cut]...\n" + text[-OUTPUT_CAP // 2 :]
    return RunOutcome(proc.returncode, text, time.perf_counter() - start, timed_out)


def run_python_file(path: Path, *, limits: Limits | None = None) -> RunOutcome:
    """Run one script with this interpreter in isolated mode (no user site, no cwd on path)."""
    return run_limited([sys.executable, "-I", str(path)], cwd=path.parent, limits=limits)
