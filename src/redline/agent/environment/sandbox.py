"""The one sandbox every command the agent starts runs in, and the one gate before it.

The ``run`` tool, the ``test`` tool and verification's test runs all go through
:class:`Sandbox`: it decides whether to ask first (:meth:`Sandbox.permit`) and
builds the confined command line and scrubbed environment
(:meth:`Sandbox.command`). Modes, as Codex CLI users know them:

- ``workspace-write`` (default): a command reads the system, the Python
  installation and the workspace, writes only the workspace and a private temp
  dir, sees no network and no process outside its own sandbox.
- ``read-only``: the same, but the workspace is read-only too (temp dir only).
- ``off``: no confinement; commands still get the scrubbed environment.

Confinement is done by ``sandbox_exec.py`` (Landlock plus namespaces) in the
child, between fork and exec. Where the kernel has no Landlock the sandbox says
so once and every command asks for approval, even in ``full-auto``.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.agent.environment.secrets import scrubbed_env
from redline.config import SANDBOX_MODES as MODES
from redline.errors import ConfigError

LAUNCHER = Path(__file__).with_name("sandbox_exec.py")
SYSTEM_READS = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/opt")
SYSTEM_READS += ("/nix/store", "/proc", "/sys", "/dev/shm")
HOME_READS = (".gitconfig", ".config/git")
_TOOL_DIRS = {"bin", "sbin", "shims"}

Ask = Callable[[str, str], bool]
Notify = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Support:
    """What this machine lets the launcher do, probed once per process."""

    landlock_abi: int
    layers: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def available(self) -> bool:
        return self.landlock_abi >= 1


@functools.cache
def probe() -> Support:
    """Run the launcher once with ``--probe``; what it applied is what commands get."""
    if not sys.platform.startswith("linux"):
        return Support(0, error=f"no Landlock on {sys.platform}")
    try:
        proc = subprocess.run(
            [sys.executable, str(LAUNCHER), "--read", "/usr", "--probe"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        layers = json.loads(proc.stdout) if proc.returncode == 0 else {}
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        return Support(0, error=f"the sandbox launcher failed: {exc}")
    if not layers:
        return Support(0, error=proc.stderr.strip() or f"launcher exit {proc.returncode}")
    return Support(int(layers.get("landlock_abi") or 0), layers)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"unknown sandbox mode {mode!r}", hint="use " + ", ".join(MODES))
    return mode


@dataclass
class Sandbox:
    """Where commands may write, whether they may use the network, and when to ask."""

    root: Path
    mode: str = "workspace-write"
    network: bool = False
    approval: str = "full-auto"
    ask: Ask = lambda kind, what: False
    notify: Notify | None = None
    _told: bool = False

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        check_mode(self.mode)

    @property
    def confined(self) -> bool:
        """True when commands really run inside Landlock (mode on and kernel able)."""
        return self.mode != "off" and probe().available

    def describe(self) -> dict[str, Any]:
        """The ``sandbox`` event: mode and the layers that applied on this machine."""
        support = probe() if self.mode != "off" else Support(0)
        info: dict[str, Any] = {"mode": self.mode, "confined": self.confined}
        if self.mode != "off":
            info |= {"landlock_abi": support.landlock_abi, **support.layers}
            if not support.available:
                info["note"] = (
                    f"this kernel cannot sandbox commands ({support.error}); "
                    "every command will ask for approval first"
                )
        return info

    def _tell_once(self) -> None:
        if self._told:
            return
        self._told = True
        info = self.describe()
        if self.notify is not None:
            self.notify({"type": "sandbox", **info})
        if info.get("note"):
            sys.stderr.write(f"redline: {info['note']}\n")

    def permit(self, kind: str, what: str) -> bool:
        """May this command run? ``kind`` is "run" (a model-written command) or "test"
        (a test run). Unconfined commands ask unless the user chose ``full-auto`` with
        the sandbox off; a confined test run never asks, a command unless full-auto."""
        self._tell_once()
        if self.mode != "off" and not self.confined:
            return self.ask("run", what)  # the fallback: no sandbox, so a human decides
        auto = self.approval == "full-auto" or (kind == "test" and self.confined)
        return auto or self.ask("run", what)

    @contextmanager
    def command(
        self, argv: list[str], extra_env: Mapping[str, str] | None = None
    ) -> Iterator[tuple[list[str], dict[str, str]]]:
        """The argv and environment that run ``argv`` confined (a private temp dir
        lives for the duration of the ``with`` block)."""
        self._tell_once()
        tmp = tempfile.mkdtemp(prefix="redline-cmd-")
        try:
            env = scrubbed_env({"TMPDIR": tmp, "XDG_CACHE_HOME": tmp, **(extra_env or {})})
            if self.confined:
                argv = [sys.executable, str(LAUNCHER), *self._flags(tmp), "--", *argv]
            yield argv, env
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _flags(self, tmp: str) -> list[str]:
        writes = [tmp] + ([str(self.root)] if self.mode == "workspace-write" else [])
        reads = [str(self.root)] if self.mode == "read-only" else []
        reads += [p for p in read_paths() if not _contains(p, self.root)]
        flags = [f for p in reads for f in ("--read", p)]
        flags += [f for p in writes for f in ("--write", p)]
        return flags + (["--network"] if self.network else [])


def read_paths() -> list[str]:
    """What a command may read besides the workspace: the system, this Python, the
    tools on PATH and the user's git config; never a folder that holds the workspace."""
    home = Path.home()
    found: list[str] = [*SYSTEM_READS]
    found += [sys.prefix, sys.base_prefix, sys.exec_prefix]
    found.append(str(Path(os.path.realpath(sys.executable)).parent.parent))
    found += [p for p in sys.path if p and os.path.isabs(p)]
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if os.path.isabs(entry):
            # A tool manager's bin or shims folder runs code from its root
            # (~/.pyenv/shims -> ~/.pyenv/libexec): grant the root, not just the folder.
            tool_root = Path(entry).parent if Path(entry).name in _TOOL_DIRS else Path(entry)
            found.append(str(tool_root))
    found += [str(home / name) for name in HOME_READS]
    out: list[str] = []
    for path in found:
        if path not in out and path != "/" and os.path.exists(path) and Path(path) != home:
            out.append(path)
    return out


def _contains(path: str, root: Path) -> bool:
    """Whether ``path`` is ``root`` or a folder above it (granting it would expose
    the workspace's neighbours, e.g. ``../outside``)."""
    real = Path(os.path.realpath(path))
    return real == root or real in root.parents
