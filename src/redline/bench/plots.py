"""PNG plots of benchmark results (matplotlib, Agg backend: no display needed).

Each function takes result dicts as the benchmarks return them (or as read back
from ``bench-results/*.json``) and writes one PNG, returning its path. The
edit and serve benchmarks belong to other modules, so their plots look for the
figures by key (any list of rows with a ``speedup`` / ``ttft`` / ``tok_s``
field) rather than assuming one exact layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from redline.bench.results import results_dir  # noqa: E402


def _save(fig: Any, name: str, base: str | Path | None) -> Path:
    path = results_dir(base) / name
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _median(value: Any) -> float | None:
    if isinstance(value, dict):
        value = value.get("median")
    return float(value) if isinstance(value, int | float) else None


def plot_latency(result: dict[str, Any], base: str | Path | None = None) -> Path:
    """TTFT cold vs warm, and decode tok/s, per model and backend."""
    rows = result.get("rows", [])
    labels = [f"{r['model']}\n{r['backend']}" for r in rows]
    cold = [_median(r.get("ttft_cold_s")) or 0.0 for r in rows]
    warm = [_median(r.get("ttft_warm_s")) or 0.0 for r in rows]
    tok = [_median(r.get("decode_tok_s")) or 0.0 for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    xs = range(len(rows))
    ax1.bar([x - 0.2 for x in xs], cold, width=0.4, label="cold (no cached prefix)")
    ax1.bar([x + 0.2 for x in xs], warm, width=0.4, label="warm (2k-token prefix cached)")
    ax1.set_xticks(list(xs), labels, fontsize=8)
    ax1.set_ylabel("time to first token (s)")
    ax1.legend(fontsize=8)
    ax2.bar(list(xs), tok, color="tab:green")
    ax2.set_xticks(list(xs), labels, fontsize=8)
    ax2.set_ylabel("decode tokens/s")
    fig.suptitle(f"Latency on {result.get('machine', {}).get('cpus', '?')} CPU cores")
    return _save(fig, "latency.png", base)


def plot_frontier(
    points: list[dict[str, Any]],
    base: str | Path | None = None,
    name: str = "frontier.png",
    title: str = "HumanEval: pass@1 vs seconds per problem",
    x_label: str = "seconds per problem",
    y_label: str = "pass@1 (%)",
) -> Path:
    """One labelled point per (label, x, y): the speed x accuracy trade-off."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for p in points:
        ax.scatter([p["x"]], [p["y"]], s=60)
        ax.annotate(
            p["label"], (p["x"], p["y"]), textcoords="offset points", xytext=(6, 4), fontsize=8
        )
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_title(title)
    top = max([p["y"] for p in points] + [10.0])
    ax.set_ylim(-2, min(100.0, top * 1.25 + 2))
    ax.set_xlim(left=0, right=max([p["x"] for p in points] + [1.0]) * 1.3)
    ax.grid(alpha=0.3)
    return _save(fig, name, base)


