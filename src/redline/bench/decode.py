"""``redline bench decode``: plain decoding through redline vs bare llama-cpp-python.

The same model file, prompt, thread count and greedy settings, interleaved
over repeats in one run so machine noise hits both alike. redline's engine
must not cost speed before speculation is even switched on.

The bare baseline runs in a child process with the weights laid out as
redline's (:mod:`redline.bench.baseline`); if it dies, its death is one line
and the result keeps redline's figures with the peer's marked missing.
"""

from __future__ import annotations

import json
import statistics
from typing import Any

from rich.console import Console

from redline.bench.baseline import NAME, RAN_AS, BareBaseline
from redline.bench.peers import PeerGuard
from redline.bench.results import envelope, print_machine
from redline.engine.engine import Engine
from redline.engine.types import GenerationRequest

PROMPT = "def fibonacci(n):"


def run_decode_bench(
    model: str = "gemma3-270m",
    max_tokens: int = 128,
    repeats: int = 3,
    json_out: bool = False,
    quick: bool = False,
) -> dict[str, Any]:
    if quick:
        repeats, max_tokens = 2, 64
    console = Console(stderr=json_out, soft_wrap=True)
    engine = Engine(model)
    guard = PeerGuard(NAME, repacked=False, report=lambda line: console.print(line))
    bare = guard.call(BareBaseline, engine.path, engine.n_ctx, engine.n_threads, guard)
    ours, theirs = [], []
    try:
        for _ in range(repeats):
            engine.session.truncate(0)  # no prefix reuse: both start cold
            req = GenerationRequest(prompt=PROMPT, max_tokens=max_tokens, speculative=False)
            _, t, _ = engine.complete(req)
            ours.append(t.decode_tok_s)
            rate = guard.call(bare.tok_s, PROMPT, max_tokens) if bare else None
            if rate is not None:
                theirs.append(rate)
    finally:
        if bare is not None:
            bare.close()
        engine.close()
    peer = round(statistics.median(theirs), 2) if theirs and guard.death is None else None
    result = envelope(
        "decode",
        model=engine.name,
        threads=engine.n_threads,
        max_tokens=max_tokens,
        redline_tok_s=round(statistics.median(ours), 2),
        llama_cpp_python_tok_s=peer,
        runs={
            "redline": [round(x, 2) for x in ours],
            "llama_cpp_python": [round(x, 2) for x in theirs],
        },
        peer=guard.record(RAN_AS),
    )
    result["ratio"] = round(result["redline_tok_s"] / peer, 3) if peer else None
    if json_out:
        print(json.dumps(result, indent=2))
    _print(result, console)
    return result


def _print(result: dict[str, Any], console: Console) -> None:
    print_machine(console, result["machine"])
    head = (
        f"plain decode, {result['model']}, {result['threads']} threads: redline "
        f"{result['redline_tok_s']:.1f} tok/s | "
    )
    peer = result["peer"]
    if result["ratio"] is None:
        why = peer.get("line", "it gave no figure")
        console.print(head + f"{NAME}: missing ({why}) | ratio: none")
        return
    console.print(
        head + f"{NAME} ({peer['ran_as']}) {result['llama_cpp_python_tok_s']:.1f} tok/s"
        f" | ratio {result['ratio']:.3f}"
    )
