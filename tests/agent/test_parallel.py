"""Parallel sub-agents in git worktrees: scripted models, real git, real files, real pytest."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.environment.worktrees import WorktreeError
from redline.agent.loop import AgentConfig
from redline.agent.subagents.parallel import ParallelResult, ParallelRun
from redline.agent.subagents.subtasks import parse_plan, plan_subtasks
from redline.config import state_dir
from redline.providers.scripted import ScriptedProvider

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
TEST_SUM = (
    "from a import A\nfrom b import B\nfrom c import C\n\n\n"
    "def test_sum():\n    assert A + B + C <= {limit}\n"
)


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True, check=True)
    return proc.stdout


def make_repo(tmp_path: Path, limit: int = 6) -> Path:
    """A small project: three modules and a test on their sum, committed."""
    repo = tmp_path / "proj"
    repo.mkdir()
    files = {
        "a.py": "# module a\n\n\n\nA = 1\n",
        "b.py": "B = 1\n",
        "c.py": "C = 1\n",
        "d.txt": "committed\n",
        "test_sum.py": TEST_SUM.format(limit=limit),
    }
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "init")
    return repo


def tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes outside .git (caches excluded): byte-for-byte comparisons."""
    skip = {".git", "__pycache__", ".pytest_cache"}
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not skip.intersection(p.relative_to(root).parts)
    }


def git_state(repo: Path) -> tuple[bytes, str, str]:
    """The user's index bytes, HEAD and its branch tip, read without git writing anything."""
    head = (repo / ".git" / "HEAD").read_text()
    tip = (repo / ".git" / head.removeprefix("ref: ").strip()).read_text()
    return (repo / ".git" / "index").read_bytes(), head, tip


def refs(repo: Path) -> list[str]:
    """Every ref file and folder under .git/refs (sub-agent branches come and go)."""
    return sorted(str(p.relative_to(repo / ".git")) for p in (repo / ".git/refs").rglob("*"))


def write_done(path: str, content: str) -> dict[str, Any]:
    """One scripted reply that writes a file and finishes: the same whichever sub-agent gets it."""
    return {
        "calls": [
            {"name": "write", "arguments": {"path": path, "content": content}},
            {"name": "done", "arguments": {"summary": f"wrote {path}"}},
        ]
    }


class Watching(ScriptedProvider):
    """A scripted provider that calls ``watch`` whenever a sub-agent asks it (mid-run)."""

    def __init__(self, replies: list[Any], watch: Callable[[], None]):
        super().__init__(replies)
        self.watch = watch

    def stream(self, request, cancel=None):
        self.watch()
        yield from super().stream(request, cancel)


def run_parallel(
    repo: Path,
    subtasks: list[str],
    providers: list[ScriptedProvider] | None = None,
    *,
    shared: ScriptedProvider | None = None,
    task: str = "do the sub-tasks",
    parallel: int = 3,
) -> tuple[ParallelResult, list[dict[str, Any]]]:
    events: list[dict[str, Any]] = []
    run = ParallelRun(
        shared or ScriptedProvider([]),
        repo,
        parallel=parallel,
        config=AgentConfig(max_steps=4),
        approval="full-auto",
        emit=events.append,
        session_id="t",
        provider_for=(lambda i: providers[i]) if providers else None,
    )
    return run.run(task, subtasks), events


def assert_cleaned(repo: Path) -> None:
    listing = git(repo, "worktree", "list", "--porcelain")
    assert listing.count("worktree ") == 1, listing
    assert git(repo, "branch", "--list", "redline/*") == ""
    leftovers = [p.name for p in (state_dir() / "parallel").glob("*") if p.name != "patches"]
    assert leftovers == []


def sees_the_users_work(worktree: Path) -> bool:
    edited = (worktree / "d.txt").read_text() == "my uncommitted edit\n"
    return edited and (worktree / "notes.txt").is_file()


