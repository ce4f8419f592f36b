"""``redline bench serve --concurrency N``: N clients at once, batched or queued.

``redline serve --parallel N`` decodes N requests together (continuous batching);
``python -m llama_cpp.server`` serves one request at a time. Both get the same N
greedy chat requests at the same moment, on the same GGUF and threads:

1. **Alone**: each request by itself on redline, one after another: the
   single-stream decode figure, and each prompt's reference text.
2. **Together**: all N at once on redline, then on llama_cpp.server. Aggregate
   decode tok/s = the tokens the streams decoded after their first one, over the
   time from the first stream's first token to the last stream's last; the same
   definition for both servers, so waiting in a queue counts as it does for a user.
3. **Joining a busy server**: while N-1 long streams decode, short requests are
   sent one by one; their TTFT beside the same requests on the idle server.
4. **The kernels' ceiling**: in-process, with no server running, a batch of N rows
   against N one-token decodes on this CPU. Batching can only gain what the batch
   kernels give: measured here (2 cores, 0.5B coder model), 4 rows decode at
   1.22x one row's rate, 8 rows 1.9x, 16 rows 3.0x, 64 rows 3.5x.

Greedy text from a batch is compared with the same prompt's text alone: llama.cpp's
batch kernels are not the one-row kernels, so a near tie can flip (reported as a
share, never assumed). Nothing here asserts; it prints and returns.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from redline.bench.edit import measure_ceiling
from redline.bench.peers import PeerGuard
from redline.bench.results import envelope, print_machine
from redline.bench.serve_client import (
    Turn,
    llama_server_ran_as,
    llama_server_repack_flag,
    sse_turn,
    start_llama_cpp,
    start_redline,
    threads,
)
from redline.engine.engine import Engine
from redline.engine.models import resolve_model

PROMPTS = [
    "Write a Python function that checks whether a string is a palindrome.",
    "Write a Python function that returns the n-th Fibonacci number.",
    "Write a Python function that counts the words in a text file.",
    "Write a Python function that merges two sorted lists.",
    "Write a Python function that flattens a nested list.",
    "Write a Python function that removes duplicates from a list, keeping order.",
    "Write a Python function that checks whether a number is prime.",
    "Write a Python function that reverses the words of a sentence.",
]


def _body(prompt: str, max_tokens: int, model: str, plain: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    if plain:  # llama_cpp.server's default repeat_penalty (1.1) would change greedy text
        body["repeat_penalty"] = 1.0
    return body


def _at_once(base: str, bodies: list[dict[str, Any]]) -> list[Turn]:
    """Send every body at the same moment, each on its own connection."""
    turns: list[Turn | BaseException | None] = [None] * len(bodies)
    go = threading.Barrier(len(bodies))

    def one(i: int) -> None:
        with httpx.Client(timeout=900) as http:
            go.wait()
            try:
                turns[i] = sse_turn(http, base, bodies[i])
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                turns[i] = exc

    workers = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for t in turns:
        if isinstance(t, BaseException):
            raise t
    return [t for t in turns if isinstance(t, Turn)]


def _aggregate(engine: Engine, turns: list[Turn]) -> dict[str, float]:
    counts = [len(engine.tokenize(t.text)) for t in turns]
    window = max(t.t_last for t in turns) - min(t.t_first for t in turns)
    wall = max(t.t_last for t in turns) - min(t.t_first - t.ttft_s for t in turns)
    return {
        "decode_tok_s": round(sum(n - 1 for n in counts) / window, 1) if window > 0 else 0.0,
        "e2e_tok_s": round(sum(counts) / wall, 1) if wall > 0 else 0.0,
        "tokens": sum(counts),
        "ttft_ms_median": round(statistics.median(t.ttft_s for t in turns) * 1000, 1),
        "wall_s": round(wall, 2),
    }


def _queued(base: str, name: str, prompts: list[str], max_tokens: int) -> list[Turn]:
    """The same N requests at once on llama_cpp.server (which queues them)."""
    with httpx.Client(timeout=900) as http:
        sse_turn(http, base, _body("Hello", 4, name, True))
    return _at_once(base, [_body(p, max_tokens, name, True) for p in prompts])


def _p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


def _joining(
    base: str, model: str, n: int, joins: int, long_tokens: int
) -> tuple[list[float], list[float]]:
    """TTFTs (s) of short requests on the idle server, then while n-1 streams decode."""

    def short(i: int) -> dict[str, Any]:
        return _body(f"Reply with the number {1000 + 37 * i} and nothing else.", 8, model, False)

    with httpx.Client(timeout=900) as http:
        idle = [sse_turn(http, base, short(i)).ttft_s for i in range(joins)]
        busy: list[float] = []
        long_bodies = [_body(p, long_tokens, model, False) for p in PROMPTS[: max(1, n - 1)]]
        started = threading.Event()

        def background() -> None:
            started.set()
            _at_once(base, long_bodies)

        runner = threading.Thread(target=background)
        runner.start()
        started.wait()
        time.sleep(1.0)  # the long streams are past their prompts and decoding
        for i in range(joins):
            if not runner.is_alive():
                break
            busy.append(sse_turn(http, base, short(joins + i)).ttft_s)
        runner.join()
    return idle, busy


def run_concurrency_bench(
    model: str = "smollm2-135m",
    quick: bool = False,
    *,
    concurrency: int = 4,
    n_ctx: int = 2048,
    n_threads: int | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    console = console or Console()
    n_threads = n_threads or threads()
    n = max(2, concurrency)
    _, gguf = resolve_model(model)
    max_tokens, joins = (64, 4) if quick else (160, 8)
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(n)]
    engine = Engine(model, n_ctx=1024)  # tokenises the outputs (both servers alike)
    name = engine.name
    # the logs matter only while a server runs: a failed start quotes its log
    with tempfile.TemporaryDirectory(prefix="redline-bench-concurrency-") as tmp:
        logs = Path(tmp)
        red = start_redline(model, n_ctx, n_threads, logs / "redline.log", parallel=n)
        try:
            with httpx.Client(timeout=900) as http:
                sse_turn(http, red.base, _body("Hello", 4, name, False))  # page the model in
                alone = [
                    sse_turn(http, red.base, _body(p, max_tokens, name, False)) for p in prompts
                ]
            together = _at_once(red.base, [_body(p, max_tokens, name, False) for p in prompts])
            idle, busy = _joining(red.base, name, n, joins, max_tokens * 2)
        finally:
            red.stop()
        guard = PeerGuard(
            "llama_cpp.server",
            repacked=not llama_server_repack_flag(),
            report=lambda line: console.print(line, style="yellow", soft_wrap=True),
        )
        llc = guard.call(start_llama_cpp, gguf, n_ctx, n_threads, logs / "llama_cpp.log")
        queued = None
        if llc is not None:
            guard.proc = llc.proc
            try:
                queued = guard.call(_queued, llc.base, name, prompts, max_tokens)
            finally:
                llc.stop()
    ceilings = {
        rows: round(measure_ceiling(engine, batch=rows)["ceiling"], 2)
        for rows in sorted({2, n, 8, 16})
    }
    single = [t.decode_tok_s(len(engine.tokenize(t.text))) for t in alone]
    same = [a.text == b.text for a, b in zip(alone, together, strict=True)]
    result = envelope(
        "serve-concurrency",
        model=name,
        quick=quick,
        threads=n_threads,
        concurrency=n,
        max_tokens=max_tokens,
        single_stream_decode_tok_s=round(statistics.median(single), 1),
        redline_parallel=_aggregate(engine, together),
        llama_cpp_server=_aggregate(engine, queued) if queued else None,
        same_text_as_alone=round(sum(same) / len(same), 2),
        batch_ceiling=ceilings,
        idle_ttft_ms=[round(x * 1000, 1) for x in idle],
        busy_ttft_ms=[round(x * 1000, 1) for x in busy],
        peer=guard.record(llama_server_ran_as()),
    )
    agg = result["redline_parallel"]["decode_tok_s"]
    peer_tok_s = queued and result["llama_cpp_server"]["decode_tok_s"]
    result["ratios"] = {
        "vs_single_stream": round(agg / result["single_stream_decode_tok_s"], 2),
        "vs_llama_cpp_server": round(agg / peer_tok_s, 2) if peer_tok_s else None,
        "busy_p95_over_idle_ttft": round(_p95(busy) / statistics.median(idle), 2) if busy else 0.0,
    }
    engine.close()
    _print(result, console)
    return result


def _print(result: dict[str, Any], console: Console) -> None:
    n = result["concurrency"]
    title = f"bench serve --concurrency {n} ({result['model']}, greedy, same prompts)"
    peer = f"llama_cpp: {result['peer']['ran_as']}"
    t = Table(title=title, caption=peer)
    for col in ("target", "aggregate decode tok/s", "e2e tok/s", "tokens", "TTFT ms (median)"):
        t.add_column(col, justify="left" if col == "target" else "right")
    t.add_row("redline serve, one request at a time", f"{result['single_stream_decode_tok_s']:.1f}")
    for label, key in (
        (f"redline serve --parallel {n}, {n} at once", "redline_parallel"),
        (f"llama_cpp.server, {n} at once", "llama_cpp_server"),
    ):
        s = result[key]
        if s is None:  # the peer died: its line says how
            t.add_row(label, f"missing: {result['peer']['line']}")
            continue
        t.add_row(
            label,
            f"{s['decode_tok_s']:.1f}",
            f"{s['e2e_tok_s']:.1f}",
            str(s["tokens"]),
            f"{s['ttft_ms_median']:.0f}",
        )
    print_machine(console, result.get("machine"))
    console.print(t)
    r = result["ratios"]
    idle = statistics.median(result["idle_ttft_ms"])
    busy = _p95(result["busy_ttft_ms"]) if result["busy_ttft_ms"] else 0.0
    versus = (
        f"{r['vs_llama_cpp_server']}x llama_cpp.server"
        if r["vs_llama_cpp_server"] is not None
        else "llama_cpp.server missing"
    )
    console.print(
        f"aggregate: {r['vs_single_stream']}x one stream, {versus} "
        f"with the same {n} clients; text the same as alone on "
        f"{result['same_text_as_alone']:.0%} of streams; "
        + (
            f"a request joining {n - 1} busy streams: p95 TTFT {busy:.0f} ms vs {idle:.0f} ms "
            f"idle (median) = {r['busy_p95_over_idle_ttft']}x"
            if result["busy_ttft_ms"]
            else "no request joined a busy server (the long streams ended first)"
        )
    )
    curve = ", ".join(f"{rows} rows {x}x" for rows, x in result["batch_ceiling"].items())
    console.print(
        f"this CPU's batch kernels (in-process, rows decoded together vs one by one): {curve}; "
        f"{n} streams cannot beat {result['batch_ceiling'][n]}x one stream"
    )
