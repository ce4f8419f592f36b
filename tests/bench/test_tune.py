"""`redline tune` on the real small model: a bounded search that keeps the defaults on a tie."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.bench.tune import MARGIN, Trial, candidates, pick_candidates, search, tune
from redline.cli import app
from redline.engine.profile import DEFAULT, EngineProfile, load_all

CODE = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n" * 8


@pytest.mark.native_isolated  # loads a model of its own: a crash fails only this test
def test_a_short_search_measures_each_candidate_and_chooses_one_per_stage():
    result = tune(
        "smollm2-135m",
        budget_s=120,
        n_ctx=1024,
        repeats=1,
        code=CODE,
        stages=("threads", "max_draft"),
    )
    trials = result["trials"]
    assert [t.stage for t in trials].count("max_draft") == 4
    for stage in ("threads", "max_draft"):
        rows = [t for t in trials if t.stage == stage]
        assert sum(t.status == "chosen" for t in rows) == 1, [(t.value, t.status) for t in rows]
        done = [t for t in rows if t.status in ("measured", "chosen")]
        # every candidate is timed copying a file with drafts; threads also plain decoding
        assert done and all(t.copy_tok_s > 0 for t in done)
        assert all(t.decode_tok_s > 0 and t.turn_s > 0 for t in done if stage == "threads")
    threads = [t for t in trials if t.stage == "threads"]
    first, chosen = threads[0], next(t for t in threads if t.status == "chosen")
    # the current value is kept unless another beats it by more than the noise margin
    assert chosen is first or chosen.turn_s < first.turn_s * (1 - MARGIN)
    assert result["profile"].max_draft == int(
        next(t.value for t in trials if t.stage == "max_draft" and t.status == "chosen")
    )
    # the batch timed for the candidates default: 2, 4 and 8 rows beside one
    rows = result["rows"]
    assert [r["rows"] for r in rows] == [2, 4, 8]
    assert all(r["one_row_tok_s"] > 0 and r["rows_tok_s"] > 0 and r["cost"] > 0 for r in rows)
    assert result["profile"].candidates == pick_candidates(rows)


def test_no_budget_tries_nothing_and_keeps_the_defaults():
    result = tune("smollm2-135m", budget_s=0, repeats=1, code=CODE)
    assert all(t.status == "untried" for t in result["trials"])
    assert result["profile"] == DEFAULT and result["defaults"] and result["rows"] == []


def test_the_command_prints_the_table_and_saves_the_profile(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("REDLINE_CONFIG", str(tmp_path / "config.toml"))
    result = CliRunner().invoke(
        app, ["tune", "-m", "smollm2-135m", "--budget", "0"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "redline tune smollm2-135m" in result.output and "untried" in result.output
    assert "the defaults are best here" in result.output
    assert load_all(tmp_path / "profiles.toml") == {"smollm2-135m": DEFAULT}


def _scripted(figures: dict[tuple[str, str], list[float]]):
    """A measurement that replays copy tok/s per (stage, value), in order."""
    calls: list[tuple[str, str]] = []

    def measure(trial: Trial) -> None:
        calls.append((trial.stage, trial.value))
        trial.copy_tok_s = figures[(trial.stage, trial.value)].pop(0)

    return measure, calls


def _values(base: EngineProfile, stage: str) -> list[str]:
    return candidates(base, stage, cpus=2, gpus=False)


def test_a_lucky_win_that_does_not_repeat_keeps_the_current_setting():
    # "no gate" looks 11 % faster once (the current one measured slow), then both are
    # measured again and the gap is gone: the default stays
    measure, calls = _scripted(
        {
            ("gate_pause", "8"): [148.5, 170.5],
            ("gate_pause", "4"): [150.0],
            ("gate_pause", "16"): [149.0],
            ("gate_pause", "0"): [164.6, 169.0],
        }
    )
    best, trials = search(("gate_pause",), DEFAULT, _values, measure, out_of_time=lambda: False)
    assert best == DEFAULT
    assert {t.value: t.status for t in trials} == {
        "8": "chosen",
        "4": "measured",
        "16": "measured",
        "0": "not confirmed",
    }
    # the re-measurements: the current choice, then the candidate, after the candidate's win
    assert calls[-2:] == [("gate_pause", "8"), ("gate_pause", "0")]
    current = trials[0]
    assert current.copy_tok_s == 170.5  # its best figure kept


def test_a_win_that_repeats_replaces_the_current_setting():
    measure, _ = _scripted(
        {
            ("max_draft", "64"): [100.0, 101.0],
            ("max_draft", "32"): [120.0, 119.0],
            ("max_draft", "16"): [110.0],
            ("max_draft", "8"): [90.0],
        }
    )
    best, trials = search(("max_draft",), DEFAULT, _values, measure, out_of_time=lambda: False)
    assert best.max_draft == 32
    assert [t.status for t in trials] == ["measured", "chosen", "measured", "measured"]


def test_a_setting_the_build_refuses_is_listed_as_failed_and_skipped():
    def measure(trial: Trial) -> None:
        if trial.value == "16":
            raise RuntimeError("refused")
        trial.copy_tok_s = 100.0

    best, trials = search(("max_draft",), DEFAULT, _values, measure, out_of_time=lambda: False)
    assert best == DEFAULT
    assert [t.status for t in trials] == ["chosen", "measured", "failed: refused", "measured"]


def test_candidates_by_default_are_the_most_rows_within_one_and_a_half_replies():
    def rows(*costs: float) -> list[dict[str, float]]:
        return [{"rows": n, "cost": c} for n, c in zip((2, 4, 8), costs, strict=True)]

    assert pick_candidates(rows(1.74, 3.08, 5.1)) == 1  # this 2-core CPU: none is cheap
    assert pick_candidates(rows(1.1, 1.3, 1.9)) == 4
    assert pick_candidates(rows(1.05, 1.1, 1.4)) == 8
    assert pick_candidates([]) == 1
