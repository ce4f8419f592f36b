"""Undo restores byte-identical trees and never touches the user's git."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from agent_helpers import snapshot_tree
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from redline.agent.environment import Environment
from redline.agent.environment.checkpoints import CheckpointError, Checkpoints
from redline.agent.protocols.toolbox import ToolBox


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout


def test_undo_restores_edits_creations_and_leaves_user_git_alone(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    _git(root, "config", "user.email", "u@example.com")
    _git(root, "config", "user.name", "u")
    (root / ".gitignore").write_text("*.log\n")
    (root / "a.py").write_bytes(b"a = 1\r\n")
    (root / "notes.log").write_text("ignored but edited\n")
    _git(root, "add", "a.py", ".gitignore")
    _git(root, "commit", "-qm", "init")
    (root / "a.py").write_bytes(b"a = 2\r\n")  # an uncommitted change of the user's
    _git(root, "stash", "-q")
    _git(root, "stash", "apply", "-q")
    (root / "a.py").chmod(0o600)
    git_state = [_git(root, "status", "--porcelain"), _git(root, "stash", "list")]
    git_state.append((root / ".git" / "index").read_bytes())
    git_state.append(_git(root, "rev-parse", "HEAD"))
    before = snapshot_tree(root)

    box = ToolBox(
        Environment(root, approval="full-auto", checkpoints=Checkpoints(root, tmp_path / "cp")),
        "s/1",
    )
    assert box.call("edit", {"path": "a.py", "edits": [{"search": "a = 2", "replace": "a = 3"}]}).ok
    assert box.call("write", {"path": "pkg/new.py", "content": "x = 1\n"}).ok
    assert box.call("write", {"path": "notes.log", "content": "changed\n"}).ok
    assert snapshot_tree(root) != before

    done = dict(box.env.checkpoints.undo(1))
    assert done == {"a.py": "restored", "pkg/new.py": "deleted", "notes.log": "restored"}
    after = {k: v for k, v in snapshot_tree(root).items() if not k.startswith(".git/")}
    assert after == {k: v for k, v in before.items() if not k.startswith(".git/")}
    assert (root / "a.py").stat().st_mode & 0o777 == 0o600
    assert [_git(root, "status", "--porcelain"), _git(root, "stash", "list")] == git_state[:2]
    assert (root / ".git" / "index").read_bytes() == git_state[2]
    assert _git(root, "rev-parse", "HEAD") == git_state[3]
    with pytest.raises(CheckpointError, match="nothing to undo"):
        box.env.checkpoints.undo(1)


def test_undo_n_tasks_and_diff(tmp_path: Path) -> None:
    root = tmp_path / "w"
    root.mkdir()
    (root / "f.txt").write_text("one\n")
    cps = Checkpoints(root, tmp_path / "cp")
    for n, text in enumerate(["two\n", "three\n", "four\n"], 1):
        box = ToolBox(Environment(root, approval="full-auto", checkpoints=cps), f"s/{n}")
        assert box.call("write", {"path": "f.txt", "content": text}).ok
    assert "-three\n+four" in cps.diff(["s/3"])
    cps.undo(2)
    assert (root / "f.txt").read_text() == "two\n"
    assert cps.tasks() == ["s/1"]


_names = st.sampled_from(["a.py", "b.txt", "sub/c.py", "sub/deep/d.md"])
_ops = st.lists(
    st.tuples(st.sampled_from(["write", "edit"]), _names, st.binary(max_size=40)),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=_ops, tasks=st.integers(min_value=1, max_value=3))
def test_random_edit_sequences_undo_to_identical_bytes(tmp_path_factory, ops, tasks) -> None:
    base = tmp_path_factory.mktemp("h")
    root = base / "w"
    root.mkdir()
    (root / "a.py").write_bytes(b"print('a')\n\tx = 1  \r\n")
    (root / "b.txt").write_bytes(b"\xff\xfe not utf8 \x00")
    before = snapshot_tree(root)
    cps = Checkpoints(root, base / "cp")
    for i, (op, name, data) in enumerate(ops):
        box = ToolBox(Environment(root, approval="full-auto", checkpoints=cps), f"s/{i % tasks}")
        text = data.decode("latin-1") + f"#{i}\n"
        if op == "edit" and (root / name).is_file():
            try:
                old = (root / name).read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # edit needs text; the model would get an error too
            if old:
                box.call("edit", {"path": name, "edits": [{"search": old, "replace": text}]})
                continue
        box.call("write", {"path": name, "content": text})
    note(f"ops={ops!r} tasks={tasks} journal={cps.entries()!r}")
    while cps.tasks():
        cps.undo(1)
    assert snapshot_tree(root) == before
