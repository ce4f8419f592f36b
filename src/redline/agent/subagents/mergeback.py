"""Merging a sub-agent's branch back into the user's working tree, or not at all.

The user's tree is the one place a parallel run must never damage, so a merge
is computed whole before anything is written: per changed file, a three-way
merge of the user's current bytes ("ours", uncommitted edits included), the
snapshot the sub-agent started from ("base") and its branch ("theirs"), with
``git merge-file``. One conflicting file and nothing is written. Otherwise
the paths are checkpointed (so ``redline undo`` restores them byte for byte)
and written atomically; :func:`revert` puts the previous bytes back when the
checks after a merge fail. The user's index is never used: ``git apply
--3way`` would need it.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.environment.workspace import atomic_write
from redline.agent.environment.worktrees import Change, Repo

_MODES = {"100644": 0o644, "100755": 0o755}


@dataclass
class Merge:
    """What merging one branch would do: new bytes per path (None: delete), or why not."""

    writes: dict[str, tuple[bytes | None, int | None]] = field(default_factory=dict)
    """Workspace-relative path -> (new bytes or None to delete, file mode)."""
    conflicts: list[str] = field(default_factory=list)
    """``path: reason`` for every file that does not merge cleanly."""


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() and not path.is_symlink() else None


def merge_file(ours: bytes, base: bytes, theirs: bytes) -> bytes | None:
    """git's three-way text merge of one file; None when the changes collide."""
    with tempfile.TemporaryDirectory(prefix="redline-merge-") as tmp:
        names = []
        for name, data in (("ours", ours), ("base", base), ("theirs", theirs)):
            (Path(tmp) / name).write_bytes(data)
            names.append(str(Path(tmp) / name))
        proc = subprocess.run(["git", "merge-file", "-p", *names], capture_output=True, timeout=60)
    return proc.stdout if proc.returncode == 0 else None


def _binary(*blobs: bytes | None) -> bool:
    return any(b is not None and b"\0" in b[:8000] for b in blobs)


def plan_merge(repo: Repo, base: str, head: str, changes: list[Change]) -> Merge:
    """The merge of ``base..head`` into the user's tree as it is now (nothing written)."""
    out = Merge()
    for change in changes:
        rel = repo.to_root(change.path)
        target = repo.top / change.path
        if target.is_symlink() or target.is_dir():
            out.conflicts.append(f"{rel}: not a regular file in your tree")
            continue
        ours = _read(target)
        was = repo.blob(base, change.path)
        new = repo.blob(head, change.path)
        if new is not None and new[1] not in _MODES:
            out.conflicts.append(f"{rel}: a {new[1]} entry (symlink or submodule) is not merged")
            continue
        base_b = was[0] if was else None
        theirs = new[0] if new else None
        mode = _MODES[new[1]] if new else None
        if ours == theirs:
            continue  # already so (the user made the same change)
        if ours == base_b:
            out.writes[rel] = (theirs, mode)
        elif ours is None or base_b is None or theirs is None or _binary(ours, base_b, theirs):
            out.conflicts.append(
                f"{rel}: changed both in your tree (or by an earlier merge) and here"
            )
        else:
            merged = merge_file(ours, base_b, theirs)
            if merged is None:
                out.conflicts.append(
                    f"{rel}: the same lines changed differently in your tree or an earlier merge"
                )
            else:
                out.writes[rel] = (merged, None)  # keep the user's mode
    return out


def apply(
    merge: Merge, root: Path, checkpoints: Checkpoints, task: str, label: str
) -> dict[str, bytes | None]:
    """Checkpoint, then write ``merge`` into ``root``; returns the previous bytes."""
    paths = sorted(merge.writes)
    previous = {p: _read(root / p) for p in paths}
    checkpoints.snapshot(paths, task=task, label=label)
    for path in paths:
        data, mode = merge.writes[path]
        if data is None:
            (root / path).unlink(missing_ok=True)
        else:
            atomic_write(root / path, data, mode=mode if previous[path] is None else None)
    return previous


def revert(root: Path, merge: Merge, previous: dict[str, bytes | None]) -> list[str]:
    """Put back the bytes :func:`apply` replaced (files it created are removed).

    A file changed again since the merge (the user typing while the checks ran)
    is left as it is: its path is returned, and its merged-in state stays
    recoverable with ``redline undo``.
    """
    kept = []
    for path, data in previous.items():
        target = root / path
        if _read(target) != merge.writes[path][0] or target.is_symlink():
            kept.append(path)
        elif data is None:
            target.unlink(missing_ok=True)
        else:
            atomic_write(target, data)
    return kept


def save_patch(repo: Repo, base: str, head: str, folder: Path, name: str) -> Path | None:
    """Keep an unmerged branch's changes as a patch file (``git apply`` replays it)."""
    text = repo.patch(base, head)
    if not text:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.patch"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    return path
