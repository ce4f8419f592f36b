"""The model registry: embedded names, paths, and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.engine.engine import Engine
from redline.engine.inspect import describe_embedded
from redline.engine.models import EMBEDDED, resolve_model
from redline.errors import ModelLoadError, ModelNotFoundError


def test_both_embedded_models_resolve_to_gguf_files() -> None:
    for name in EMBEDDED:
        shown, path = resolve_model(name)
        assert shown == name
        assert path.is_file() and path.read_bytes()[:4] == b"GGUF"


def test_describe_embedded_reports_context_and_template() -> None:
    info = {i.name: i for i in describe_embedded()}
    assert info["smollm2-135m"].chat_template is True
    assert info["gemma3-270m"].n_ctx_train == 32768
    assert all(i.size_bytes > 50_000_000 for i in info.values())


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        resolve_model("gpt-17")
    assert "smollm2-135m" in err.value.message and "gemma3-270m" in err.value.message


def test_missing_gguf_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no GGUF file"):
        resolve_model(str(tmp_path / "nope.gguf"))


def test_not_a_gguf_file(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ModelLoadError, match="not a GGUF"):
        Engine(str(bad))


def test_truncated_gguf_is_a_clear_error(tmp_path: Path) -> None:
    _, good = resolve_model("smollm2-135m")
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(good.read_bytes()[:1_000_000])
    with pytest.raises(ModelLoadError, match="cannot load"):
        Engine(str(bad))