def test_three_subtasks_merge_checks_pass_and_undo_restores(tmp_path: Path):
    repo = make_repo(tmp_path)
    (repo / "d.txt").write_text("my uncommitted edit\n")  # the user's work in progress
    (repo / "notes.txt").write_text("untracked notes\n")
    before, state, refs_before = tree(repo), git_state(repo), refs(repo)
    seen: list[tuple[bool, bool, int]] = []
    lock = threading.Lock()

    def watch() -> None:
        # Mid-run: the user's files, index and HEAD are as they were, and each
        # worktree (under the state dir) sees the user's uncommitted and untracked files.
        trees = list((state_dir() / "parallel").glob("*/sub-*"))
        seeing = sum(sees_the_users_work(t) for t in trees)
        with lock:
            seen.append((tree(repo) == before, git_state(repo) == state, seeing))

    new = {"a.py": "# module a\n\n\n\nA = 2\n", "b.py": "B = 2\n", "c.py": "C = 2\n"}
    providers = [Watching([write_done(p, t)], watch) for p, t in new.items()]
    result, events = run_parallel(repo, ["set A to 2", "set B to 2", "set C to 2"], providers)

    assert result.status == "finished" and result.exit_code == 0, result.subs
    assert [s.merge for s in result.subs] == ["merged"] * 3
    assert seen and all(same_tree and same_git for same_tree, same_git, _ in seen), seen
    assert all(n == 3 for _, _, n in seen)
    for path, text in new.items():
        assert (repo / path).read_text() == text
    assert (repo / "d.txt").read_text() == "my uncommitted edit\n"
    assert sorted(tree(repo)) == sorted(before)  # no stray files (caches, patches)
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert tests.returncode == 0, tests.stdout
    # events: the plan, each sub-agent's own events tagged, timings at the end
    plan = next(e for e in events if e["type"] == "plan")
    assert plan["source"] == "given" and len(plan["subtasks"]) == 3
    assert {e["sub"] for e in events if e["type"] == "edit_applied"} == {0, 1, 2}
    done = events[-1]
    assert done["type"] == "parallel_done"
    for sub in done["subtasks"]:
        assert sub["turns"] == 1 and sub["completion_tokens"] > 0 and sub["seconds"] > 0
    merge_checks = [e for e in events if e["type"] == "verification" and e.get("stage")]
    assert len(merge_checks) == 3 and all(e["tests"]["passed"] for e in merge_checks)
    assert_cleaned(repo)
    assert git_state(repo) == state and refs(repo) == refs_before

    Checkpoints(repo).undo(1)
    assert tree(repo) == before


def test_a_conflict_keeps_the_first_merge_and_the_second_as_a_patch(tmp_path: Path):
    repo = make_repo(tmp_path)
    before = tree(repo)
    providers = [
        ScriptedProvider([write_done("b.py", "B = 2\n")]),
        ScriptedProvider([write_done("b.py", "B = 3\n")]),
    ]
    result, events = run_parallel(repo, ["set B to 2", "set B to 3"], providers)

    assert [s.merge for s in result.subs] == ["merged", "conflict"]
    assert result.status == "partial" and result.exit_code == 1
    assert (repo / "b.py").read_text() == "B = 2\n"
    assert {k: v for k, v in tree(repo).items() if k != "b.py"} == {
        k: v for k, v in before.items() if k != "b.py"
    }
    conflict = next(e for e in events if e["type"] == "merge" and e["result"] == "conflict")
    assert conflict["sub"] == 1 and "b.py" in conflict["detail"]
    patch = Path(conflict["patch"])  # the losing side is kept, not dropped
    assert "+B = 3" in patch.read_text()
    assert_cleaned(repo)
    Checkpoints(repo).undo(1)
    assert tree(repo) == before


def test_a_merge_whose_checks_fail_is_taken_back(tmp_path: Path):
    # Each change passes alone (sum 4 <= 5); all three together do not (6).
    repo = make_repo(tmp_path, limit=5)
    new = {"a.py": "# module a\n\n\n\nA = 2\n", "b.py": "B = 2\n", "c.py": "C = 2\n"}
    providers = [ScriptedProvider([write_done(p, t)]) for p, t in new.items()]
    result, events = run_parallel(repo, ["a", "b", "c"], providers)

    assert [s.status for s in result.subs] == ["finished"] * 3
    assert [s.merge for s in result.subs] == ["merged", "merged", "checks_failed"]
    assert (repo / "c.py").read_text() == "C = 1\n"  # as before that merge
    assert (repo / "b.py").read_text() == "B = 2\n"
    failed = [e for e in events if e["type"] == "verification" and e.get("stage")][-1]
    assert failed["sub"] == 2 and not failed["passed"]
    assert "+C = 2" in Path(result.subs[2].patch or "").read_text()
    assert_cleaned(repo)


