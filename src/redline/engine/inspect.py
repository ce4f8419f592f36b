"""Facts about models without keeping them loaded (for ``redline models``)."""

from __future__ import annotations

from pathlib import Path

import llama_cpp

from redline.engine.loader import load_llama
from redline.engine.models import EMBEDDED, check_gguf, embedded_path
from redline.engine.types import ModelInfo


def vocab_has_fim(vocab: llama_cpp.llama_vocab_p) -> bool:
    """Whether the vocabulary has the prefix, suffix and middle FIM tokens."""
    return all(
        f(vocab) >= 0
        for f in (
            llama_cpp.llama_vocab_fim_pre,
            llama_cpp.llama_vocab_fim_suf,
            llama_cpp.llama_vocab_fim_mid,
        )
    )


def model_info(name: str, path: Path, llm: llama_cpp.Llama) -> ModelInfo:
    """What ``redline models`` and ``/v1/models`` show, read from a loaded model."""
    vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
    meta = llm.metadata
    ctx = meta.get(f"{meta.get('general.architecture', '')}.context_length")
    return ModelInfo(
        name=name,
        path=str(path),
        size_bytes=path.stat().st_size,
        embedded=name in EMBEDDED,
        n_ctx_train=int(ctx) if ctx else None,
        chat_template="tokenizer.chat_template" in meta,
        fim=vocab_has_fim(vocab),
        description=EMBEDDED[name].description
        if name in EMBEDDED
        else meta.get("general.name", ""),
    )


def describe(name: str, path: Path) -> ModelInfo:
    """Read a GGUF's metadata by loading only its vocabulary (fast, no weights)."""
    check_gguf(path)
    llm = load_llama(path, vocab_only=True)
    try:
        return model_info(name, path, llm)
    finally:
        llm.close()


def describe_embedded() -> list[ModelInfo]:
    return [describe(name, embedded_path(name)) for name in EMBEDDED]
