"""``candidates`` from redline.toml, the environment and flags, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from agent_helpers import SAMPLE, snapshot_tree

from redline.config import load_settings
from redline.errors import ConfigError

CLI = "from redline.cli import main; main()"
PRICING = "inventory/pricing.py"
OLD = (SAMPLE / PRICING).read_text()
FIXED = OLD.replace("(1 - discount_percent)", "(1 - discount_percent / 100)")
WRONG = OLD.replace("(1 - discount_percent)", "(1 - discount_percent / 10)")


def test_candidates_and_budget_settings_precedence(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("REDLINE_CANDIDATES", raising=False)
    monkeypatch.delenv("REDLINE_BUDGET", raising=False)
    assert load_settings(tmp_path).candidates is None  # the default: by task and provider
    (tmp_path / "redline.toml").write_text("candidates = 3\nbudget = 60\n")
    got = load_settings(tmp_path)
    assert (got.candidates, got.budget) == (3, 60.0)
    monkeypatch.setenv("REDLINE_CANDIDATES", "2")
    assert load_settings(tmp_path).candidates == 2
    assert load_settings(tmp_path, candidates=5).candidates == 5
    (tmp_path / "redline.toml").write_text("candidates = 0\n")
    monkeypatch.delenv("REDLINE_CANDIDATES")
    with pytest.raises(ConfigError):
        load_settings(tmp_path)


def test_vote_setting_precedence(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("REDLINE_VOTE", raising=False)
    assert load_settings(tmp_path).vote is False  # no check: one reply by default
    (tmp_path / "redline.toml").write_text("vote = true\n")
    assert load_settings(tmp_path).vote is True
    monkeypatch.setenv("REDLINE_VOTE", "0")
    assert load_settings(tmp_path).vote is False
    assert load_settings(tmp_path, vote=True).vote is True


def test_exec_with_candidates_from_the_config_keeps_the_passing_one(sample: Path, tmp_path: Path):
    before = snapshot_tree(sample)
    (sample / "redline.toml").write_text("candidates = 2\n")
    script = tmp_path / "replies.json"
    replies = [f"{PRICING}\n```python\n{text}```\n" for text in (WRONG, FIXED)]
    script.write_text(json.dumps({"replies": replies}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_CANDIDATES")}
    args = ["exec", "make the failing test pass", "--approval", "full-auto", "--json"]
    args += ["--provider", "scripted", "--model", str(script), "--edit-format", "whole"]
    args += ["--budget", "200"]
    run = subprocess.run(
        [sys.executable, "-c", CLI, *args],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    events = [json.loads(line) for line in run.stdout.splitlines()]
    start = next(e for e in events if e["type"] == "candidates_start")
    assert start["n"] == 2 and start["budget_s"] == 200.0
    done = next(e for e in events if e["type"] == "candidates_done")
    assert (done["ran"], done["passed"], done["kept"]) == (2, 1, 1)
    assert (sample / PRICING).read_text() == FIXED
    undo = subprocess.run(
        [sys.executable, "-c", CLI, "undo"], cwd=sample, capture_output=True, text=True
    )
    assert undo.returncode == 0 and "restored inventory/pricing.py" in undo.stdout
    after = snapshot_tree(sample)
    after.pop("redline.toml")
    before.pop("redline.toml", None)
    assert after == before