def test_edits_the_user_makes_during_the_run_are_merged_not_overwritten(tmp_path: Path):
    repo = make_repo(tmp_path)

    def user_types() -> None:
        (repo / "a.py").write_text("# module a, edited by the user\n\n\n\nA = 1\n")

    providers = [Watching([write_done("a.py", "# module a\n\n\n\nA = 2\n")], user_types)]
    result, _ = run_parallel(repo, ["set A to 2"], providers, parallel=1)

    assert result.subs[0].merge == "merged"
    assert (repo / "a.py").read_text() == "# module a, edited by the user\n\n\n\nA = 2\n"


def test_a_workspace_in_a_subfolder_of_the_repository(tmp_path: Path):
    repo = make_repo(tmp_path)
    top = tmp_path / "top"
    (top / ".hidden").mkdir(parents=True)
    (top / "outer.txt").write_text("outside the workspace\n")
    for name in ("b.py", "test_sum.py", "a.py", "c.py"):
        (repo / name).rename(top / ".hidden" / name)
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "init")
    root = top / ".hidden"
    before = tree(top)
    providers = [ScriptedProvider([write_done("b.py", "B = 2\n")])]
    result, _ = run_parallel(root, ["set B to 2"], providers, parallel=1)
    assert result.subs[0].merge == "merged", result.subs[0]
    assert (root / "b.py").read_text() == "B = 2\n"
    assert sorted(tree(top)) == sorted(before)
    assert_cleaned(top)
    Checkpoints(root).undo(1)
    assert tree(top) == before


def test_parse_plan_accepts_a_list_and_refuses_the_rest():
    assert parse_plan('Here:\n```json\n["edit a.py", " edit b.py ", ""]\n```') == (
        ["edit a.py", "edit b.py"],
        "",
    )
    assert parse_plan("I would first edit a.py, then b.py.")[0] == []
    assert parse_plan('["a", 3]')[0] == []
    assert parse_plan('["a", "b", "c"]', limit=2)[0] == []
    assert parse_plan('{"tasks": ["a"]}')[0] == ["a"]  # a wrapped list is still a list
    assert parse_plan('{"task": "a"}')[0] == []


def test_the_model_plan_or_the_whole_task_on_a_malformed_one():
    events: list[dict[str, Any]] = []
    good = ScriptedProvider(['["set A to 2 in a.py", "set B to 2 in b.py"]'])
    assert plan_subtasks(good, "set A and B to 2", 2, events.append) == (
        ["set A to 2 in a.py", "set B to 2 in b.py"],
        "model",
    )
    request = good.requests[0]
    assert "set A and B to 2" in request.messages[-1]["content"]
    assert request.response_format["json_schema"]["schema"]["maxItems"] == 2
    assert events == []
    bad = ScriptedProvider(["Sure! First, open a.py and ..."])
    assert plan_subtasks(bad, "set A and B to 2", 2, events.append) == (
        ["set A and B to 2"],
        "fallback",
    )
    assert events[0]["type"] == "plan_fallback" and "no JSON list" in events[0]["reason"]


def test_a_model_plan_drives_a_run_on_one_shared_provider(tmp_path: Path):
    repo = make_repo(tmp_path)
    shared = ScriptedProvider(
        [
            '["set A to 2 in a.py", "set B to 2 in b.py"]',
            write_done("a.py", "# module a\n\n\n\nA = 2\n"),
            write_done("b.py", "B = 2\n"),
        ]
    )
    result, events = run_parallel(repo, [], shared=shared, task="set A and B to 2", parallel=2)
    assert result.plan == ["set A to 2 in a.py", "set B to 2 in b.py"]
    assert next(e for e in events if e["type"] == "plan")["source"] == "model"
    assert [s.merge for s in result.subs] == ["merged", "merged"]
    assert (repo / "b.py").read_text() == "B = 2\n"


