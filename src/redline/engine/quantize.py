"""``redline models quantize``: a smaller GGUF through llama.cpp's own quantiser, and
what it costs, measured.

A quantised file is smaller and (on a CPU, where decoding reads every weight per
token) faster, and less accurate; how much of each depends on the model and the
type. So the command does not stop at writing the file: it loads both, decodes
the same greedy continuation with each, and scores both on a fixed code sample:
perplexity (how surprised the model is by real code) and top-1 agreement with
the original (the share of positions where both predict the same next token; a
greedy edit follows the top-1, so this is the figure that says how often the
smaller model would write something else). llama.cpp's ``llama-perplexity``
reports the same pair ("same top p").
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np

from redline.engine.loader import default_threads, load_llama, quiet_llama
from redline.errors import ModelLoadError, RedlineError

TYPES: dict[str, int] = {
    name: getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{name.upper()}")
    for name in (
        "q2_k",
        "q3_k_s",
        "q3_k_m",
        "q3_k_l",
        "q4_0",
        "q4_1",
        "q4_k_s",
        "q4_k_m",
        "q5_0",
        "q5_1",
        "q5_k_s",
        "q5_k_m",
        "q6_k",
        "q8_0",
    )
}
"""The k-quants and legacy types; the i-quants need an importance matrix to be good."""

SAMPLE = Path(__file__).resolve().parent.parent / "bench" / "data" / "edit" / "bisect.py"
"""The fixed code sample (CPython's ``bisect.py``, see its SOURCE.md)."""


@dataclass(frozen=True)
class Quantized:
    source: Path
    output: Path
    type: str
    source_bytes: int
    output_bytes: int
    seconds: float


@dataclass(frozen=True)
class Measured:
    """One model on the fixed sample."""

    path: Path
    size_bytes: int
    perplexity: float
    top1: list[int]
    """The predicted next token at each position of the sample."""
    decode_tok_s: float


def quantize(
    source: Path,
    output: Path,
    qtype: str,
    *,
    threads: int | None = None,
    on_progress: Callable[[int, float], None] | None = None,
) -> Quantized:
    """Write ``source`` quantised to ``qtype`` at ``output`` (whole or not at all).

    The quantiser writes a temporary file next to ``output``, renamed into place
    only when it succeeded, so a failure or Ctrl-C never leaves a half-written model
    at the name a user will load. ``on_progress(bytes_written, seconds)`` is called
    about twice a second while it works (llama.cpp's quantiser has no callback).
    """
    if qtype not in TYPES:
        raise RedlineError(
            f"unknown quantisation type {qtype!r}", hint="use one of " + ", ".join(TYPES)
        )
    if not source.is_file():
        raise ModelLoadError(f"no such model file: {source}")
    if output.resolve() == source.resolve():
        raise RedlineError("the output would overwrite the input", hint="pass another -o path")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.part")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = TYPES[qtype]
    params.nthread = threads or default_threads()
    params.allow_requantize = True  # a user's Q8_0 is a fair input; F16 is better
    result: list[int] = []
    worker = threading.Thread(
        target=lambda: result.append(
            llama_cpp.llama_model_quantize(
                str(source).encode(), str(tmp).encode(), llama_cpp.byref(params)
            )
        ),
        daemon=True,
    )
    start = time.perf_counter()
    quiet_llama()
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
            if on_progress is not None and tmp.exists():
                on_progress(tmp.stat().st_size, time.perf_counter() - start)
        if not result or result[0] != 0 or not tmp.is_file():
            raise ModelLoadError(
                f"llama.cpp could not quantise {source} to {qtype}",
                hint="is it a llama.cpp GGUF model? set REDLINE_LLAMA_LOG=1 to see why",
            )
        os.replace(tmp, output)
    finally:
        if tmp.exists() and not worker.is_alive():
            tmp.unlink()
    return Quantized(
        source,
        output,
        qtype,
        source.stat().st_size,
        output.stat().st_size,
        time.perf_counter() - start,
    )


def measure(
    path: Path, *, sample: str | None = None, max_tokens: int = 256, decode: int = 48
) -> Measured:
    """Perplexity and top-1 predictions on the sample, and greedy decode speed."""
    text = sample if sample is not None else SAMPLE.read_text(encoding="utf-8")
    llm = load_llama(path, n_ctx=max_tokens + decode + 16, n_batch=max_tokens + 16, logits_all=True)
    try:
        tokens = llm.tokenize(text.encode("utf-8"), add_bos=True)[:max_tokens]
        llm.reset()
        llm.eval(tokens)
        logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        logprobs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        targets = np.asarray(tokens[1:])
        nll = -logprobs[np.arange(len(targets)), targets].mean()
        top1 = [int(i) for i in logits.argmax(axis=1)]
        start = time.perf_counter()  # greedy decoding on from the sample, one token a step
        for _ in range(decode):
            llm.eval([int(np.argmax(llm.scores[llm.n_tokens - 1]))])
        rate = decode / (time.perf_counter() - start)
    finally:
        llm.close()
    return Measured(path, path.stat().st_size, math.exp(nll), top1, rate)


def agreement(a: Measured, b: Measured) -> float:
    """Share of the sample's positions where both models predict the same token."""
    n = min(len(a.top1), len(b.top1))
    return sum(x == y for x, y in zip(a.top1[:n], b.top1[:n], strict=True)) / n if n else 0.0
