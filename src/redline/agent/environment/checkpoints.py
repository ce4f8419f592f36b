"""Checkpoints: a snapshot before every edit, and ``undo`` that restores bytes exactly.

Snapshots live in a *shadow* git repository under the redline state dir, driven
through ``GIT_DIR`` / ``GIT_WORK_TREE`` / ``GIT_INDEX_FILE``, so the user's own
``.git`` (index, branches, stash, hooks) is never touched. Blobs are hashed
with ``--no-filters`` so they hold the files' exact bytes. A journal (JSON
lines) says which task touched which paths; undo rewinds them to the snapshot
taken before each was first changed, and deletes files the agent created. A
snapshot is also taken before an undo, so even an undo loses nothing.
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from redline.agent.environment.workspace import atomic_write
from redline.config import state_dir
from redline.errors import AgentError


@dataclass
class Checkpoint:
    """One snapshot: the commit holding the tree, and the paths about to change."""

    sha: str
    task: str
    label: str
    paths: list[str]
    time: float = field(default_factory=time.time)
    kind: str = "edit"
    undone: bool = False


_EXCLUDE = "*.redline-tmp\n__pycache__/\n.venv/\nvenv/\nnode_modules/\n.pytest_cache/\n"


class CheckpointError(AgentError):
    code = "checkpoint_error"


class Checkpoints:
    """The shadow repository for one workspace root."""

    def __init__(self, root: str | Path, base: Path | None = None):
        self.root = Path(root).resolve()
        key = hashlib.sha1(str(self.root).encode()).hexdigest()[:16]
        self.git_dir = ((base or state_dir() / "checkpoints") / key).resolve()
        self.journal = self.git_dir / "redline-journal.jsonl"
        self._ensure()

    # -- git plumbing ------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_DIR=str(self.git_dir),
            GIT_WORK_TREE=str(self.root),
            GIT_INDEX_FILE=str(self.git_dir / "index"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_AUTHOR_NAME="redline",
            GIT_AUTHOR_EMAIL="redline@localhost",
            GIT_COMMITTER_NAME="redline",
            GIT_COMMITTER_EMAIL="redline@localhost",
        )
        return env

    def _git(self, *args: str, input: bytes | None = None) -> bytes:
        cmd = ["git", "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false"]
        cmd += ["-c", "core.safecrlf=false", "-c", "commit.gpgsign=false", *args]
        proc = subprocess.run(
            cmd, env=self._env(), cwd=self.root, input=input, capture_output=True, timeout=120
        )
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip()
            raise CheckpointError(f"checkpoint git {args[0]} failed: {msg}")
        return proc.stdout

    def _ensure(self) -> None:
        if (self.git_dir / "HEAD").exists():
            return
        self.git_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "-q", "--bare", str(self.git_dir)],
            check=True,
            capture_output=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        )
        info = self.git_dir / "info"
        info.mkdir(exist_ok=True)
        (info / "attributes").write_text("* -text -filter -ident -eol -diff\n")
        (info / "exclude").write_text(_EXCLUDE)
        self._git("config", "core.bare", "false")
        self._git("config", "core.fileMode", "true")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time (an exec and the LSP may share a workspace)."""
        with open(self.git_dir / "redline.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- journal -----------------------------------------------------------
    def entries(self) -> list[Checkpoint]:
        if not self.journal.exists():
            return []
        lines = self.journal.read_text(encoding="utf-8").splitlines()
        return [Checkpoint(**json.loads(line)) for line in lines if line.strip()]

    def _save(self, entries: list[Checkpoint]) -> None:
        text = "".join(json.dumps(asdict(e)) + "\n" for e in entries)
        atomic_write(self.journal, text.encode("utf-8"))

    # -- public ------------------------------------------------------------
    def snapshot(self, paths: list[str], *, task: str, label: str, kind: str = "edit") -> str:
        """Record the exact bytes of ``paths`` (absent ones as absent) before they change.

        Contents are hashed explicitly rather than via ``git add``: git's stat
        cache can miss a same-size rewrite within one timestamp tick.
        """
        with self._locked():
            present = [p for p in paths if (self.root / p).is_file()]
            lines = [f"0 {'0' * 40}\t{p}" for p in paths if p not in present]
            if present:
                shas = (
                    self._git(
                        "hash-object",
                        "-w",
                        "--no-filters",
                        "--stdin-paths",
                        input="".join(p + "\n" for p in present).encode(),
                    )
                    .decode()
                    .split()
                )
                for path, sha in zip(present, shas, strict=True):
                    mode = "100755" if os.access(self.root / path, os.X_OK) else "100644"
                    lines.append(f"{mode} {sha}\t{path}")
            self._git("update-index", "--add", "--index-info", input="\n".join(lines).encode())
            tree = self._git("write-tree").decode().strip()
            entries = self.entries()
            args = ["commit-tree", tree, "-m", f"{kind}: {label}"]
            if entries:
                args += ["-p", entries[-1].sha]
            sha = self._git(*args).decode().strip()
            self._git("update-ref", "refs/redline/head", sha)
            entries.append(Checkpoint(sha=sha, task=task, label=label, paths=paths, kind=kind))
            self._save(entries)
            return sha

    def tasks(self) -> list[str]:
        """Tasks with edits that are not undone yet, oldest first."""
        seen: list[str] = []
        for e in self.entries():
            if e.kind == "edit" and not e.undone and e.task not in seen:
                seen.append(e.task)
        return seen

    def first_states(self, task_ids: list[str]) -> dict[str, str]:
        """For each path the tasks touched: the snapshot taken just before its first change."""
        first: dict[str, str] = {}
        for e in self.entries():
            if e.kind == "edit" and not e.undone and e.task in task_ids:
                for p in e.paths:
                    first.setdefault(p, e.sha)
        return first

    def blob(self, sha: str, path: str) -> tuple[bytes, int] | None:
        """The bytes and mode of ``path`` in snapshot ``sha``, or None if it was absent."""
        listing = self._git("ls-tree", "-z", sha, "--", path).decode("utf-8", "replace")
        row = next((r for r in listing.split("\0") if r), None)
        if row is None:
            return None
        meta, _, _ = row.partition("\t")
        mode, _kind, obj = meta.split()
        data = self._git("cat-file", "blob", obj)
        return data, (0o755 if mode == "100755" else 0o644)

    def undo(self, n_tasks: int = 1) -> list[tuple[str, str]]:
        """Rewind to just before the last ``n_tasks`` tasks began.

        Every edit recorded since then is undone (a stack: later edits go too),
        each path restored from the snapshot taken before its first change in
        that span. Returns ``(path, "restored" | "deleted")`` pairs.
        """
        tasks = self.tasks()
        if not tasks:
            raise CheckpointError("nothing to undo", hint="no agent edits are recorded here")
        chosen = tasks[-max(1, n_tasks) :]
        live = [e for e in self.entries() if e.kind == "edit" and not e.undone]
        cut = next(i for i, e in enumerate(live) if e.task in chosen)
        span = live[cut:]
        first: dict[str, str] = {}
        for e in span:
            for p in e.paths:
                first.setdefault(p, e.sha)
        label = f"undo:{','.join(chosen)}"
        self.snapshot(sorted(first), task=label, label="before undo", kind="undo")
        done: list[tuple[str, str]] = []
        with self._locked():
            for path, sha in sorted(first.items()):
                state = self.blob(sha, path)
                target = self.root / path
                if state is None:
                    if target.is_file() or target.is_symlink():
                        target.unlink()
                    done.append((path, "deleted"))
                else:
                    keep = None if target.exists() else state[1]
                    atomic_write(target, state[0], mode=keep)
                    done.append((path, "restored"))
            undone = {e.sha for e in span}
            entries = self.entries()
            for e in entries:
                e.undone = e.undone or e.sha in undone
            self._save(entries)
        return done

    def diff(self, task_ids: list[str] | None = None) -> str:
        """A unified diff of what the given tasks (default: all not undone) changed."""
        first = self.first_states(task_ids if task_ids is not None else self.tasks())
        out: list[str] = []
        for path, sha in sorted(first.items()):
            state = self.blob(sha, path)
            old = state[0].decode("utf-8", "replace") if state else ""
            target = self.root / path
            new = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else ""
            out.extend(
                difflib.unified_diff(
                    old.splitlines(keepends=True),
                    new.splitlines(keepends=True),
                    f"a/{path}" if state else "/dev/null",
                    f"b/{path}" if target.is_file() else "/dev/null",
                )
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)
