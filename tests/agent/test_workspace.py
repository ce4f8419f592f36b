"""The workspace boundary and atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from redline.agent.environment import Environment
from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.environment.workspace import Workspace, atomic_write
from redline.agent.protocols.toolbox import ToolBox
from redline.errors import WorkspaceError


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "root"
    root.mkdir()
    (root / "ok.py").write_text("x = 1\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    return Workspace(root)


ATTACKS = [
    "../secret.txt",
    "sub/../../secret.txt",
    "/etc/passwd",
    "~/secret.txt",
    "evil\nname.py",
    "evil\x00name.py",
    ".git/config",
    "",
]


@pytest.mark.parametrize("path", ATTACKS)
def test_confinement_attacks_are_refused(ws: Workspace, path: str) -> None:
    with pytest.raises(WorkspaceError):
        ws.resolve(path)


def test_symlinks_out_are_refused_but_inside_is_fine(ws: Workspace, tmp_path: Path) -> None:
    (ws.root / "link_file").symlink_to(tmp_path / "secret.txt")
    (ws.root / "link_dir").symlink_to(tmp_path)
    (ws.root / "inner").symlink_to(ws.root / "ok.py")
    for path in ("link_file", "link_dir/secret.txt", "link_dir"):
        with pytest.raises(WorkspaceError, match="symlink"):
            ws.resolve(path)
    assert ws.read_text("inner") == "x = 1\n"


@pytest.mark.parametrize("path", [*ATTACKS[:-1], "link_out/new.py"])
def test_every_file_tool_refuses_attacks(ws: Workspace, tmp_path: Path, path: str) -> None:
    (ws.root / "link_out").symlink_to(tmp_path)
    box = ToolBox(
        Environment(
            ws.root, approval="full-auto", checkpoints=Checkpoints(ws.root, base=tmp_path / "cp")
        ),
        "t/1",
    )
    calls = [
        ("read", {"path": path}),
        ("list", {"path": path}),
        ("search", {"pattern": "x", "path": path}),
        ("edit", {"path": path, "edits": [{"search": "a", "replace": "b"}]}),
        ("write", {"path": path, "content": "pwned\n"}),
        ("test", {"path": path}),
    ]
    for name, args in calls:
        outcome = box.call(name, args)
        assert not outcome.ok, (name, path)
        assert "refused" in outcome.output or "empty path" in outcome.output
    assert (tmp_path / "secret.txt").read_text() == "outside\n"
    assert not (tmp_path / "new.py").exists()


def test_atomic_write_keeps_permissions_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "script.sh"
    target.write_text("old\n")
    target.chmod(0o751)
    atomic_write(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert os.listdir(tmp_path) == ["script.sh"]


def test_list_respects_gitignore_without_git(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("build/\n*.log\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.py").write_text("")
    (tmp_path / "a.log").write_text("")
    (tmp_path / "a.py").write_text("")
    assert Workspace(tmp_path).list_files() == [".gitignore", "a.py"]


def test_tools_find_a_file_by_its_unique_tail(sample: Path, tmp_path: Path) -> None:
    box = ToolBox(
        Environment(
            sample, approval="full-auto", checkpoints=Checkpoints(sample, base=tmp_path / "cp")
        ),
        "t/1",
    )
    outcome = box.call("read", {"path": "pricing.py"})
    assert outcome.ok and outcome.output.startswith("(no pricing.py; using inventory/pricing.py)")
    missing = box.call("test", {"path": "nope.py"})
    assert not missing.ok and "no such file" in missing.output
