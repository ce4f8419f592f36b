"""The environment: one object for where the agent acts, and its scratch copies."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from redline.agent.environment import Environment
from redline.agent.environment.checkpoints import Checkpoints
from redline.errors import WorkspaceError


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }


def test_a_scratch_copy_is_changed_and_tested_without_touching_the_user_tree(
    sample: Path, tmp_path: Path
) -> None:
    env = Environment(sample, approval="suggest", checkpoints=Checkpoints(sample, tmp_path / "cp"))
    before = _tree(sample)
    with env.scratch_copy() as scratch:
        assert scratch.root != env.root and scratch.root.is_dir()
        assert scratch.approval == "auto-edit"  # a copy needs no approval for edits
        old = scratch.old("inventory/pricing.py")
        assert old is not None and old == env.old("inventory/pricing.py")
        fixed = old.replace("(1 - discount_percent)", "(1 - discount_percent / 100)")
        assert fixed != old, "the sample's bug moved: update this test"
        written = scratch.write(
            "inventory/pricing.py", old, fixed, task="scratch/1", label="try a fix"
        )
        assert written is not None and written.rel == "inventory/pricing.py"
        assert "+" in written.diff and written.checkpoint
        scratch.write("notes.txt", None, "new\n", task="scratch/1", label="new file")
        assert scratch.changes() == {"inventory/pricing.py": fixed, "notes.txt": "new\n"}
        assert scratch.sandbox.permit("test", "run the tests")  # confined: never asks
        assert scratch.run_tests().passed  # the fix, checked in the copy
        assert not env.run_tests().passed  # the user's tree still has the bug
        copy_root = scratch.root
    assert not copy_root.exists()  # closed: the copy is gone
    assert _tree(sample) == before  # byte for byte
    assert Checkpoints(sample, tmp_path / "cp").tasks() == []  # no checkpoint in the user's


def test_a_scratch_copy_keeps_the_workspace_boundary(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    (root / "a.py").write_text("x = 1\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s3cret\n")
    os.symlink(outside, root / "link_out")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    env = Environment(root, checkpoints=Checkpoints(root, tmp_path / "cp"))
    with env.scratch_copy() as scratch:
        assert not (scratch.root / ".git").exists()
        assert (scratch.root / "link_out").is_symlink()  # copied as a link, not followed
        with pytest.raises(WorkspaceError):
            scratch.old("link_out/secret.txt")
        with pytest.raises(WorkspaceError):
            scratch.write("../escape.py", None, "x\n", task="t", label="escape")
        assert scratch.changes() == {}


def test_the_user_declining_an_edit_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    asked: list[tuple[str, str]] = []

    def ask(kind: str, what: str) -> bool:
        asked.append((kind, what))
        return False

    env = Environment(tmp_path, ask=ask, checkpoints=Checkpoints(tmp_path, tmp_path.parent / "cp"))
    assert env.write("a.py", "x = 1\n", "x = 2\n", task="t/1", label="edit") is None
    assert (tmp_path / "a.py").read_text() == "x = 1\n"
    assert asked and asked[0][0] == "edit" and "+x = 2" in asked[0][1]
