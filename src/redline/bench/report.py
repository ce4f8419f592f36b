"""``redline bench report``: the README's headline table and the docs' result tables,
rendered from the records in ``benchmarks/results/``.

Nothing here measures; everything is a pure function of the records, so the
same records always give the same text and a test can hold the README to them.
The README gets one table (the newest headline rows per benchmark, model and
machine kind, full runs only) between the markers; the docs page gets every
newest record's main figures and a list of all records, older ones included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redline.bench import records as rec
from redline.bench.headline import rows_for
from redline.bench.report_plots import FIGURES, plot_names, write_plots
from redline.bench.report_tables import table_for

START = "<!-- headline:start -->"
END = "<!-- headline:end -->"
NOTE = "<!-- rendered by `redline bench report` from benchmarks/results/: do not edit by hand -->"


PLOT_FOLDER = "img"
"""Beside the docs page: the speed-against-accuracy plots (report_plots.py)."""


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _is_run(record: dict[str, Any]) -> bool:
    return record.get("source", "run") == "run"


def headline_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the README's table draws on: records made by ``--save`` without ``--quick``
    (which cuts replies short) on a machine that was not overloaded (load average at
    the start over twice the cores: llama.cpp's threads then wait on each other and
    decoding runs at a fraction of its speed), and figures transcribed from elsewhere
    only until a
    real run of the same benchmark and model exists. A run of part of a benchmark
    (``--limit``, ``--exercises``) says its size in its row."""
    runs = [
        r
        for r in records
        if _is_run(r) and not (r.get("args") or {}).get("quick") and not _overloaded(r)
    ]
    measured = {(r["benchmark"], r.get("model")) for r in runs}
    stand_ins = [
        r for r in records if not _is_run(r) and (r["benchmark"], r.get("model")) not in measured
    ]
    return rec.newest(runs + stand_ins)


def _load(record: dict[str, Any]) -> tuple[float, int] | None:
    load, cores = record.get("load_average_at_start"), (record.get("machine") or {}).get("cores")
    return (float(load[0]), int(cores)) if load and cores else None


def _overloaded(record: dict[str, Any]) -> bool:
    seen = _load(record)
    return seen is not None and seen[0] > 2 * seen[1]


def _busy(record: dict[str, Any]) -> str:
    """A note for a figure taken while the machine had more work than cores."""
    seen = _load(record)
    if seen and seen[0] > seen[1]:
        return f" (machine busy: load {seen[0]:g} on {seen[1]} cores)"
    return ""


def render_headline(records: list[dict[str, Any]], link_prefix: str = "benchmarks/results/") -> str:
    """The README's table: one row per headline figure, each linked to its record."""
    chosen = headline_records(records)
    kinds = sorted({r["machine_kind"] for r in chosen})
    many = len(kinds) > 1
    head = ["model", "what", "figure", *(["machine"] if many else []), "record"]
    lines = [NOTE]
    if len(kinds) == 1:
        lines.append(f"Measured on {kinds[0]}.")
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for record in chosen:
        label = record["date"][:10] + ("" if _is_run(record) else ", transcribed")
        link = f"[{label}]({link_prefix}{record['path']})"
        for model, what, figure in rows_for(record["benchmark"], record["result"]):
            figure += _busy(record)
            cells = [f"`{model}`", what, figure, *([record["machine_kind"]] if many else []), link]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    if not chosen:
        lines.append("| " + " | ".join("-" for _ in head) + " |")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _scalars(result: dict[str, Any]) -> list[tuple[str, Any]]:
    """The top-level figures of a result (numbers, flags, short strings)."""
    out = []
    for key, value in result.items():
        if key in ("machine", "created", "benchmark"):
            continue
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) < 80):
            out.append((key, value))
    return out


def _details(record: dict[str, Any]) -> list[str]:
    result = record["result"]
    headline_rows = rows_for(record["benchmark"], result)
    lines = [f"### {record['benchmark']}" + (f" — `{record['model']}`" if record["model"] else "")]
    load = record.get("load_average_at_start")
    busy = (
        f" · load average at start {load[0]} ({record['machine'].get('cores')} cores)"
        if load
        else ""
    )
    lines += [
        "",
        f"`{record['command']}` · {record['date']}{busy} · record `{record['path']}`",
        "",
    ]
    if record.get("source", "run") != "run":
        lines += [f"*{record['source']}*", ""]
    for model, what, figure in headline_rows:
        lines.append(f"- **{what}** (`{model}`): {figure}")
    if headline_rows:
        lines.append("")
    table = table_for(record["benchmark"], result)
    if table is not None:
        cols, rows = table
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(_cell(_fmt(c)) for c in row) + " |" for row in rows]
        lines.append("")
    scalars = _scalars(result)
    if scalars:
        lines += ["| field | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in scalars]
        lines.append("")
    return lines


def render_docs_page(records: list[dict[str, Any]]) -> str:
    """``docs/benchmarks/results.md``: newest records in full, then every record."""
    lines = [
        "# Benchmark results",
        "",
        NOTE,
        "",
        "Rendered from the records in `benchmarks/results/` by `redline bench report`;",
        "how each benchmark is run is on [Benchmarks](index.md).",
        "",
    ]
    newest = rec.newest(records)
    for kind in sorted({r["machine_kind"] for r in newest}):
        lines += [f"## {kind}", ""]
        for benchmark, name in plot_names(records, kind).items():
            lines += [f"![{FIGURES[benchmark].title}]({PLOT_FOLDER}/{name})", ""]
        for record in (r for r in newest if r["machine_kind"] == kind):
            lines += _details(record)
    lines += [
        "## Every record",
        "",
        "| date | benchmark | model | machine | commit | record |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: r["date"], reverse=True):
        commit = (r.get("commit") or "-")[:10] + (" (dirty)" if r.get("dirty") else "")
        cells = [r["date"], r["benchmark"], r.get("model") or "-", r["machine_kind"], commit]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | `{r['path']}` |")
    if not records:
        lines.append("| - | - | - | - | - | - |")
    return "\n".join(lines) + "\n"


def with_headline(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {START} ... {END} section")
    return readme[: start + len(START)] + "\n" + table + readme[end:]


def current_headline(readme: str) -> str:
    """The text between the README's markers, as :func:`render_headline` renders it."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {START} ... {END} section")
    return readme[start + len(START) + 1 : end]


def update(
    folder: Path | None = None,
    *,
    readme: Path | None = None,
    docs_page: Path | None = None,
    write: bool = True,
) -> list[Path]:
    """Render both files from the records; returns those that differed (and were written)."""
    folder = folder or rec.default_folder()
    root = rec.project_root()
    readme = readme or root / "README.md"
    page = docs_page or root / "docs" / "benchmarks" / "results.md"
    records = rec.load(folder)
    wanted = {
        readme: with_headline(readme.read_text(encoding="utf-8"), render_headline(records)),
        page: render_docs_page(records),
    }
    stale = []
    for path, text in wanted.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
            if write:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
    folder_png = page.parent / PLOT_FOLDER
    missing = [
        folder_png / name
        for kind in {r["machine_kind"] for r in records}
        for name in plot_names(records, kind).values()
        if not (folder_png / name).is_file()
    ]
    if write and (stale or missing):
        write_plots(records, folder_png)  # pictures: drawn again, never compared
    return stale + sorted(missing)
