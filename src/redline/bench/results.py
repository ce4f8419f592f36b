"""Where benchmark results go, and the small statistics every benchmark reports.

Every benchmark returns a plain ``dict`` (JSON-ready) with a ``benchmark`` name,
the ``machine`` it ran on and its figures; :func:`save` writes it to
``bench-results/<name>.json`` (the latest run, for the plots), and during a
``--save`` run also a dated record under ``benchmarks/results/``
(:mod:`redline.bench.records`), from which the README's and the docs' tables are
rendered.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redline.engine.machine import machine_line, machine_record

if TYPE_CHECKING:
    from rich.console import Console

RESULTS_ENV = "REDLINE_BENCH_DIR"


def results_dir(base: str | Path | None = None) -> Path:
    """``bench-results/`` in the working directory (or ``$REDLINE_BENCH_DIR``), created."""
    path = Path(base or os.environ.get(RESULTS_ENV) or "bench-results")
    path.mkdir(parents=True, exist_ok=True)
    return path


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean nothing without it
    (:func:`redline.engine.machine.machine_record`, the one source of it)."""
    return machine_record()


def print_machine(console: Console, record: dict[str, Any] | None = None) -> None:
    """The line above a benchmark's table that says which machine it ran on."""
    line = f"machine: {machine_line(record)}"
    console.print(line, style="dim", soft_wrap=True, markup=False, highlight=False)


def envelope(name: str, **fields: Any) -> dict[str, Any]:
    """The common head of every result dict."""
    return {
        "benchmark": name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        **fields,
    }


def save(result: dict[str, Any], name: str | None = None, base: str | Path | None = None) -> Path:
    """Write ``result`` as ``<dir>/<name>.json`` (and a record when saving); returns the path.

    Every benchmark saves through here, so a result without a ``machine`` record
    gets this one's: no saved figure is without the machine it came from.
    """
    from redline.bench import records

    name = name or result["benchmark"]
    record = records.write(result, name)  # the record carries its own machine entry
    path = results_dir(base) / f"{name}.json"
    saved = {**result, "machine": result.get("machine") or machine()}
    path.write_text(json.dumps(saved, indent=2, default=str) + "\n", encoding="utf-8")
    if record is not None:
        print(f"record saved: {record}", file=sys.stderr)
    return path


def spread(values: Iterable[float]) -> dict[str, float | int | None]:
    """Median, min, max and count: repeats are few, so no mean or stdev pretence."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": round(statistics.median(vals), 4),
        "min": round(vals[0], 4),
        "max": round(vals[-1], 4),
        "n": len(vals),
    }


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: numbers rounded, missing values as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, err: bool = False
) -> None:
    """A rich table (on stderr with ``err``, so ``--json`` keeps stdout pure JSON)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="left" if col == columns[0] else "right")
    for row in rows:
        table.add_row(*(fmt(c) for c in row))
    console = Console(highlight=False, stderr=err)
    if not console.is_terminal:  # piped or logged: do not squeeze columns into 80 chars
        console = Console(highlight=False, stderr=err, width=160)
    print_machine(console)
    console.print(table)
