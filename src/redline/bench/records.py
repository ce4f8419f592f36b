"""Benchmark results as data: one JSON record per saved run, under ``benchmarks/results/``.

As aider keeps one YAML file per leaderboard run, every figure redline quotes
comes from a record that says what ran (the command line), the figures (the
benchmark's whole JSON result), the commit and whether the tree was clean,
the date and the machine. Tables in the README and the docs are rendered from
the records (:mod:`redline.bench.report`), never typed, so a figure can always
be traced to its run. Records are only ever added: a newer run of the same
benchmark on the same kind of machine takes over the tables, the older one
stays as data.

A benchmark command run with ``--save`` sets :func:`recording`; while it is set,
:func:`redline.bench.results.save` also writes a record. That keeps the
benchmarks themselves unaware of records.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.bench import machine

SCHEMA = 1
RECORDS_ENV = "REDLINE_RECORDS_DIR"
SKIPPED = {"summary"}
"""Saved results that are not a benchmark of their own (``bench all``'s step list)."""

_PROJECT_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Recording:
    """What the running command asked for: where records go, how it was invoked, and
    the commit it started from (taken at the start: the tree may move during a run)."""

    folder: Path
    command: str
    args: dict[str, Any]
    source: dict[str, Any]
    load: list[float] | None
    """The 1, 5 and 15 minute load averages when the run started: figures taken on a
    busy machine say so."""


_ACTIVE: contextvars.ContextVar[Recording | None] = contextvars.ContextVar(
    "redline_bench_recording", default=None
)


def default_folder() -> Path:
    """``$REDLINE_RECORDS_DIR``, else ``benchmarks/results/`` of the redline checkout
    (of the working directory when redline is installed, not checked out)."""
    override = os.environ.get(RECORDS_ENV)
    return Path(override) if override else project_root() / "benchmarks" / "results"


def project_root() -> Path:
    """The redline checkout this code runs from, else the working directory."""
    return _PROJECT_ROOT if (_PROJECT_ROOT / "pyproject.toml").is_file() else Path.cwd()


@contextmanager
def recording(command: str, args: dict[str, Any], folder: Path | None = None) -> Iterator[None]:
    """While the block runs, every saved result is also written as a record."""
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    token = _ACTIVE.set(Recording(folder or default_folder(), command, args, commit(), load))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> Recording | None:
    return _ACTIVE.get()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(_PROJECT_ROOT), *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def commit() -> dict[str, Any]:
    """The checkout's commit and whether tracked files differ from it (None outside git)."""
    head = _git("rev-parse", "HEAD")
    if head is None:
        return {"commit": None, "dirty": None}
    changes = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": head, "dirty": bool(changes)}


def model_of(result: dict[str, Any]) -> str | None:
    """The model a result measured (several joined by commas), if it names one."""
    if isinstance(result.get("model"), str):
        return result["model"]
    models = result.get("models")
    if isinstance(models, list) and models:
        return ",".join(str(m) for m in models)
    return None


def build(result: dict[str, Any], name: str, rec: Recording) -> dict[str, Any]:
    """The record for one saved result (pure apart from the clock and the machine)."""
    described = machine.describe()
    return {
        "schema": SCHEMA,
        "benchmark": name,
        "model": model_of(result),
        "command": rec.command,
        "args": rec.args,
        **rec.source,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": described,
        "load_average_at_start": rec.load,
        "machine_kind": machine.kind(described),
        "source": "run",
        "result": result,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def write(result: dict[str, Any], name: str) -> Path | None:
    """Write ``result`` as a record when a ``--save`` run is active; returns its path."""
    rec = active()
    if rec is None or name in SKIPPED:
        return None
    record = build(result, name, rec)
    rec.folder.mkdir(parents=True, exist_ok=True)
    stamp = record["date"].replace("-", "").replace(":", "")
    model = _slug(record["model"] or "")
    if model and model in _slug(name):
        model = ""  # the name already carries it (humaneval-qwen2.5-coder-0.5b)
    stem = "-".join(p for p in (_slug(name), model, stamp) if p)
    path, n = rec.folder / f"{stem}.json", 1
    while path.exists():  # two results saved within one second: never overwrite a record
        n += 1
        path = rec.folder / f"{stem}-{n}.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def load(folder: Path | None = None) -> list[dict[str, Any]]:
    """Every record in ``folder``, each with ``path`` (relative to the folder's project)."""
    folder = folder or default_folder()
    out = []
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("schema") != SCHEMA:
            continue
        record["path"] = path.name
        out.append(record)
    return out


def newest(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest record per benchmark, model and machine kind; older ones stay as data."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in records:
        key = (record["benchmark"], record.get("model") or "", record["machine_kind"])
        if key not in latest or record["date"] > latest[key]["date"]:
            latest[key] = record
    return sorted(
        latest.values(), key=lambda r: (r["machine_kind"], r["benchmark"], r["model"] or "")
    )