def test_ctrl_c_cleans_up_and_leaves_the_tree_alone(tmp_path: Path):
    repo = make_repo(tmp_path)
    before = tree(repo)

    def interrupt() -> None:
        raise KeyboardInterrupt

    providers = [Watching([write_done("b.py", "B = 2\n")], interrupt)]
    result, events = run_parallel(repo, ["set B"], providers, parallel=1)
    assert result.status == "interrupted" and result.exit_code == 130
    assert tree(repo) == before
    assert events[-1]["type"] == "parallel_done"
    assert_cleaned(repo)


def test_ctrl_c_while_planning_starts_nothing(tmp_path: Path):
    repo = make_repo(tmp_path)
    events: list[dict[str, Any]] = []
    cancel = threading.Event()
    cancel.set()
    run = ParallelRun(ScriptedProvider(['["a", "b"]']), repo, parallel=2, emit=events.append)
    result = run.run("split me", cancel=cancel)
    assert result.status == "interrupted"
    assert not [e for e in events if e["type"] in ("worktree", "task_start", "merge")]
    assert_cleaned(repo)


def test_outside_a_git_repository_it_refuses(tmp_path: Path):
    with pytest.raises(WorktreeError, match="needs a git repository"):
        ParallelRun(ScriptedProvider([]), tmp_path, parallel=2)


def test_exec_parallel_cli_with_a_scripted_provider_then_undo(tmp_path: Path):
    from typer.testing import CliRunner

    from redline.cli import app

    repo = make_repo(tmp_path)
    before = tree(repo)
    script = tmp_path / "script.json"
    script.write_text(
        json.dumps([write_done("a.py", "# module a\n\n\n\nA = 2\n"), write_done("c.py", "C = 2\n")])
    )
    runner = CliRunner()
    args = ["exec", "--parallel", "2", "--task", "set A to 2", "--task", "set C to 2"]
    args += ["--json", "--provider", "scripted", "--model", str(script), "--approval", "full-auto"]
    got = runner.invoke(app, [*args, "--root", str(repo)])
    assert got.exit_code == 0, got.output[-3000:]
    events = [json.loads(line) for line in got.stdout.splitlines() if line.startswith("{")]
    assert events[0]["type"] == "session_start" and events[0]["parallel"] == 2
    assert events[-1]["type"] == "parallel_done" and events[-1]["status"] == "finished"
    assert {e.get("sub") for e in events if e["type"] == "task_start"} == {0, 1}
    assert (repo / "c.py").read_text() == "C = 2\n"
    assert_cleaned(repo)

    undo = runner.invoke(app, ["undo", "--root", str(repo)])
    assert undo.exit_code == 0 and "restored c.py" in undo.stdout
    assert tree(repo) == before


def test_interactive_parallel_command(tmp_path: Path):
    from rich.console import Console

    from redline.agent.loop import Agent
    from redline.agent.session.interactive import InteractiveSession
    from redline.agent.session.render import HumanRenderer

    repo = make_repo(tmp_path)
    before = tree(repo)
    provider = ScriptedProvider(
        [
            '["b.py: B = 2", "c.py: C = 2"]',
            write_done("b.py", "B = 2\n"),
            write_done("c.py", "C = 2\n"),
        ]
    )
    out = io.StringIO()
    console = Console(file=out, width=200)
    agent = Agent(
        provider,
        repo,
        approval="full-auto",
        emit=HumanRenderer(console, show_text=False),
        checkpoints=Checkpoints(repo),
    )
    session = InteractiveSession(agent, console)
    session.command("/parallel two")
    assert "usage: /parallel N TASK" in out.getvalue()
    session.command("/parallel 2 set B and C to 2")
    assert (repo / "b.py").read_text() == "B = 2\n" and (repo / "c.py").read_text() == "C = 2\n"
    shown = out.getvalue()
    assert "[0] b.py: B = 2" in shown and "■ finished" in shown and "merged" in shown
    session.command("/undo")
    assert tree(repo) == before
