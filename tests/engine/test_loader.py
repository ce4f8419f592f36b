"""One loader: every llama.cpp model in ``src/`` is opened by ``engine/loader.py``.

A plain ``llama_cpp.Llama(...)`` lets llama.cpp repack weights into its extra
buffer types, which breaks batch invariance and crashed every load at its first
``eval`` on an AMX Xeon; so the structural test fails on any model construction
outside the loader, and the behavioural ones check what the loader decides.
"""

from __future__ import annotations

import ast
from pathlib import Path

import llama_cpp
import pytest

from redline.engine.engine import Engine
from redline.engine.loader import REPACK_WEIGHTS, load_llama
from redline.engine.models import resolve_model
from redline.errors import ModelLoadError

SRC = Path(__file__).resolve().parents[2] / "src" / "redline"
LOADER = SRC / "engine" / "loader.py"
SMOL = Path(resolve_model("smollm2-135m")[1])

FORBIDDEN = {
    "Llama",  # llama_cpp.Llama(...) or a bare Llama(...) after `from llama_cpp import Llama`
    "llama_model_load_from_file",
    "llama_load_model_from_file",
    "llama_model_load_from_splits",
    "llama_model_default_params",
    "use_extra_bufts",
}
"""Names whose use opens a model, or decides its load parameters, outside the loader."""


def model_loads(path: Path) -> list[str]:
    """``file:line name`` for each use of a :data:`FORBIDDEN` name in ``path``'s code
    (calls, attribute reads and writes, imports; not docstrings or comments)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            names.append(node.func.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            names += ["Llama"] if node.func.attr == "Llama" else []
        elif isinstance(node, ast.Attribute) and node.attr != "Llama":
            names.append(node.attr)  # llama_cpp.Llama as a type hint is fine; calling it is not
        elif isinstance(node, ast.ImportFrom):
            names += [alias.name for alias in node.names]
        found += [f"{path.name}:{node.lineno} {n}" for n in names if n in FORBIDDEN]
    return found


def test_no_model_is_opened_anywhere_in_src_but_the_loader() -> None:
    offenders = [
        hit for path in sorted(SRC.rglob("*.py")) if path != LOADER for hit in model_loads(path)
    ]
    assert offenders == [], "load models through redline.engine.loader.load_llama: " + str(
        offenders
    )


def test_the_scan_sees_the_loaders_own_load(tmp_path: Path) -> None:
    """The check above can fail: it finds the loader's construction and a planted one."""
    assert any(hit.endswith(" Llama") for hit in model_loads(LOADER))
    planted = tmp_path / "planted.py"
    planted.write_text(
        "import llama_cpp\nfrom llama_cpp import Llama\n\n"
        "def f(p):\n    params = llama_cpp.llama_model_default_params()\n"
        "    params.use_extra_bufts = True\n    return llama_cpp.Llama(model_path=p)\n",
        encoding="utf-8",
    )
    hits = [hit.split(" ")[1] for hit in model_loads(planted)]
    assert sorted(hits) == ["Llama", "Llama", "llama_model_default_params", "use_extra_bufts"]


def test_the_loader_keeps_weights_unrepacked_and_restores_llama_cpps_defaults() -> None:
    assert REPACK_WEIGHTS is False
    llm = load_llama(SMOL, n_ctx=256, n_batch=64, logits_all=True)
    try:
        assert llm.model_params.use_extra_bufts is False
        llm.eval(llm.tokenize(b"def add(a, b):"))  # the first eval: where AMX repacking crashed
        assert llm.n_tokens > 0
    finally:
        llm.close()
    # the wrapper is gone: a load outside the loader would get llama.cpp's default again
    assert llama_cpp.llama_model_default_params().use_extra_bufts is True


def test_vocabulary_only_loads_go_through_the_same_door() -> None:
    llm = load_llama(SMOL, vocab_only=True)
    try:
        assert llm.model_params.vocab_only is True
        assert llm.model_params.use_extra_bufts is False
    finally:
        llm.close()


def test_the_engines_model_is_loaded_unrepacked(smollm2_engine: Engine) -> None:
    assert smollm2_engine.llm.model_params.use_extra_bufts is False


def test_a_file_that_is_not_a_model_is_a_load_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_llama(junk, vocab_only=True)
