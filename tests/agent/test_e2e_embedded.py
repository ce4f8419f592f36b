"""End to end on the embedded model: in-process, and through a real `redline serve`.

A 135M model rarely fixes the bug; these tests check that the whole path works
(grammar-constrained calls parse, tools run, timings flow, nothing is corrupted,
undo restores the tree), not that the model is clever. Imports are at the top
on purpose: if the local provider or the server is missing, this FAILS.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import snapshot_tree

import redline.server.app  # noqa: F401 - the server must exist
from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.loop import EXIT_CODES, Agent, AgentConfig
from redline.providers.local import LocalProvider

CLI = "from redline.cli import main; main()"
TASK = "make the failing test pass"


def _undo_all(root: Path) -> None:
    cps = Checkpoints(root)
    while cps.tasks():
        cps.undo(1)


def test_agent_in_process_on_embedded_model(sample: Path, smollm2_engine: Any) -> None:
    before = snapshot_tree(sample)
    events: list[dict[str, Any]] = []
    provider = LocalProvider("smollm2-135m", engine=smollm2_engine)
    config = AgentConfig(max_steps=2, max_tokens=200)
    agent = Agent(provider, sample, config=config, approval="full-auto", emit=events.append)
    result = agent.run(TASK)
    assert result.status in EXIT_CODES and 1 <= result.turns <= 2
    turn_ends = [e for e in events if e["type"] == "turn_end"]
    assert len(turn_ends) == result.turns
    for e in turn_ends:
        assert isinstance(e["well_formed"], bool)
        assert e["timings"]["completion_tokens"] > 0 and e["timings"]["ttft_s"] is not None
        assert e["timings"]["provider"] == "smollm2-135m"
    _undo_all(sample)
    assert snapshot_tree(sample) == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served() -> Any:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CLI,
            "serve",
            "--model",
            "smollm2-135m",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"redline serve died: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "redline serve did not become healthy"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_exec_json_through_real_serve(sample: Path, served: str) -> None:
    (sample / "redline.toml").write_text(
        f'[providers.loop]\nbase_url = "{served}"\nmodel = "smollm2-135m"\nprediction = true\n'
    )
    before = snapshot_tree(sample)
    env = {k: v for k, v in os.environ.items() if k != "REDLINE_APPROVAL"}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            CLI,
            "exec",
            TASK,
            "--approval",
            "full-auto",
            "--json",
            "--provider",
            "loop",
            "--max-steps",
            "2",
            "--max-tokens",
            "200",
        ],
        cwd=sample,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    events = [json.loads(line) for line in run.stdout.splitlines()]
    assert events and events[-1]["type"] == "done", run.stderr[-2000:]
    assert run.returncode == events[-1]["exit_code"] == EXIT_CODES[events[-1]["status"]]
    turn_ends = [e for e in events if e["type"] == "turn_end"]
    assert turn_ends and all(e["timings"]["completion_tokens"] > 0 for e in turn_ends)
    assert all(e["timings"]["provider"] == "loop" for e in turn_ends)
    _undo_all(sample)
    assert snapshot_tree(sample) == before


def test_default_coder_model_fixes_the_sample(sample: Path) -> None:
    """The product claim, on the real engine: the default model (Qwen2.5-Coder-0.5B)
    fixes the sample's bug through the one-reply protocol, the tests pass, the
    test files are untouched, and undo restores the tree."""
    from redline.config import DEFAULT_CHAT_MODEL

    before = snapshot_tree(sample)
    events: list[dict[str, Any]] = []
    provider = LocalProvider(DEFAULT_CHAT_MODEL)
    agent = Agent(provider, sample, approval="full-auto", emit=events.append)
    result = agent.run(TASK)
    assert result.status == "finished" and result.verified, result.summary
    assert result.changed == ["inventory/pricing.py"]
    start = next(e for e in events if e["type"] == "task_start")
    assert start["edit_format"] == "whole"
    after = snapshot_tree(sample)
    assert {k for k in after if k.startswith("tests/")} == {
        k for k in before if k.startswith("tests/")
    }
    assert all(after[k] == before[k] for k in before if k.startswith("tests/"))
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=sample,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0, tests.stdout
    _undo_all(sample)
    assert snapshot_tree(sample) == before
