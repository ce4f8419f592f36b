"""Comparison peers that may crash: reported in one line, never fatal to a benchmark.

A benchmark compares redline with a peer it does not control: bare
llama-cpp-python for ``bench decode``, ``python -m llama_cpp.server`` for
``bench serve``. A peer can die by a signal on a CPU where redline runs fine
(llama.cpp's weight repacking into AMX buffers crashed every default load at its
first ``eval`` on a Sapphire Rapids Xeon). That is a fact about the peer on this
machine, worth one line, not a reason to lose redline's own figures: the peer
runs in its own process, its death is read from its exit status, and the
benchmark goes on with the peer's column marked missing and why.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import httpx

from redline.engine.machine import machine_record

T = TypeVar("T")

REPACK_CAUSE = "llama.cpp weight repacking (AMX/extra buffer types) on this CPU"


@dataclass(frozen=True)
class PeerDeath:
    """How a peer process ended, and the likeliest reason."""

    peer: str
    returncode: int
    signal: str | None
    """``SIGSEGV`` etc. when a signal ended it; None for a plain non-zero exit."""
    cause: str

    def line(self) -> str:
        how = f"died by {self.signal}" if self.signal else f"exited with code {self.returncode}"
        return f"peer {self.peer} {how}; likely cause: {self.cause}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": "crashed", "line": self.line()}


def signal_name(returncode: int) -> str | None:
    """The signal behind a ``subprocess`` return code (negative), or a shell's 128+N."""
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if not number:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def likely_cause(sig: str | None, *, repacked: bool, amx: bool | None = None) -> str:
    """Why a peer that loads llama.cpp models probably died.

    ``repacked``: the peer lets llama.cpp repack weights (redline's loader does not).
    """
    amx = machine_record()["amx"] if amx is None else amx
    if sig in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGABRT") and repacked and amx:
        return REPACK_CAUSE
    if sig == "SIGILL":
        return "an instruction this CPU lacks (a llama.cpp build made for another CPU)"
    if sig == "SIGKILL":
        return "killed from outside, often by the kernel's out-of-memory killer"
    if sig in ("SIGSEGV", "SIGBUS", "SIGABRT"):
        repack = " with repacked weights (extra buffer types)" if repacked else ""
        return f"a crash in llama.cpp's native code{repack}"
    if sig:
        return f"stopped by {sig} from outside"
    return "an error in the peer (its log has the reason)"


def death(peer: str, returncode: int, *, repacked: bool) -> PeerDeath:
    sig = signal_name(returncode)
    return PeerDeath(peer, returncode, sig, likely_cause(sig, repacked=repacked))


class ProcessExited(RuntimeError):
    """A peer process ended while the benchmark needed it (raised with its return code)."""

    def __init__(self, message: str, returncode: int) -> None:
        super().__init__(message)
        self.returncode = returncode


class PeerGuard:
    """Calls on one peer; the first failure that is the peer's death stops them all.

    ``proc`` is the peer's process once started (None before). A call that fails
    while the process is still alive is a real error and is raised; a call that
    fails because the process ended is recorded as :attr:`death`, told through
    ``report`` in one line, and every later call returns None at once.
    """

    def __init__(self, name: str, *, repacked: bool, report: Callable[[str], None] = print) -> None:
        self.name = name
        self.repacked = repacked
        self.report = report
        self.proc: subprocess.Popen[Any] | None = None
        self.death: PeerDeath | None = None

    def call(self, fn: Callable[..., T], *args: Any) -> T | None:
        if self.death is not None:
            return None
        try:
            return fn(*args)
        except ProcessExited as exc:
            self._died(exc.returncode)
        except (httpx.HTTPError, OSError, EOFError):
            code = self._exit_code()
            if code is None:
                raise
            self._died(code)
        return None

    def _exit_code(self) -> int | None:
        if self.proc is None:
            return None
        try:
            return self.proc.wait(5)  # a crashing process may still be writing its core
        except subprocess.TimeoutExpired:
            return None

    def _died(self, returncode: int) -> None:
        self.death = death(self.name, returncode, repacked=self.repacked)
        self.report(self.death.line())

    def record(self, how: str) -> dict[str, Any]:
        """The ``peer`` entry of a result: how it ran, or how it died."""
        if self.death is not None:
            return {**self.death.as_dict(), "ran_as": how}
        return {"peer": self.name, "status": "ran", "ran_as": how}