def humaneval_points(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Frontier points from HumanEval results: one per model x mode."""
    points = []
    for res in results:
        for mode, summ in res.get("modes", {}).items():
            n = (res.get("select") or {}).get("n", "N")
            name = {"loop": "error loop", "select": f"best of {n}"}.get(mode, "single-shot")
            label = f"{res.get('model')} · {name}"
            points.append(
                {"label": label, "x": summ["mean_seconds"], "y": 100.0 * summ["pass_at_1"]}
            )
    return points


def plot_humaneval(results: list[dict[str, Any]], base: str | Path | None = None) -> Path:
    return plot_frontier(humaneval_points(results), base, "humaneval_frontier.png")


def plot_agent(results: list[dict[str, Any]], base: str | Path | None = None) -> Path:
    """Pass rate (after try 2) vs seconds per case, one point per agent x model."""
    points = []
    for res in results:
        for agent, summ in res.get("agents", {}).items():
            points.append(
                {
                    "label": f"{agent} · {res.get('model')}",
                    "x": summ["seconds_per_case"],
                    "y": summ["pass_rate_2"],
                }
            )
    return plot_frontier(
        points,
        base,
        "agent_polyglot.png",
        title="polyglot-python: pass rate vs seconds per case",
        x_label="seconds per case",
        y_label="pass rate after 2 tries (%)",
    )


def candidate_points(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Seconds per case against pass rate, from saved ``bench agent`` records: per
    model, redline's first answer alone (single: try 1's seconds, pass_rate_1), the
    two-try loop (pass_rate_2) and each ``--candidates N`` run; aider beside them."""
    points = []
    for res in results:
        n = int((res.get("settings") or {}).get("candidates") or 1)
        model = res.get("model")
        for agent, summ in res.get("agents", {}).items():
            label = f"{agent} · {model}"
            if agent == "redline" and n > 1:
                points.append(_point(f"{label} · N={n}", summ))
                continue
            if agent == "redline":
                firsts = [
                    c["tries"][0]["seconds"]
                    for c in res.get("cases", [])
                    if c.get("agent") == agent and c.get("tries") and "seconds" in c["tries"][0]
                ]
                if firsts:
                    x = sum(firsts) / len(firsts)
                    points.append({"label": f"{label} · single", "x": x, "y": summ["pass_rate_1"]})
                label += " · loop"
            points.append(_point(label, summ))
    return points


def _point(label: str, summ: dict[str, Any]) -> dict[str, Any]:
    return {"label": label, "x": summ["seconds_per_case"], "y": summ["pass_rate_2"]}


def plot_candidates(results: list[dict[str, Any]], base: str | Path | None = None) -> Path:
    """The speed-for-accuracy trade: single, loop and N candidates, per model."""
    return plot_frontier(
        candidate_points(results),
        base,
        "agent_candidates.png",
        title="polyglot-python: pass rate vs seconds per case (single, loop, N candidates)",
        x_label="seconds per case",
        y_label="pass rate (%)",
    )


def _rows_with(obj: Any, needle: str) -> Iterator[list[dict[str, Any]]]:
    """Every list of dict rows (anywhere in ``obj``) having a key containing ``needle``."""
    if isinstance(obj, list):
        if (
            obj
            and all(isinstance(r, dict) for r in obj)
            and any(needle in k for r in obj for k in r)
        ):
            yield obj
        for item in obj:
            yield from _rows_with(item, needle)
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _rows_with(value, needle)


def _label(row: dict[str, Any], i: int) -> str:
    for key in ("name", "case", "backend", "label", "server", "transport", "model"):
        if isinstance(row.get(key), str):
            return row[key]
    return f"#{i + 1}"


def _metric(row: dict[str, Any], needle: str) -> tuple[str, float] | None:
    for key, value in row.items():
        if needle in key:
            v = _median(value)
            if v is not None:
                return key, v
    return None


def plot_metric_bars(
    result: dict[str, Any],
    needles: list[str],
    name: str,
    title: str,
    base: str | Path | None = None,
) -> Path:
    """Bars of the first metric matching each needle (e.g. ``speedup``; ``ttft``, ``tok_s``)."""
    fig, axes = plt.subplots(1, len(needles), figsize=(5.5 * len(needles), 4.2), squeeze=False)
    for ax, needle in zip(axes[0], needles, strict=True):
        rows = next(_rows_with(result, needle), [])
        found = [(_label(r, i), _metric(r, needle)) for i, r in enumerate(rows)]
        found = [(lab, m) for lab, m in found if m is not None]
        if not found:
            ax.text(0.5, 0.5, f"no '{needle}' figures", ha="center", va="center")
            ax.set_axis_off()
            continue
        ax.bar(range(len(found)), [m[1] for _, m in found])
        ax.set_xticks(
            range(len(found)), [lab for lab, _ in found], rotation=30, ha="right", fontsize=8
        )
        ax.set_ylabel(found[0][1][0])
    fig.suptitle(title)
    return _save(fig, name, base)


def plot_edit(result: dict[str, Any], base: str | Path | None = None) -> Path:
    return plot_metric_bars(
        result, ["speedup"], "edit_speedup.png", "Speculative edits: speed-up per edit case", base
    )


def plot_serve(result: dict[str, Any], base: str | Path | None = None) -> Path:
    return plot_metric_bars(
        result, ["ttft", "tok_s"], "serve_backends.png", "TTFT and tokens/s per backend", base
    )
