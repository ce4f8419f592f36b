"""The one-line figure each benchmark contributes to the README's headline table.

A reader choosing a coding agent asks three things of a model: how fast it
answers, how fast it writes, how often it is right. Each function here reads a
record's ``result`` and says that in a row: what was measured, and the figure
with what it is compared against. A benchmark without a function here still
has its records in the docs' tables; it just does not make the headline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Row = tuple[str, str, str]
"""(model, what was measured, the figure)."""


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f} %"


def latency(result: dict[str, Any]) -> list[Row]:
    rows = []
    for r in result.get("rows", []):
        if r.get("backend") != "in-process":
            continue
        rows.append(
            (
                r["model"],
                f"time to first token, {result.get('prefix_tokens', 2000)}-token prompt",
                f"cold {r['ttft_cold_s']['median']:.2f} s, "
                f"with the prefix cached {r['ttft_warm_s']['median']:.3f} s; "
                f"decode {r['decode_tok_s']['median']:.1f} tok/s",
            )
        )
    return rows


def edit(result: dict[str, Any]) -> list[Row]:
    n = len(result.get("cases") or []) or result.get("n_cases", 0)
    figure = (
        f"{result['median_speedup']:.2f}x plain decoding (ceiling {result['ceiling']:.2f}x); "
        f"edits carried out {result['edits_applied']}/{n}"
    )
    if "plain_edits_applied" in result:
        figure += f" (plain {result['plain_edits_applied']}/{n})"
    if "identical_cases" in result:
        figure += f"; identical to plain {result['identical_cases']}/{n}"
    return [
        (result["model"], f"speculative edits ({n} file edits, the old file as prediction)", figure)
    ]


def humaneval(result: dict[str, Any]) -> list[Row]:
    modes = result["modes"]
    single, loop = modes["single"], modes.get("loop")
    figure = f"pass@1 {_pct(single['pass_at_1'])} ({single['mean_seconds']:.1f} s/problem)"
    if loop:
        figure += f"; with the error loop {_pct(loop['pass_at_1'])} ({loop['mean_seconds']:.1f} s)"
    chosen = modes.get("select")
    if chosen:
        n = (result.get("select") or {}).get("n", "N")
        figure += (
            f"; {n} sampled in one batch where in doubt, one kept by checks "
            f"{_pct(chosen['pass_at_1'])} ({chosen['mean_seconds']:.1f} s)"
        )
    return [(result["model"], f"HumanEval, {result['problems']} problems", figure)]


def agent(result: dict[str, Any]) -> list[Row]:
    agents = result["agents"]
    red = agents["redline"]
    figure = (
        f"solved {red['pass_rate_2']:.1f} % within two tries, "
        f"{red['seconds_per_case']:.1f} s per case"
    )
    if "aider" in agents:
        aid = agents["aider"]
        figure += (
            f"; aider on the same server {aid['pass_rate_2']:.1f} %, "
            f"{aid['seconds_per_case']:.1f} s"
        )
    what = f"agent, {red['cases']} polyglot-python exercises"
    n = int((result.get("settings") or {}).get("candidates") or 1)
    if n > 1:
        what += f", {n} candidates per answer where checkable"
    return [(result["model"], what, figure)]


def serve(result: dict[str, Any]) -> list[Row]:
    ratios = result["ratios"]
    return [
        (
            result["model"],
            "`redline serve` vs llama_cpp.server",
            f"an edit with `prediction` done {ratios['edit_e2e']:.2f}x sooner; chat: decode "
            f"{ratios['decode_tok_s']:.2f}x, time to first token {ratios['ttft']:.2f}x theirs",
        )
    ]


def decode(result: dict[str, Any]) -> list[Row]:
    return [
        (
            result["model"],
            "plain decoding vs bare llama-cpp-python",
            f"{result['redline_tok_s']:.1f} vs {result['llama_cpp_python_tok_s']:.1f} tok/s "
            f"({result['ratio']:.3f}x)",
        )
    ]


HEADLINES: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "latency": latency,
    "edit": edit,
    "humaneval": humaneval,
    "agent": agent,
    "serve": serve,
    "decode": decode,
}
"""Keyed by the record's ``benchmark``; ``humaneval-MODEL`` and ``agent-MODEL`` by prefix."""
PER_MODEL = ("humaneval", "agent")


def rows_for(benchmark: str, result: dict[str, Any]) -> list[Row]:
    """The headline rows of one result ([] for a benchmark without a headline:
    ablations such as ``agent-MODEL-nospec`` and held-out sets such as ``edit-more``
    stay in the docs' tables)."""
    family = benchmark.split("-", 1)[0]
    if family in PER_MODEL and not benchmark.endswith("-nospec"):
        return HEADLINES[family](result)
    fn = HEADLINES.get(benchmark)
    return fn(result) if fn else []
