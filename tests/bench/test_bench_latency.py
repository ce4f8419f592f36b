"""The latency benchmark on the real small model (short prefix to stay light on CPU)."""

from __future__ import annotations

import json

from bench_helpers import MACHINE_SCHEMA, check_schema

from redline.bench.latency import run_latency, shared_prefix

SPREAD = {"median": float, "min": float, "max": float, "n": int}
LATENCY_SCHEMA = {
    "benchmark": str,
    "machine": MACHINE_SCHEMA,
    "rows": [
        {
            "model": str,
            "backend": str,
            "ttft_cold_s": SPREAD,
            "ttft_warm_s": SPREAD,
            "decode_tok_s": SPREAD,
            "prompt_tok_s": SPREAD,
            "prompt_tokens": int,
        }
    ],
}


def test_shared_prefix_has_about_the_asked_tokens(smollm2_engine):
    text = shared_prefix(smollm2_engine.tokenize, 300)
    assert 250 <= len(smollm2_engine.tokenize(text)) <= 300


def test_in_process_latency_reuses_the_prefix(smollm2_engine):
    result = run_latency(["smollm2-135m"], repeats=1, serve=False, prefix_tokens=300, max_tokens=8)
    check_schema(json.loads(json.dumps(result)), LATENCY_SCHEMA)
    row = result["rows"][0]
    assert row["backend"] == "in-process"
    assert row["warm_cached_tokens"]["median"] >= 250  # the shared prefix came from the cache
    assert row["prompt_tokens"] >= 250
