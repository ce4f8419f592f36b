"""`redline tune` on the real small model: a bounded search that keeps the defaults on a tie."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from redline.bench.tune import MARGIN, tune
from redline.cli import app
from redline.engine.profile import DEFAULT, load_all

CODE = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n" * 8


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


def test_no_budget_tries_nothing_and_keeps_the_defaults():
    result = tune("smollm2-135m", budget_s=0, repeats=1, code=CODE)
    assert all(t.status == "untried" for t in result["trials"])
    assert result["profile"] == DEFAULT and result["defaults"]


def test_the_command_prints_the_table_and_saves_the_profile(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("REDLINE_CONFIG", str(tmp_path / "config.toml"))
    result = CliRunner().invoke(
        app, ["tune", "-m", "smollm2-135m", "--budget", "0"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "redline tune smollm2-135m" in result.output and "untried" in result.output
    assert "the defaults are best here" in result.output
    assert load_all(tmp_path / "profiles.toml") == {"smollm2-135m": DEFAULT}
