"""Each benchmark's own table on the docs' results page, from its record.

The same columns the benchmark prints when it runs, so the page reads like the
run did. A benchmark without an entry here shows its top-level figures only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Table = tuple[list[str], list[list[Any]]]


def _median(spread: Any) -> Any:
    return spread.get("median") if isinstance(spread, dict) else spread


def latency(result: dict[str, Any]) -> Table:
    cols = [
        "model / backend",
        "TTFT cold s",
        "TTFT warm s",
        "warm/cold",
        "decode tok/s",
        "prompt tok/s",
    ]
    rows = [
        [
            f"{r['model']} / {r['backend']}",
            _median(r["ttft_cold_s"]),
            _median(r["ttft_warm_s"]),
            r.get("warm_over_cold"),
            _median(r["decode_tok_s"]),
            _median(r["prompt_tok_s"]),
        ]
        for r in result.get("rows", [])
    ]
    return cols, rows


def edit(result: dict[str, Any]) -> Table:
    cols = [
        "case",
        "lines",
        "tokens",
        "plain tok/s",
        "spec tok/s",
        "speed-up",
        "accepted",
        "same",
        "carried out",
    ]
    rows = [
        [
            c["id"],
            c.get("part", "whole"),
            c["output_tokens"],
            c["plain_tok_s"],
            c["spec_tok_s"],
            f"{c['speedup']:.2f}x",
            f"{c['acceptance_rate']:.0%}",
            c["identical"],
            c["edit_applied"],
        ]
        for c in result.get("cases", [])
    ]
    return cols, rows


def humaneval(result: dict[str, Any]) -> Table:
    cols = ["mode", "pass@1 %", "passed", "s/problem", "with static errors"]
    rows = [
        [
            mode,
            round(m["pass_at_1"] * 100, 2),
            f"{m['passed']}/{m['n']}",
            m.get("mean_seconds"),
            m.get("with_static_errors"),
        ]
        for mode, m in result.get("modes", {}).items()
    ]
    return cols, rows


def agent(result: dict[str, Any]) -> Table:
    cols = ["agent", "pass_rate_1", "pass_rate_2", "well formed %", "s/case", "tokens in/out"]
    rows = [
        [
            name,
            a.get("pass_rate_1"),
            a.get("pass_rate_2"),
            a.get("percent_cases_well_formed"),
            a.get("seconds_per_case"),
            f"{a.get('prompt_tokens')}/{a.get('completion_tokens')}",
        ]
        for name, a in result.get("agents", {}).items()
    ]
    return cols, rows


def serve(result: dict[str, Any]) -> Table:
    ratios = result.get("ratios", {})
    return ["ratio (as `bench serve` names it)", "value"], [[k, v] for k, v in ratios.items()]


TABLES: dict[str, Callable[[dict[str, Any]], Table]] = {
    "latency": latency,
    "edit": edit,
    "humaneval": humaneval,
    "agent": agent,
    "serve": serve,
}


def table_for(benchmark: str, result: dict[str, Any]) -> Table | None:
    """The benchmark's table, or None (no entry, or no rows in this record)."""
    fn = TABLES.get(benchmark) or TABLES.get(benchmark.split("-", 1)[0])
    if fn is None or benchmark == "serve-concurrency":
        return None
    try:
        cols, rows = fn(result)
    except (KeyError, TypeError):  # a transcribed record holds only some figures
        return None
    return (cols, rows) if rows else None
