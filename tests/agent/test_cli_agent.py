"""The Bar, through the real front door: exec --json on the sample project, then undo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent_helpers import DATA, snapshot_tree

CLI = "from redline.cli import main; main()"


def redline(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "REDLINE_APPROVAL"}
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_exec_json_fixes_sample_then_undo_restores_bytes(sample: Path) -> None:
    before = snapshot_tree(sample)
    script = str(DATA / "fix_sample.json")
    task = "make the failing test pass"
    run = redline(
        "exec",
        task,
        "--approval",
        "full-auto",
        "--json",
        "--provider",
        "scripted",
        "--model",
        script,
        cwd=sample,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert all("type" in e for e in events)
    assert events[-1]["type"] == "done" and events[-1]["status"] == "finished"
    assert events[-1]["verified"] is True
    turn_ends = [e for e in events if e["type"] == "turn_end"]
    assert turn_ends and all(e["timings"]["ttft_s"] is not None for e in turn_ends)
    assert all("tok_s" in e["timings"] and "verify_s" in e["timings"] for e in turn_ends)
    assert any(e["type"] == "edit_applied" and "+    return round" in e["diff"] for e in events)
    assert snapshot_tree(sample) != before
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=sample,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout

    undo = redline("undo", cwd=sample)
    assert undo.returncode == 0, undo.stderr
    assert "restored inventory/pricing.py" in undo.stdout
    assert snapshot_tree(sample) == before

    log = redline("log", cwd=sample)
    session = events[0]["session_id"]
    assert session in log.stdout and "finished" in log.stdout


def test_exec_failure_exit_code_and_reason(sample: Path, tmp_path: Path) -> None:
    script = tmp_path / "bad.json"
    script.write_text(json.dumps(["no json here", "still none", "nope"]))
    run = redline("exec", "do it", "--provider", "scripted", "--model", str(script), cwd=sample)
    assert run.returncode == 4
    assert "format_errors" in run.stderr


def test_suggest_mode_without_a_terminal_changes_nothing(sample: Path) -> None:
    before = snapshot_tree(sample)
    run = redline(
        "exec",
        "fix it",
        "--approval",
        "suggest",
        "--json",
        "--provider",
        "scripted",
        "--model",
        str(DATA / "fix_sample.json"),
        cwd=sample,
    )
    events = [json.loads(line) for line in run.stdout.splitlines()]
    results = [e for e in events if e["type"] == "tool_result"]
    assert any("declined" in e["output"] for e in results)
    assert snapshot_tree(sample) == before
