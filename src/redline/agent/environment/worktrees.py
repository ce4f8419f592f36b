"""Git worktrees for sub-agents: a private checkout each, the user's untouched.

``redline exec --parallel`` runs several agents at once. Each needs a tree of
its own (two agents writing one folder would read each other's half-done
edits), so each gets a ``git worktree`` on its own branch, in a folder under
the redline state dir, never inside the user's tree.

The worktrees start from :meth:`Repo.snapshot`: a commit of the working tree
*as it is*, uncommitted and untracked (not ignored) files included, built with
a private index file. So sub-agents see what the user sees, while the user's
index, HEAD and files are never written (the only traces in the user's
``.git`` are the worktree entries and ``redline/sub-*`` branches, removed by
:meth:`Repo.remove_worktree`, and unreferenced objects that ``git gc`` drops).
Every git call runs with hooks off, no signing and a fixed identity: it is
plumbing, not the user's commit.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from redline.errors import AgentError

JUNK = ("__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache", "*.redline-tmp")
"""Never committed from a sub-agent's tree: caches its test runs leave behind."""

_CONFIG = (
    "core.hooksPath=/dev/null",
    "commit.gpgsign=false",
    "core.autocrlf=false",
    "user.name=redline",
    "user.email=redline@localhost",
)


class WorktreeError(AgentError):
    code = "worktree_error"


@dataclass(frozen=True)
class Change:
    """One file a sub-agent's branch changed: ``status`` is git's A, M, D or T."""

    status: str
    path: str
    """Relative to the repository's top folder."""


def _env(index: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    if index is not None:
        env["GIT_INDEX_FILE"] = str(index)
    return env


def git(cwd: Path, *args: str, index: Path | None = None, ok: tuple[int, ...] = (0,)) -> bytes:
    """Run git in ``cwd``; a failure raises :class:`WorktreeError` with git's message."""
    cmd = ["git"] + [f for c in _CONFIG for f in ("-c", c)] + list(args)
    proc = subprocess.run(
        cmd, cwd=cwd, env=_env(index), capture_output=True, timeout=120, stdin=subprocess.DEVNULL
    )
    if proc.returncode not in ok:
        msg = proc.stderr.decode("utf-8", "replace").strip() or f"exit {proc.returncode}"
        raise WorktreeError(f"git {args[0]} failed: {msg}")
    return proc.stdout


def _pathspec(prefix: str) -> list[str]:
    return (
        [prefix or "."]
        + [f":(exclude,glob)**/{name}" for name in JUNK]
        + [f":(exclude,glob)**/{name}/**" for name in JUNK]
    )


class Repo:
    """The user's repository, seen from the workspace root ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        try:
            top = git(self.root, "rev-parse", "--show-toplevel").decode().strip()
        except (WorktreeError, OSError) as exc:
            raise WorktreeError(
                f"--parallel needs a git repository; {self.root} is not in one",
                hint="run `git init && git add -A && git commit -m init` first",
            ) from exc
        self.top = Path(top).resolve()
        rel = self.root.relative_to(self.top).as_posix()
        self.prefix = "" if rel == "." else rel
        """The workspace folder inside the repository ("" at the top)."""

    def to_root(self, path: str) -> str:
        """A top-relative path as a workspace-relative one."""
        return path[len(self.prefix) + 1 :] if self.prefix else path

    def snapshot(self) -> str:
        """A commit of the working tree as it is now (uncommitted and untracked,
        not ignored, files included), made through a private index file."""
        head = git(self.top, "rev-parse", "--verify", "-q", "HEAD", ok=(0, 1)).decode().strip()
        with tempfile.TemporaryDirectory(prefix="redline-index-") as tmp:
            index = Path(tmp) / "index"
            git(self.top, "read-tree", *([head] if head else ["--empty"]), index=index)
            git(self.top, "add", "-A", "--", *_pathspec(self.prefix), index=index)
            tree = git(self.top, "write-tree", index=index).decode().strip()
        parents = ["-p", head] if head else []
        msg = "redline: the working tree before a parallel run"
        return git(self.top, "commit-tree", tree, *parents, "-m", msg).decode().strip()

    def add_worktree(self, path: Path, branch: str, base: str) -> Path:
        """A new worktree at ``path`` on a new ``branch`` at ``base``; returns the
        folder that corresponds to the workspace root inside it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        git(self.top, "worktree", "add", "--quiet", "-b", branch, str(path), base)
        inner = path / self.prefix if self.prefix else path
        inner.mkdir(parents=True, exist_ok=True)
        return inner

    def commit_all(self, path: Path, message: str) -> str:
        """Commit everything the sub-agent changed inside the workspace folder of
        the worktree at ``path``; returns the branch head (unchanged if nothing)."""
        git(path, "add", "-A", "--", *_pathspec(self.prefix))
        if git(path, "diff", "--cached", "--name-only", "-z"):
            git(path, "commit", "--quiet", "--no-verify", "-m", message)
        return git(path, "rev-parse", "HEAD").decode().strip()

    def changes(self, base: str, head: str) -> list[Change]:
        """The files ``head`` changed since ``base``, inside the workspace folder."""
        out = git(
            self.top,
            "diff",
            "--name-status",
            "--no-renames",
            "-z",
            base,
            head,
            "--",
            self.prefix or ".",
        ).decode("utf-8", "surrogateescape")
        fields = [f for f in out.split("\0") if f]
        return [Change(fields[i][0], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]

    def blob(self, commit: str, path: str) -> tuple[bytes, str] | None:
        """The exact bytes and git mode of ``path`` in ``commit``; None if absent."""
        row = git(self.top, "ls-tree", "-z", commit, "--", path).decode("utf-8", "replace")
        entry = next((r for r in row.split("\0") if r), None)
        if entry is None:
            return None
        mode, _kind, obj = entry.partition("\t")[0].split()
        return git(self.top, "cat-file", "blob", obj), mode

    def patch(self, base: str, head: str) -> str:
        """``git diff --binary`` of a branch: what ``git apply`` can replay later."""
        out = git(self.top, "diff", "--binary", base, head, "--", self.prefix or ".")
        return out.decode("utf-8", "surrogateescape")

    def remove_worktree(self, path: Path, branch: str) -> list[str]:
        """Remove a worktree and its branch; returns what could not be removed
        (said in an event by the caller, never silently dropped)."""
        problems = []
        for args in (
            ("worktree", "remove", "--force", "--force", str(path)),
            ("branch", "-D", branch),
        ):
            try:
                git(self.top, *args)
            except WorktreeError as exc:
                problems.append(exc.message)
        try:
            git(self.top, "worktree", "prune")
        except WorktreeError as exc:
            problems.append(exc.message)
        return problems

    def branches(self, pattern: str) -> list[str]:
        out = git(self.top, "branch", "--list", "--format=%(refname:short)", pattern)
        return out.decode().split()
