"""``redline bench serve``: redline serve vs llama_cpp.server vs in-process.

Three measurements on the same GGUF, both servers on loopback, greedy decoding:

1. **Streamed chat**: the same prompts through ``redline serve`` and
   ``python -m llama_cpp.server`` (interleaved, so load drift hits both alike):
   TTFT and decode tok/s, with the in-process engine as the floor.
2. **Per-turn overhead**: a cached one-token turn over HTTP/SSE (keep-alive),
   over one WebSocket, and in-process; overhead = median minus in-process median.
3. **Edit with prediction**: "rename a function, output the whole file", with
   the file as ``prediction`` for redline; llama_cpp.server has no prediction.

Tokens are counted by tokenising each output with the same GGUF, so both
servers are measured alike. Nothing here asserts; it prints and returns.
"""

from __future__ import annotations

import difflib
import statistics
import tempfile
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from websockets.sync.client import connect

from redline.agent.editing.edits import rewrite_messages, rewrite_prediction
from redline.agent.editing.restate import likely
from redline.bench.peers import PeerGuard
from redline.bench.results import envelope
from redline.bench.serve_client import (
    Turn,
    inproc_turn,
    llama_server_ran_as,
    llama_server_repack_flag,
    sse_turn,
    start_llama_cpp,
    start_redline,
    threads,
    ws_turn,
)
from redline.bench.serve_report import print_serve, ratios
from redline.engine.engine import Engine
from redline.engine.models import resolve_model

PROMPTS = [
    "Write a Python function that checks whether a string is a palindrome.",
    "Explain what a hash map is in a few sentences.",
    "List five tips for writing readable code.",
    "Write a haiku about compilers.",
]

EDIT_FILE = '''"""Order totals for the shop."""

from dataclasses import dataclass


@dataclass
class Item:
    name: str
    price: float
    quantity: int


def compute_total(items: list[Item], tax_rate: float = 0.2) -> float:
    """Sum of price times quantity, plus tax."""
    subtotal = sum(item.price * item.quantity for item in items)
    return round(subtotal * (1 + tax_rate), 2)


def cheapest(items: list[Item]) -> Item | None:
    """The item with the lowest unit price, if any."""
    return min(items, key=lambda item: item.price, default=None)


def describe(items: list[Item]) -> str:
    lines = [f"{item.quantity} x {item.name} at {item.price:.2f}" for item in items]
    lines.append(f"total: {compute_total(items):.2f}")
    return "\\n".join(lines)
'''


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def _summary(engine: Engine, turns: list[Turn]) -> dict[str, float] | None:
    """Medians over ``turns``; None for a target with none (a peer that died)."""
    if not turns:
        return None
    toks = [len(engine.tokenize(t.text)) for t in turns]
    return {
        "ttft_ms": round(_median([t.ttft_s for t in turns]) * 1000, 2),
        "decode_tok_s": round(
            _median([t.decode_tok_s(n) for t, n in zip(turns, toks, strict=True)]), 1
        ),
        "e2e_tok_s": round(_median([n / t.total_s for t, n in zip(turns, toks, strict=True)]), 1),
        "total_ms": round(_median([t.total_s for t in turns]) * 1000, 2),
        "tokens": round(_median([float(n) for n in toks]), 1),
        "turns": len(turns),
    }


def _chat(prompt: str, max_tokens: int, model: str) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }


def _plain(body: dict[str, Any], engine: Engine) -> dict[str, Any]:
    """The body for llama_cpp.server: its default repeat_penalty (1.1) would change
    greedy outputs; OpenAI's wire format, and redline, have none.

    A model without a chat template (a base model such as Gemma 3 270M) gets
    llama-2's from llama-cpp-python, and answers it with nothing; it is sent the
    prompt redline renders instead, as a text completion, so both servers read
    the same tokens.
    """
    if engine.chat.native:
        return {**body, "repeat_penalty": 1.0}
    rest = {k: v for k, v in body.items() if k not in ("messages", "prediction")}
    prompt = engine.render_chat(body["messages"])
    return {**rest, "prompt": prompt, "stop": engine.chat.stop, "repeat_penalty": 1.0}


