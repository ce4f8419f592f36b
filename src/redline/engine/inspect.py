"""Facts about models without keeping them loaded (for ``redline models``)."""

from __future__ import annotations

import llama_cpp

from redline.engine.llama import quiet_llama
from redline.engine.models import EMBEDDED, check_gguf, embedded_path
from redline.engine.types import ModelInfo


def describe(name: str, path) -> ModelInfo:  # noqa: ANN001 - str | Path
    """Read a GGUF's metadata by loading only its vocabulary (fast, no weights)."""
    check_gguf(path)
    quiet_llama()
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    quiet_llama()
    try:
        vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        fim = all(
            f(vocab) >= 0
            for f in (
                llama_cpp.llama_vocab_fim_pre,
                llama_cpp.llama_vocab_fim_suf,
                llama_cpp.llama_vocab_fim_mid,
            )
        )
        ctx = llm.metadata.get(f"{llm.metadata.get('general.architecture', '')}.context_length")
        return ModelInfo(
            name=name,
            path=str(path),
            size_bytes=path.stat().st_size,
            embedded=name in EMBEDDED,
            n_ctx_train=int(ctx) if ctx else None,
            chat_template="tokenizer.chat_template" in llm.metadata,
            fim=fim,
            description=EMBEDDED[name].description if name in EMBEDDED else "",
        )
    finally:
        llm.close()


def describe_embedded() -> list[ModelInfo]:
    return [describe(name, embedded_path(name)) for name in EMBEDDED]
