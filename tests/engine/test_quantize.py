"""`redline models quantize`: llama.cpp's quantiser on a real model, and the check that
tells the smaller file's cost."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.engine import quantize as q
from redline.engine.models import resolve_model
from redline.errors import ModelLoadError, RedlineError

SMOL = Path(resolve_model("smollm2-135m")[1])
CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n" * 6


@pytest.mark.native_isolated  # loads a model of its own: a crash fails only this test
def test_requantising_to_q2_k_is_smaller_and_the_check_sees_the_loss(tmp_path: Path):
    out = tmp_path / "smol-q2_k.gguf"
    seen: list[int] = []
    done = q.quantize(SMOL, out, "q2_k", on_progress=lambda b, _s: seen.append(b))
    assert out.is_file() and done.output_bytes == out.stat().st_size
    assert done.output_bytes < done.source_bytes
    assert not list(tmp_path.glob(".*.part"))
    before = q.measure(SMOL, sample=CODE, max_tokens=96, decode=8)
    after = q.measure(out, sample=CODE, max_tokens=96, decode=8)
    assert before.decode_tok_s > 0 and after.decode_tok_s > 0
    assert after.perplexity > before.perplexity  # 2-bit weights: the model is surprised more
    assert 0.0 < q.agreement(before, after) < 1.0
    assert q.agreement(before, before) == 1.0


def test_a_file_that_is_not_a_model_leaves_nothing_behind(tmp_path: Path):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 64)
    out = tmp_path / "out.gguf"
    with pytest.raises(ModelLoadError, match="could not quantise"):
        q.quantize(junk, out, "q4_0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.gguf"]


def test_bad_requests_are_refused_before_any_work(tmp_path: Path):
    with pytest.raises(RedlineError, match="unknown quantisation type"):
        q.quantize(SMOL, tmp_path / "x.gguf", "q7_z")
    with pytest.raises(RedlineError, match="overwrite the input"):
        q.quantize(SMOL, SMOL, "q4_0")
    with pytest.raises(ModelLoadError, match="no such model file"):
        q.quantize(tmp_path / "missing.gguf", tmp_path / "x.gguf", "q4_0")


@pytest.mark.native_isolated  # loads a model of its own: a crash fails only this test
def test_the_command_writes_the_file_and_prints_the_comparison(tmp_path: Path):
    out = tmp_path / "smol-q4_0.gguf"
    result = CliRunner().invoke(
        app,
        ["models", "quantize", "smollm2-135m", "--type", "q4_0", "-o", str(out)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and "wrote" in result.output
    for column in ("perplexity", "top-1 agreement", "decode tok/s"):
        assert column in result.output