def _streamed_chat(engine, http, red, peer, model, prompts, max_tokens, reps) -> dict[str, Any]:
    """``peer(body)``: llama_cpp.server's turn, or None once it has died."""
    runs: dict[str, list[Turn]] = {"redline": [], "llama_cpp": [], "inproc": []}
    same: list[bool] = []
    for _ in range(reps):
        for prompt in prompts:
            body = _chat(prompt, max_tokens, model)
            runs["redline"].append(sse_turn(http, red.base, body))
            if (theirs := peer(_plain(body, engine))) is not None:
                runs["llama_cpp"].append(theirs)
                # Same tokens, same work: the tok/s comparison is only fair where texts agree.
                same.append(runs["redline"][-1].text == theirs.text)
            runs["inproc"].append(inproc_turn(engine, body))
    out: dict[str, Any] = {name: _summary(engine, turns) for name, turns in runs.items()}
    out["same_text"] = round(sum(same) / len(same), 2) if same else None
    return out


def _overhead(engine, http, red, model, n) -> dict[str, Any]:
    body = _chat("Reply with one word.", 1, model)
    runs: dict[str, list[Turn]] = {"inproc": [], "http_sse": [], "websocket": []}
    with connect(red.base.replace("http://", "ws://") + "/v1/ws", max_size=None) as ws:
        for _ in range(2):  # warm every path and the prefix cache
            inproc_turn(engine, body)
            sse_turn(http, red.base, body)
            ws_turn(ws, body)
        for _ in range(n):
            runs["inproc"].append(inproc_turn(engine, body))
            runs["http_sse"].append(sse_turn(http, red.base, body))
            runs["websocket"].append(ws_turn(ws, body))
    floor = _median([t.total_s for t in runs["inproc"]])
    floor_ttft = _median([t.ttft_s for t in runs["inproc"]])
    floor_min = min(t.total_s for t in runs["inproc"])
    return {
        name: {
            "turn_ms": round(_median([t.total_s for t in turns]) * 1000, 3),
            "overhead_ms": round((_median([t.total_s for t in turns]) - floor) * 1000, 3),
            "ttft_ms": round(_median([t.ttft_s for t in turns]) * 1000, 3),
            "ttft_overhead_ms": round((_median([t.ttft_s for t in turns]) - floor_ttft) * 1000, 3),
            # the fastest turn is the least disturbed by other load on a shared machine
            "min_overhead_ms": round((min(t.total_s for t in turns) - floor_min) * 1000, 3),
        }
        for name, turns in runs.items()
    }


def _edit(engine, http, red, peer, model, reps, quick) -> dict[str, Any]:
    """The edit three ways on redline (plain; the old file as prediction; the reply
    itself as prediction) and plain on llama_cpp.server.

    The old file (with the rename the request states made) is the real case: how
    much of it the reply keeps is up to the model.
    The reply itself as prediction is the case where the model keeps every predicted
    token: the most speculation can give on this machine, whatever the model.
    """
    source = EDIT_FILE if not quick else EDIT_FILE.split("\n\ndef cheapest")[0] + "\n"
    max_tokens = len(engine.tokenize(source)) + 48
    # the request redline's agent sends for a whole-file rewrite
    instruction = "Rename the function compute_total to calculate_total everywhere."
    messages = rewrite_messages(instruction, source, path="shop.py")
    body = {**_chat("", max_tokens, model), "messages": messages}
    reply = sse_turn(http, red.base, body).text  # greedy: the same reply every time
    # what the agent sends: the old file, fenced, with the stated rename made (restate.likely)
    old = rewrite_prediction(likely(instruction, source), "shop.py")
    predicted = {**body, "prediction": {"type": "content", "content": old}}
    exact = {**body, "prediction": {"type": "content", "content": reply}}
    runs: dict[str, list[Turn]] = {
        "redline_prediction": [],
        "redline_exact_prediction": [],
        "redline_plain": [],
        "llama_cpp": [],
    }
    for _ in range(reps):
        runs["redline_prediction"].append(sse_turn(http, red.base, predicted))
        runs["redline_exact_prediction"].append(sse_turn(http, red.base, exact))
        runs["redline_plain"].append(sse_turn(http, red.base, body))
        if (theirs := peer(_plain(body, engine))) is not None:
            runs["llama_cpp"].append(theirs)
    out = {name: _summary(engine, turns) for name, turns in runs.items()}
    plain = runs["redline_plain"][-1].text
    out["same_text"] = runs["redline_prediction"][-1].text == plain
    out["exact_same_text"] = runs["redline_exact_prediction"][-1].text == plain
    out["kept_old_file"] = round(difflib.SequenceMatcher(None, source, plain).ratio(), 2)
    return out


