"""Per-model engine profiles: saved and read back, checked, and applied by the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.engine.engine import Engine
from redline.engine.profile import (
    DEFAULT,
    NO_PROFILE_ENV,
    EngineProfile,
    load_all,
    profile_for,
    save,
)
from redline.engine.types import GenerationRequest
from redline.errors import ConfigError

TUNED = EngineProfile(
    threads=1,
    n_batch=128,
    n_ubatch=64,
    flash_attn=True,
    kv_type="q8_0",
    max_draft=16,
    gate_pause=0,
)


def test_profiles_round_trip_and_keep_each_other(tmp_path: Path, monkeypatch):
    monkeypatch.delenv(NO_PROFILE_ENV, raising=False)
    path = tmp_path / "profiles.toml"
    save("qwen2.5-coder-0.5b", TUNED, path)
    save("smollm2-135m", DEFAULT, path)
    assert load_all(path) == {"qwen2.5-coder-0.5b": TUNED, "smollm2-135m": DEFAULT}
    assert profile_for("qwen2.5-coder-0.5b", path) == TUNED
    assert profile_for("gemma3-270m", path) is None
    monkeypatch.setenv(NO_PROFILE_ENV, "1")
    assert profile_for("qwen2.5-coder-0.5b", path) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ('["m"]\nthreds = 2\n', "unknown keys: threds"),
        ('["m"]\nkv_type = "q4_0"\n', "kv_type must be one of"),
        ('["m"]\nkv_type = "q8_0"\n', "needs flash_attn = true"),
        ('["m"]\nn_batch = 128\nn_ubatch = 256\n', "n_ubatch must be in 1..n_batch"),
        ('["m"]\ngate_pause = -1\n', "gate_pause must be >= 0"),
        ('["m"\n', "cannot read"),
    ],
)
def test_a_bad_profile_is_refused_clearly(tmp_path: Path, body: str, problem: str):
    path = tmp_path / "profiles.toml"
    path.write_text(body)
    with pytest.raises(ConfigError, match=problem):
        load_all(path)


@pytest.mark.native_isolated  # loads a model of its own: a crash fails only this test
def test_the_engine_loads_with_a_profile_and_still_generates(monkeypatch):
    engine = Engine("smollm2-135m", n_ctx=512, profile=TUNED)
    try:
        assert engine.n_threads == 1 and engine.session.n_batch == 128
        assert engine.max_draft == 16 and engine.profile == TUNED
        assert engine.llm.context_params.n_ubatch == 64
        req = GenerationRequest(prompt="def add(a, b):\n", max_tokens=8, temperature=0.0)
        text = "".join(c.text for c in engine.generate(req))
        assert text.strip()
    finally:
        engine.close()


@pytest.mark.native_isolated  # loads a model of its own: a crash fails only this test
def test_the_engine_finds_the_saved_profile_unless_told_not_to(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("REDLINE_CONFIG", str(tmp_path / "config.toml"))
    save("smollm2-135m", TUNED, tmp_path / "profiles.toml")
    monkeypatch.delenv(NO_PROFILE_ENV, raising=False)
    engine = Engine("smollm2-135m", n_ctx=256)
    assert engine.profile == TUNED and engine.max_draft == 16
    engine.close()
    monkeypatch.setenv(NO_PROFILE_ENV, "1")
    engine = Engine("smollm2-135m", n_ctx=256)
    assert engine.profile == DEFAULT and engine.max_draft == 64
    engine.close()
