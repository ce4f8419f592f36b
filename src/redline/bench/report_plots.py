"""The docs' speed-against-accuracy plots, drawn from the saved records.

One pair per machine kind (figures from different machines do not share axes):
HumanEval pass@1 against seconds per problem for every mode a record has
(single-shot, the error loop, best of N), and polyglot-python's pass rate
against seconds per case (redline's single answer, its two-try loop, each
``--candidates N`` run, aider beside them). :func:`plot_names` is pure (the docs
page links the files it names); :func:`write_plots` draws them.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def slug(kind: str) -> str:
    """A file-name form of a machine kind."""
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")[:48]


@dataclass(frozen=True)
class Figure:
    field: str
    """The result field its points come from."""
    points: str
    """The :mod:`redline.bench.plots` function that makes them."""
    title: str
    x_label: str
    y_label: str


FIGURES = {
    "humaneval": Figure(
        "modes",
        "humaneval_points",
        "HumanEval: pass@1 against seconds per problem (single, loop, best of N)",
        "seconds per problem",
        "pass@1 (%)",
    ),
    "agent": Figure(
        "agents",
        "candidate_points",
        "polyglot-python: solved against seconds per case (single, loop, N, aider)",
        "seconds per case",
        "pass rate (%)",
    ),
}
"""Benchmark -> its plot."""


def plot_names(records: list[dict[str, Any]], kind: str) -> dict[str, str]:
    """``{benchmark: file name}`` for the plots a machine kind has figures for."""
    return {
        b: f"{slug(kind)}-{b}.png"
        for b, fig in FIGURES.items()
        if any(r.get(fig.field) for r in _results(records, kind, b))
    }


def _results(records: list[dict[str, Any]], kind: str, benchmark: str) -> list[dict[str, Any]]:
    """Every record of a benchmark on a machine kind, newest per model and N."""
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for r in records:
        name = r["benchmark"]  # transcribed records name the model too: agent-<model>
        if r["machine_kind"] != kind or not (name == benchmark or name.startswith(benchmark + "-")):
            continue
        result = r["result"]
        n = int((result.get("settings") or {}).get("candidates") or 1)
        key = (r.get("model") or "", n)
        if key not in latest or r["date"] > latest[key]["date"]:
            latest[key] = r
    return [r["result"] | {"model": r.get("model")} for r in latest.values()]


def write_plots(records: list[dict[str, Any]], folder: Path) -> list[Path]:
    """Draw every machine kind's plots into ``folder``; returns the files written."""
    from redline.bench import plots  # matplotlib: only when drawing

    written = []
    for kind in sorted({r["machine_kind"] for r in records}):
        for benchmark, name in plot_names(records, kind).items():
            fig = FIGURES[benchmark]
            points = getattr(plots, fig.points)(_results(records, kind, benchmark))
            if points:
                title = "\n".join([fig.title, *textwrap.wrap(kind, 64)])
                written.append(
                    plots.plot_frontier(points, folder, name, title, fig.x_label, fig.y_label)
                )
    return written
