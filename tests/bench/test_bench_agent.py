"""The agent benchmark harness on real polyglot exercises with scripted agents."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from bench_helpers import check_schema

from redline.bench import agent_bench, harness
from redline.bench.aider_runner import AiderRunner, find_aider, parse_tokens
from redline.bench.polyglot import default_root, list_exercises, prepare
from redline.bench.redline_runner import RedlineRunner
from redline.errors import ConfigError
from redline.providers.scripted import ScriptedProvider

try:
    ROOT = default_root()
except ConfigError:  # pragma: no cover - the shared data is part of this workplace
    pytest.skip("polyglot-python exercises not available", allow_module_level=True)

# Written for this test (not taken from any reference solution).
PROVERB_OK = """def proverb(*items, qualifier=None):
    lines = [f"For want of a {a} the {b} was lost." for a, b in zip(items, items[1:])]
    if items:
        first = f"{qualifier} {items[0]}" if qualifier else items[0]
        lines.append(f"And all for the want of a {first}.")
    return lines
"""
PIG_LATIN_WRONG = "def translate(text):\n    return text + 'ay'\n"
CHEAT_TEST = "def test_nothing():\n    assert True\n"


def write(path: str, content: str) -> dict:
    return {"calls": [{"name": "write", "arguments": {"path": path, "content": content}}]}


DONE = {"calls": [{"name": "done", "arguments": {"summary": "implemented"}}]}


def redline(replies: list) -> RedlineRunner:
    return RedlineRunner(ScriptedProvider(replies), name="redline")


def exercise(name: str):
    return list_exercises(ROOT, name)[0]


def test_correct_solution_passes_on_try_1():
    result = harness.run_case(redline([write("proverb.py", PROVERB_OK), DONE]), exercise("proverb"))
    assert result.error is None, result.tries
    assert result.passed_1 and result.passed_2 and result.well_formed
    assert len(result.tries) == 1 and result.tries[0]["turns"] == 2
    # each turn's TTFT goes into the summary's median (the scripted model reports timings)
    assert len(result.tries[0]["ttfts"]) == 2
    summary = harness.summarize([result], [])
    assert summary["median_ttft_s"] is not None and summary["median_ttft_s"] >= 0
    # the overall decode rate weighs each turn by its tokens
    tries = result.tries[0]
    assert tries["decode_tokens"] > 0 and tries["decode_s"] > 0
    assert summary["decode_tok_s_all"] == round(tries["decode_tokens"] / tries["decode_s"], 2)


def test_wrong_solution_fails_both_tries_and_try_2_sees_the_test_output(tmp_path):
    replies = [write("pig_latin.py", PIG_LATIN_WRONG), DONE, DONE]
    runner = redline(replies)
    result = harness.run_case(runner, exercise("pig-latin"), transcripts=tmp_path)
    # the transcript holds the conversation and each try's test result, to read later
    log = (tmp_path / "pig-latin.redline.md").read_text()
    assert "#### assistant" in log and "return text + 'ay'" in log
    assert "## Try 1:" in log and "## Try 2:" in log and "AssertionError" in log
    assert not result.passed_1 and not result.passed_2
    assert len(result.tries) == 2
    assert result.error is None
    provider = runner.provider
    assert isinstance(provider, ScriptedProvider)
    second_try = json.dumps(provider.requests[-1].messages)
    assert "unit tests failed" in second_try and "AssertionError" in second_try
    # Try 1 came with the stub's contents (as aider's does); try 2 with the test output only.
    stub = (ROOT / "pig-latin" / "pig_latin.py").read_text().rstrip()
    assert f"pig_latin.py:\n```\n{stub}\n```" in provider.requests[0].messages[-1]["content"]
    assert "pig_latin.py:\n```" not in provider.requests[-1].messages[-1]["content"]
    # Tests are hidden, so the agent is not offered a `test` tool.
    tools = json.dumps(provider.requests[0].response_format)
    assert '"read"' in tools and '"test"' not in tools


def test_tests_are_hidden_from_the_agent_and_restored_before_scoring():
    replies = [
        {"calls": [{"name": "read", "arguments": {"path": "proverb_test.py"}}]},
        write("proverb_test.py", CHEAT_TEST),
        write("proverb.py", "def proverb(*items, qualifier=None):\n    return []\n"),
        DONE,
    ]
    runner = redline(replies)
    result = harness.run_case(runner, exercise("proverb"), tries=1)
    assert not result.passed_1, "the agent's fake test file must not be what is scored"
    provider = runner.provider
    assert isinstance(provider, ScriptedProvider)
    observation = json.dumps(provider.requests[1].messages[-1])
    assert "ProverbTest" not in observation


def test_workspace_copy_is_writable_and_lacks_tests():
    ws = prepare(exercise("proverb"))
    try:
        assert (ws / "proverb.py").stat().st_mode & stat.S_IWUSR
        assert not (ws / "proverb_test.py").exists()
        assert (ROOT / "proverb" / "proverb_test.py").is_file()
    finally:
        import shutil

        shutil.rmtree(ws)


def test_case_timeout_stops_a_slow_agent():
    slow = {"text": "x" * 1200, "delay_s": 0.1, "chunk": 2}  # ~60 s of streaming per reply
    start = time.monotonic()
    result = harness.run_case(redline([slow, slow]), exercise("proverb"), case_timeout_s=1.0)
    assert time.monotonic() - start < 50  # far below the 120 s the script would take
    assert result.timed_out and not result.passed_2


class Crashing:
    name = "crashing"

    def begin(self, ws, ex):
        pass

    def attempt(self, message, try_no, deadline):
        raise RuntimeError("agent blew up")

    def end(self):
        pass


def test_a_crash_fails_the_case_not_the_run():
    results, skipped = harness.run_cases(
        Crashing(), [exercise("proverb"), exercise("pig-latin")], run_limit_s=120
    )
    assert [r.error for r in results] == ["RuntimeError: agent blew up"] * 2
    assert not skipped
    summary = harness.summarize(results, skipped)
    assert summary["errors"] == 2 and summary["pass_rate_2"] == 0.0


def test_whole_run_limit_skips_remaining_cases():
    runner = redline([write("proverb.py", PROVERB_OK), DONE])
    results, skipped = harness.run_cases(
        runner, [exercise("proverb"), exercise("pig-latin")], run_limit_s=0.0
    )
    assert results == [] and skipped == ["proverb", "pig-latin"]


def fake_aider(tmp_path: Path, body: str) -> Path:
    """A stand-in for the aider executable: a shell script (aider itself is in .venv-aider)."""
    path = tmp_path / "aider"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_aider_runner_scores_writes_and_parses_its_report(tmp_path):
    script = (
        'last=\'\'; for a in "$@"; do last="$a"; done\n'
        f"cat > \"$last\" <<'PY'\n{PROVERB_OK}PY\n"
        "echo 'Tokens: 1.5k sent, 120 received.'\n"
    )
    runner = AiderRunner("http://127.0.0.1:9/v1", "m", aider=fake_aider(tmp_path, script))
    result = harness.run_case(runner, exercise("proverb"))
    runner.close()
    assert result.passed_1 and result.well_formed
    assert (result.prompt_tokens, result.completion_tokens) == (1500, 120)


def test_aider_runner_malformed_and_timeout(tmp_path):
    script = "echo 'The LLM did not conform to the edit format.'\nsleep 120\n"
    runner = AiderRunner("http://127.0.0.1:9/v1", "m", aider=fake_aider(tmp_path, script))
    start = time.monotonic()
    result = harness.run_case(runner, exercise("proverb"), case_timeout_s=1.5)
    runner.close()
    assert time.monotonic() - start < 60  # far below the 240 s of two full tries
    assert not result.passed_2 and not result.well_formed and result.timed_out


def test_missing_aider_venv_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("redline.bench.aider_runner.Path.is_file", lambda self: False)
    with pytest.raises(ConfigError) as info:
        find_aider()
    assert "make bench-setup" in (info.value.hint or "")


def test_parse_tokens_sums_reports():
    text = "Tokens: 2.3k sent, 1.1k received.\nTokens: 900 sent, 45 received."
    assert parse_tokens(text) == (3200, 1145)


AGENT_SCHEMA = {
    "benchmark": str,
    "model": str,
    "exercises": [str],
    "agents": {
        "redline": {
            "pass_rate_1": float,
            "pass_rate_2": float,
            "percent_cases_well_formed": float,
            "seconds_per_case": float,
            "prompt_tokens": int,
            "completion_tokens": int,
            "cases": int,
        }
    },
    "cases": [{"exercise": str, "agent": str, "passed_1": bool, "passed_2": bool}],
}


def test_agent_bench_result_schema(monkeypatch):
    script = [write("proverb.py", PROVERB_OK), DONE]
    monkeypatch.setattr(
        "redline.agent.model_select.select_provider",
        lambda settings, model=None, provider=None: ScriptedProvider(script),
    )
    monkeypatch.setenv("REDLINE_POLYGLOT_DIR", os.fspath(ROOT))
    result = agent_bench.run_agent_bench("scripted", exercises="proverb")
    check_schema(json.loads(json.dumps(result)), AGENT_SCHEMA)
    assert result["agents"]["redline"]["pass_rate_1"] == 100.0
    assert result["seconds_ratio_redline_over_aider"] is None
