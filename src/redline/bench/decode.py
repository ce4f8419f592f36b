"""``redline bench decode``: plain decoding through redline vs bare llama-cpp-python.

The same model file, prompt, thread count and greedy settings, interleaved
over repeats in one run so machine noise hits both alike. redline's engine
must not cost speed before speculation is even switched on.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import llama_cpp
from rich.console import Console

from redline.engine.engine import Engine
from redline.engine.llama import quiet_llama
from redline.engine.types import GenerationRequest

PROMPT = "def fibonacci(n):"


def _bare_tok_s(llm: llama_cpp.Llama, prompt: str, max_tokens: int) -> float:
    llm.reset()
    first = None
    n = 0
    for _ in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stream=True):
        n += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    return (n - 1) / (end - first) if first and n > 1 else 0.0


def run_decode_bench(
    model: str = "gemma3-270m",
    max_tokens: int = 128,
    repeats: int = 3,
    json_out: bool = False,
    quick: bool = False,
) -> dict[str, Any]:
    if quick:
        repeats, max_tokens = 2, 64
    engine = Engine(model)
    quiet_llama()
    bare = llama_cpp.Llama(
        model_path=str(engine.path),
        n_ctx=engine.n_ctx,
        n_threads=engine.n_threads,
        n_threads_batch=engine.n_threads,
        verbose=False,
    )
    quiet_llama()
    ours, theirs = [], []
    for _ in range(repeats):
        engine.session.truncate(0)  # no prefix reuse: both start cold
        req = GenerationRequest(prompt=PROMPT, max_tokens=max_tokens, speculative=False)
        _, t, _ = engine.complete(req)
        ours.append(t.decode_tok_s)
        theirs.append(_bare_tok_s(bare, PROMPT, max_tokens))
    result = {
        "model": engine.name,
        "threads": engine.n_threads,
        "max_tokens": max_tokens,
        "redline_tok_s": round(statistics.median(ours), 2),
        "llama_cpp_python_tok_s": round(statistics.median(theirs), 2),
        "runs": {
            "redline": [round(x, 2) for x in ours],
            "llama_cpp_python": [round(x, 2) for x in theirs],
        },
    }
    result["ratio"] = round(result["redline_tok_s"] / result["llama_cpp_python_tok_s"], 3)
    if json_out:
        print(json.dumps(result, indent=2))
    else:
        Console().print(
            f"plain decode, {engine.name}, {engine.n_threads} threads: redline "
            f"{result['redline_tok_s']:.1f} tok/s | llama-cpp-python "
            f"{result['llama_cpp_python_tok_s']:.1f} tok/s | ratio {result['ratio']:.3f}"
        )
    return result
