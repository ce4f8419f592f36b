"""``redline bench all``: every benchmark in sequence, JSON and PNG plots in one folder.

Steps run one after another (they share two CPU cores; running them at once
would measure contention). A step that fails or is not available is recorded
with its error and the suite goes on, so one broken benchmark never hides the
others' figures. ``quick`` shrinks every step to fit in a few minutes.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redline.bench import plots
from redline.bench.results import envelope, save

Tick = Callable[[str], None]
CHAT_MODEL = "smollm2-135m"
BASE_MODEL = "gemma3-270m"


def _lazy(module: str, func: str) -> Callable[..., dict[str, Any]]:
    """A benchmark owned by another module, imported only when its step runs."""

    def call(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return getattr(importlib.import_module(f"redline.bench.{module}"), func)(*args, **kwargs)

    return call


def _aider_available() -> bool:
    from redline.bench.aider_runner import find_aider

    try:
        find_aider()
    except Exception:
        return False
    return True


def steps(quick: bool, tick: Tick) -> list[tuple[str, Callable[[], list[tuple[dict, str]]]]]:
    """(name, thunk) pairs; each thunk returns [(result, json name)] to save."""
    from redline.bench.agent_bench import run_agent_bench
    from redline.bench.humaneval import run_humaneval
    from redline.bench.latency import run_latency

    limit = 5 if quick else 20
    edit = _lazy("edit", "run_edit_bench")
    decode = _lazy("decode", "run_decode_bench")
    serve = _lazy("serve", "run_serve_bench")
    return [
        (
            "latency",
            lambda: [
                (
                    run_latency([CHAT_MODEL, BASE_MODEL], repeats=1 if quick else 3, tick=tick),
                    "latency",
                )
            ],
        ),
        ("edit", lambda: [(edit(BASE_MODEL, quick=quick), "edit")]),
        ("decode", lambda: [(decode(BASE_MODEL, quick=quick), "decode")]),
        ("serve", lambda: [(serve(CHAT_MODEL, quick=quick), "serve")]),
        (
            "humaneval",
            lambda: [
                (run_humaneval(m, limit=limit, progress=tick), f"humaneval-{m}")
                for m in (BASE_MODEL, CHAT_MODEL)
            ],
        ),
        (
            "agent",
            lambda: [
                (
                    run_agent_bench(
                        CHAT_MODEL,
                        exercises=1 if quick else 6,
                        vs_aider=_aider_available(),
                        case_timeout_s=60.0 if quick else 240.0,
                        run_limit_s=120.0 if quick else 3600.0,
                        tick=tick,
                    ),
                    f"agent-{CHAT_MODEL}",
                )
            ],
        ),
    ]


def make_plots(saved: dict[str, dict[str, Any]], base: str | Path | None) -> dict[str, str]:
    """Every plot whose inputs exist; returns {plot name: path}."""
    out: dict[str, str] = {}
    if "latency" in saved:
        out["latency"] = str(plots.plot_latency(saved["latency"], base))
    if "edit" in saved:
        out["edit"] = str(plots.plot_edit(saved["edit"], base))
    if "serve" in saved:
        out["serve"] = str(plots.plot_serve(saved["serve"], base))
    if "decode" in saved:
        out["decode"] = str(
            plots.plot_metric_bars(
                saved["decode"], ["tok_s"], "decode.png", "Decoding tokens/s", base
            )
        )
    he = [v for k, v in saved.items() if k.startswith("humaneval-")]
    if he:
        out["humaneval"] = str(plots.plot_humaneval(he, base))
    ag = [v for k, v in saved.items() if k.startswith("agent-")]
    if ag:
        out["agent"] = str(plots.plot_agent(ag, base))
    return out


def run_all(
    quick: bool = False,
    *,
    base: str | Path | None = None,
    only: list[str] | None = None,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Run the suite; writes ``<base>/<step>.json``, the PNGs and ``summary.json``."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    saved: dict[str, dict[str, Any]] = {}
    report: dict[str, Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        disable=not show_progress,
        transient=False,
    ) as progress:
        state = {"step": ""}
        task = progress.add_task("bench", total=1)

        def tick(msg: str) -> None:
            progress.update(task, description=f"bench {state['step']}: {msg}")

        plan = [(n, f) for n, f in steps(quick, tick) if not only or n in only]
        progress.update(task, total=len(plan))
        for current, thunk in plan:
            state["step"] = current
            progress.update(task, description=f"bench {current}")
            t0 = time.perf_counter()
            try:
                for result, name in thunk():
                    saved[name] = result
                    save(result, name, base)
                report[current] = {"ok": True, "seconds": round(time.perf_counter() - t0, 1)}
            except Exception as exc:  # recorded and reported; the suite goes on
                report[current] = {
                    "ok": False,
                    "seconds": round(time.perf_counter() - t0, 1),
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": traceback.format_exc()[-1500:],
                }
            progress.advance(task)
    plot_paths = make_plots(saved, base)
    summary = envelope(
        "all",
        quick=quick,
        wall_s=round(time.perf_counter() - started, 1),
        steps=report,
        plots=plot_paths,
    )
    save(summary, "summary", base)
    return summary
