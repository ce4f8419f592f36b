"""The run tool's shell: no secrets, a timeout, capped output."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.agent.environment.shell import run_shell


def test_environment_is_scrubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("CEREBRAS_API_KEY", "csk-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret")
    result = run_shell("env", tmp_path)
    assert result.exit_code == 0
    assert "secret" not in result.output and "PATH=" in result.output


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    result = run_shell("sleep 30 & sleep 30; echo never", tmp_path, timeout=0.5)
    assert result.timed_out and "never" not in result.output


def test_output_is_capped_keeping_the_tail(tmp_path: Path) -> None:
    result = run_shell("seq 1 100000", tmp_path, limit=2000)
    assert len(result.output) < 2100 and result.output.rstrip().endswith("100000")
    assert "characters cut" in result.output
