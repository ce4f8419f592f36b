"""``redline bench serve --n N``: one request for N choices, against the batch kernels.

An OpenAI ``n`` request to ``redline serve`` decodes its N continuations as one
batch (the prompt read once, its KV copied). How good that is has one honest
yardstick: what this CPU's batch kernels give for N rows at all. So the same run
measures, one after the other (never two llama.cpp workloads at once):

1. **One choice**: the prompt with ``n=1``: the single-stream decode rate.
2. **N choices**: the same prompt with ``n=N`` (sampled, seeds apart), streamed.
   Aggregate decode tok/s = the tokens every choice decoded after its first, over
   the time from the first choice's first token to the last choice's last (the
   concurrency bench's definition). The server's own per-choice timings say how
   many prompt tokens were evaluated: the prompt's length once, not N times.
3. **The kernels' N-row rate**: in-process, with the server stopped, a batch of N
   rows against one-token decodes (:func:`redline.bench.edit.measure_ceiling`,
   what ``--concurrency`` reports as "N rows decode at Xx one row's rate").

Nothing asserts; it prints and returns the figures.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from redline.bench.edit import measure_ceiling
from redline.bench.serve_client import start_redline, threads
from redline.engine.engine import Engine

PROMPT = (
    "Write a Python function `parse_duration(text)` that turns strings like '1h30m', "
    "'45s' or '2h' into a number of seconds, with a docstring and two examples."
)


def n_turn(http: httpx.Client, base: str, body: dict[str, Any]) -> dict[str, Any]:
    """One streamed chat request; per choice its first and last token times, and the
    server's per-choice timings (from each choice's final chunk)."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    timings: dict[int, dict[str, Any]] = {}
    usage: dict[str, Any] = {}
    t0 = time.perf_counter()
    payload = {**body, "stream": True, "stream_options": {"include_usage": True}}
    with http.stream("POST", f"{base}/v1/chat/completions", json=payload) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            obj = json.loads(line[6:])
            usage = obj.get("usage") or usage
            now = time.perf_counter()
            for choice in obj.get("choices") or []:
                i = choice["index"]
                if (choice.get("delta") or {}).get("content"):
                    first.setdefault(i, now)
                    last[i] = now
                if choice.get("finish_reason"):
                    timings[i] = obj.get("x_redline_timings") or {}
    end = time.perf_counter()
    return {"t0": t0, "end": end, "first": first, "last": last, "timings": timings, "usage": usage}


def _aggregate(turn: dict[str, Any]) -> dict[str, Any]:
    timings = [turn["timings"][i] for i in sorted(turn["timings"])]
    tokens = [t.get("completion_tokens", 0) for t in timings]
    window = max(turn["last"].values()) - min(turn["first"].values()) if turn["first"] else 0.0
    evaluated = sum(t.get("prompt_tokens", 0) - t.get("cached_tokens", 0) for t in timings)
    return {
        "choices": len(timings),
        "tokens": sum(tokens),
        "decode_tok_s": round(sum(max(0, n - 1) for n in tokens) / window, 1) if window else 0.0,
        "wall_s": round(turn["end"] - turn["t0"], 2),
        "prompt_tokens": turn["usage"].get("prompt_tokens", 0),
        "prompt_tokens_evaluated": evaluated,
        "ttft_ms": round((min(turn["first"].values()) - turn["t0"]) * 1000, 1)
        if turn["first"]
        else 0.0,
    }


def run_n_bench(
    model: str = "smollm2-135m",
    quick: bool = False,
    *,
    n: int = 8,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    console = console or Console()
    n_threads = n_threads or threads()
    max_tokens = 64 if quick else 192
    with tempfile.TemporaryDirectory(prefix="redline-bench-n-") as tmp:
        red = start_redline(model, n_ctx, n_threads, Path(tmp) / "redline.log")
        try:
            with httpx.Client(timeout=900) as http:
                warm = {"model": model, "messages": [{"role": "user", "content": "Hi"}]}
                n_turn(http, red.base, {**warm, "max_tokens": 4})
                body = {
                    "model": model,
                    "messages": [{"role": "user", "content": PROMPT}],
                    "max_tokens": max_tokens,
                    "temperature": 0.8,
                    "seed": 1,
                }
                one = _aggregate(n_turn(http, red.base, {**body, "seed": 100}))
                # the user message differs from its first word: only the chat template's
                # head is in the cache, the n request's own prompt is evaluated (once)
                fresh = {**body, "messages": [{"role": "user", "content": "Task: " + PROMPT}]}
                many = _aggregate(n_turn(http, red.base, {**fresh, "n": n}))
        finally:
            red.stop()
    engine = Engine(model, n_ctx=1024, n_threads=n_threads)
    try:
        kernels = measure_ceiling(engine, batch=n)
    finally:
        engine.close()
    result: dict[str, Any] = {
        "model": model,
        "quick": quick,
        "threads": n_threads,
        "n": n,
        "max_tokens": max_tokens,
        "one_choice": one,
        "n_choices": many,
        "kernel_rows": {
            "rows": n,
            "row_tok_s": round(kernels["batch_tok_s"], 1),
            "one_row_tok_s": round(kernels["decode_tok_s"], 1),
            "ceiling": round(kernels["ceiling"], 2),
        },
        "prompt_evaluated_once": many["prompt_tokens_evaluated"] <= many["prompt_tokens"],
    }
    result["ratios"] = {
        "aggregate_over_kernel_rows": round(
            many["decode_tok_s"] / result["kernel_rows"]["row_tok_s"], 2
        ),
        "aggregate_over_one_choice": round(many["decode_tok_s"] / one["decode_tok_s"], 2)
        if one["decode_tok_s"]
        else 0.0,
    }
    _print(result, console)
    return result


def _print(result: dict[str, Any], console: Console) -> None:
    n, many, k = result["n"], result["n_choices"], result["kernel_rows"]
    r = result["ratios"]
    console.print(
        f"bench serve --n {n} ({result['model']}, {result['max_tokens']} tokens a choice): "
        f"one choice decodes at {result['one_choice']['decode_tok_s']} tok/s; "
        f"n={n} at {many['decode_tok_s']} tok/s aggregate ({many['tokens']} tokens, "
        f"{many['wall_s']} s); this CPU's batch kernels: {n} rows at {k['row_tok_s']} tok/s "
        f"({k['ceiling']}x one row's {k['one_row_tok_s']}) -> aggregate = "
        f"{r['aggregate_over_kernel_rows']}x the {n}-row kernel rate"
    )
    once = "yes" if result["prompt_evaluated_once"] else "NO"
    console.print(
        f"prompt evaluated once: {once} ({many['prompt_tokens_evaluated']} tokens evaluated "
        f"for a {many['prompt_tokens']}-token prompt and {many['choices']} choices)"
    )