def run_serve_bench(
    model: str = "smollm2-135m",
    quick: bool = False,
    *,
    n_ctx: int = 4096,
    n_threads: int | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run the whole benchmark; print rich tables; return JSON-able results.

    ``n_threads`` (default: all cores) is given to both servers and the in-process
    engine alike; on a shared, busy machine ``n_threads=1`` gives steadier figures,
    as llama.cpp's thread barriers stall whenever one of its threads is descheduled.
    If llama_cpp.server dies (by a signal: see :mod:`redline.bench.peers`), one line
    says so and the run goes on with redline's figures, the peer's marked missing.
    """
    console = console or Console()
    n_threads = n_threads or threads()
    _, gguf = resolve_model(model)
    reps, max_tokens, n_over = (1, 48, 8) if quick else (3, 128, 30)
    prompts = PROMPTS[:2] if quick else PROMPTS
    engine = Engine(model, n_ctx=n_ctx, n_threads=n_threads)
    guard = PeerGuard(
        "llama_cpp.server",
        repacked=not llama_server_repack_flag(),
        report=lambda line: console.print(line, style="yellow", soft_wrap=True),
    )
    # the logs matter only while the servers run: a failed start quotes its log
    with tempfile.TemporaryDirectory(prefix="redline-bench-serve-") as tmp:
        logs = Path(tmp)
        red = start_redline(model, n_ctx, n_threads, logs / "redline.log")
        try:
            llc = guard.call(start_llama_cpp, gguf, n_ctx, n_threads, logs / "llama_cpp.log")
        except BaseException:
            red.stop()
            raise
        guard.proc = llc.proc if llc else None
        try:
            with httpx.Client(timeout=600) as http:
                name = engine.name

                def peer(body: dict[str, Any]) -> Turn | None:
                    return guard.call(sse_turn, http, llc.base, body) if llc else None

                sse_turn(http, red.base, _chat("Hello", 4, name))  # warm-up: page the model in
                peer(_chat("Hello", 4, name))
                inproc_turn(engine, _chat("Hello", 4, name))
                chat = _streamed_chat(engine, http, red, peer, name, prompts, max_tokens, reps)
                over = _overhead(engine, http, red, name, n_over)
                edit = _edit(engine, http, red, peer, name, reps, quick)
        finally:
            red.stop()
            if llc:
                llc.stop()
    if guard.death is not None:  # a peer that died part way gives no figure at all
        chat["llama_cpp"] = edit["llama_cpp"] = chat["same_text"] = None
    result = envelope(
        "serve",
        model=engine.name,
        quick=quick,
        threads=n_threads,
        chat=chat,
        overhead=over,
        edit=edit,
        peer=guard.record(llama_server_ran_as()),
    )
    result["ratios"] = ratios(chat, edit)
    print_serve(result, console)
    return result
