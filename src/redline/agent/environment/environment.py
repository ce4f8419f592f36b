"""The environment: where the agent acts, as one object.

Everything the agent does outside its own head goes through an
:class:`Environment` (after mini-swe-agent's ``Environment`` protocol): the
workspace (``Workspace.contains`` decides inside or outside, symlinks
resolved), the approval policy, checkpoints before each write, the sandboxed
shell and test runner with the scrubbed environment. Nothing else in the agent
writes a file or starts a process.

A scratch copy (:meth:`Environment.scratch_copy`) is another instance on a
temporary copy of the tree, with its own checkpoints beside it: what candidate
replies and sub-agents try there never reaches the user's files. Its
:meth:`changes` say what was tried, for the caller to apply to the real
environment if it keeps it.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.environment.sandbox import Sandbox
from redline.agent.environment.shell import ShellResult, run_shell
from redline.agent.environment.testrun import TestRun, run_tests
from redline.agent.environment.workspace import Workspace

Approve = Callable[[str, str], bool]
"""(kind "edit" or "run", what: a diff or a command) -> allowed?"""
Emit = Callable[[dict[str, Any]], None]
SCRATCH_SKIP = (".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "node_modules", ".tox")
SCRATCH_SKIP += (".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", "*.egg-info")


@dataclass
class Written:
    """A change that reached the disk: the real relative path, its text before, the
    diff shown for approval and the checkpoint taken first."""

    rel: str
    old: str | None
    diff: str
    checkpoint: str


def unified_diff(old: str, new: str, path: str) -> str:
    old_name = f"a/{path}" if old else "/dev/null"
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, f"b/{path}"
        )
    )


class Environment:
    """One workspace root, the rules for changing it and the sandbox for running in it."""

    def __init__(
        self,
        root: str | Path,
        *,
        sandbox: str = "workspace-write",
        network: bool = False,
        approval: str = "suggest",
        ask: Approve | None = None,
        notify: Emit | None = None,
        checkpoints: Checkpoints | None = None,
        test_command: list[str] | None = None,
        run_timeout: float = 60.0,
        test_timeout: float = 120.0,
    ):
        self.ws = Workspace(root)
        self.root = self.ws.root
        self.approval = approval
        self.ask: Approve = ask or (lambda kind, what: False)
        self.checkpoints = checkpoints if checkpoints is not None else Checkpoints(self.root)
        self.sandbox = Sandbox(
            self.root, sandbox, network=network, approval=approval, ask=self.ask, notify=notify
        )
        self.test_command = test_command
        self.run_timeout = run_timeout
        self.test_timeout = test_timeout
        self._scratch: Path | None = None
        self._base: dict[str, str] = {}

    def set_policy(self, approval: str, ask: Approve) -> None:
        """A new approval mode or prompt (the session may change them between tasks)."""
        self.approval, self.ask = approval, ask
        self.sandbox.approval, self.sandbox.ask = approval, ask

    # -- files ---------------------------------------------------------------
    def allowed(self, kind: str, what: str) -> bool:
        """May this edit (or command) go ahead under the approval mode?"""
        if self.approval == "full-auto" or (self.approval == "auto-edit" and kind == "edit"):
            return True
        return self.ask(kind, what)

    def old(self, path: str) -> str | None:
        """The current text of ``path``, None when there is no such file (a refused
        path raises WorkspaceError)."""
        return self.ws.read_text(path) if self.ws.resolve(path).is_file() else None

    def write(
        self, path: str, old: str | None, new: str, *, task: str, label: str
    ) -> Written | None:
        """Approve, checkpoint, write atomically: the one way any file changes.
        None when the user declined."""
        real = self.ws.resolve(path).resolve()
        rel = real.relative_to(self.root).as_posix()
        diff = unified_diff(old or "", new, rel)
        if not self.allowed("edit", diff):
            return None
        sha = self.checkpoints.snapshot([rel], task=task, label=label)
        self.ws.write_text(path, new)
        return Written(rel, old, diff, sha)

    # -- commands ------------------------------------------------------------
    def run_tests(
        self, targets: list[str] | tuple[str, ...] = (), *, timeout: float | None = None
    ) -> TestRun:
        """The project's tests (or ``targets``) in the sandbox; the caller asks
        ``sandbox.permit`` first where a human may have to agree."""
        return run_tests(
            self.root,
            list(targets),
            timeout=self.test_timeout if timeout is None else timeout,
            command=self.test_command,
            sandbox=self.sandbox,
        )

    def run_shell(
        self, command: str, *, timeout: float | None = None, cancel: threading.Event | None = None
    ) -> ShellResult:
        return run_shell(
            command,
            self.root,
            timeout=self.run_timeout if timeout is None else timeout,
            cancel=cancel,
            sandbox=self.sandbox,
        )

    # -- scratch copies --------------------------------------------------------
    def scratch_copy(self) -> Environment:
        """A new environment on a temporary copy of this tree (no ``.git``, no caches):
        edits there are approved, checkpointed beside the copy, and never touch this
        tree. Close it (or use it in a ``with`` block) to delete the copy."""
        base = Path(tempfile.mkdtemp(prefix="redline-scratch-"))
        tree = base / "tree"
        skip = shutil.ignore_patterns(*SCRATCH_SKIP)
        shutil.copytree(self.root, tree, symlinks=True, ignore=skip)
        scratch = Environment(
            tree,
            sandbox=self.sandbox.mode,
            network=self.sandbox.network,
            approval="auto-edit",
            ask=self.ask,
            checkpoints=Checkpoints(tree, base=base / "checkpoints"),
            test_command=self.test_command,
            run_timeout=self.run_timeout,
            test_timeout=self.test_timeout,
        )
        scratch._scratch = base
        scratch._base = scratch._hashes()
        return scratch

    def _hashes(self) -> dict[str, str]:
        out = {}
        for rel in self.ws.list_files():
            try:
                out[rel] = hashlib.sha1((self.root / rel).read_bytes()).hexdigest()
            except OSError:
                continue
        return out

    def changes(self) -> dict[str, str | None]:
        """A scratch copy's changes since it was made: path -> new text (None: deleted)."""
        now = self._hashes()
        out: dict[str, str | None] = {}
        for rel in sorted(set(now) | set(self._base)):
            if now.get(rel) == self._base.get(rel):
                continue
            out[rel] = self.ws.read_optional(rel) if rel in now else None
        return out

    def close(self) -> None:
        """Delete a scratch copy (a no-op for the user's own workspace)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
