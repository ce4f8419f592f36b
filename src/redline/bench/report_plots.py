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
from pathlib import Path
from typing import Any

from redline.bench import records as rec


def slug(kind: str) -> str:
    """A file-name form of a machine kind."""
    return re.sub(r"[^a-z0-9]+", "-", kind.lower()).strip("-")[:48]


FIGURES = {"humaneval": "modes", "agent": "agents"}
"""Benchmark -> the result field its points come from."""


def plot_names(records: list[dict[str, Any]], kind: str) -> dict[str, str]:
    """``{benchmark: file name}`` for the plots a machine kind has figures for."""
    return {
        b: f"{slug(kind)}-{b}.png"
        for b, field in FIGURES.items()
        if any(r.get(field) for r in _results(records, kind, b))
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
    for kind in sorted({r["machine_kind"] for r in rec.newest(records)}):
        for benchmark, name in plot_names(records, kind).items():
            results = _results(records, kind, benchmark)
            if benchmark == "humaneval":
                points = plots.humaneval_points(results)
                title, x_label, y_label = (
                    "HumanEval: pass@1 against seconds per problem",
                    "seconds per problem",
                    "pass@1 (%)",
                )
            else:
                points = plots.candidate_points(results)
                title, x_label, y_label = (
                    "polyglot-python: solved against seconds per case",
                    "seconds per case",
                    "pass rate (%)",
                )
            if points:
                written.append(
                    plots.plot_frontier(
                        points,
                        folder,
                        name,
                        "\n".join([title, *textwrap.wrap(kind, 64)]),
                        x_label,
                        y_label,
                    )
                )
    return written
