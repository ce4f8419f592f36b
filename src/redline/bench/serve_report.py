"""``redline bench serve``'s ratios and tables, from its result dict.

Kept apart from the measuring (:mod:`redline.bench.serve`) so a result whose
peer died prints as plainly as a full one: the peer's rows say "missing" and
why, and every ratio against it is None instead of a made-up zero.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from redline.bench.results import print_machine


def _ratio(a: float, b: float | None) -> float | None:
    return round(a / b, 2) if b else None


def ratios(chat: dict[str, Any], edit: dict[str, Any]) -> dict[str, float | None]:
    """redline over llama_cpp.server (None for each when the peer gave no figures)."""
    red, peer = chat["redline"], chat["llama_cpp"] or {}
    pred, exact = edit["redline_prediction"], edit["redline_exact_prediction"]
    theirs = edit["llama_cpp"] or {}
    return {
        "ttft": _ratio(red["ttft_ms"], peer.get("ttft_ms")),
        "decode_tok_s": _ratio(red["decode_tok_s"], peer.get("decode_tok_s")),
        "edit_decode_tok_s": _ratio(pred["decode_tok_s"], theirs.get("decode_tok_s")),
        "edit_e2e_tok_s": _ratio(pred["e2e_tok_s"], theirs.get("e2e_tok_s")),
        "edit_e2e": _ratio(theirs["total_ms"], pred["total_ms"]) if theirs else None,
        "edit_exact_decode_tok_s": _ratio(exact["decode_tok_s"], theirs.get("decode_tok_s")),
        "edit_exact_e2e": _ratio(theirs["total_ms"], exact["total_ms"]) if theirs else None,
        "ttft_overhead_ms": round(red["ttft_ms"] - chat["inproc"]["ttft_ms"], 2),
    }


def _cells(s: dict[str, Any]) -> tuple[str, ...]:
    return (
        f"{s['ttft_ms']:.1f}",
        f"{s['decode_tok_s']:.1f}",
        f"{s['e2e_tok_s']:.1f}",
        f"{s['tokens']:.0f}",
    )


def print_serve(result: dict[str, Any], console: Console) -> None:
    """The machine line, the streamed-chat table, the overhead table and the ratios."""
    chat, edit, over = result["chat"], result["edit"], result["overhead"]
    peer = result["peer"]
    missing = f"missing: {peer['line']}" if peer["status"] != "ran" else "missing"
    print_machine(console, result["machine"])
    t = Table(title=f"bench serve: streamed chat ({result['model']})")
    for col in ("target", "TTFT ms", "decode tok/s", "e2e tok/s", "tokens"):
        t.add_column(col, justify="right" if col != "target" else "left")
    for prefix, part in (("", chat), ("edit: ", edit)):
        for name, s in part.items():
            if isinstance(s, dict):
                t.add_row(f"{prefix}{name}", *_cells(s))
            elif name == "llama_cpp":
                t.add_row(f"{prefix}{name}", missing, "", "", "")
    t.caption = f"llama_cpp: {peer['ran_as']}"
    console.print(t)
    o = Table(title="per-turn overhead (1-token cached turn, medians)")
    for col in ("path", "turn ms", "overhead ms", "TTFT ms", "TTFT overhead ms", "min overhead ms"):
        o.add_column(col, justify="right" if col != "path" else "left")
    for name, s in over.items():
        o.add_row(
            name,
            f"{s['turn_ms']:.2f}",
            f"{s['overhead_ms']:.2f}",
            f"{s['ttft_ms']:.2f}",
            f"{s['ttft_overhead_ms']:.2f}",
            f"{s['min_overhead_ms']:.2f}",
        )
    console.print(o)
    r = result["ratios"]
    if r["ttft"] is None:
        console.print(
            f"redline/llama_cpp: no ratios, the peer is missing ({peer.get('line', 'no figures')})"
            f"; redline TTFT over in-process: {r['ttft_overhead_ms']} ms"
        )
        return
    console.print(
        f"redline/llama_cpp: TTFT {r['ttft']}x, decode tok/s {r['decode_tok_s']}x "
        f"(same text on {chat['same_text']:.0%} of turns); "
        f"edit with prediction vs llama_cpp: decode {r['edit_decode_tok_s']}x, "
        f"end-to-end tok/s {r['edit_e2e_tok_s']}x, wall time {r['edit_e2e']}x; "
        f"prediction kept the text: {edit['same_text']}; the reply kept "
        f"{edit['kept_old_file']:.0%} of the old file; with the reply itself as prediction "
        f"(every drafted token kept): decode {r['edit_exact_decode_tok_s']}x, wall time "
        f"{r['edit_exact_e2e']}x, text kept: {edit['exact_same_text']}; "
        f"redline TTFT over in-process: {r['ttft_overhead_ms']} ms"
    )
