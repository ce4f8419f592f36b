"""Plots are written as real, non-empty PNGs, including from other modules' result layouts."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.bench import plots, suite

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), path
    assert len(data) > 5000, f"{path} is suspiciously small ({len(data)} bytes)"


LATENCY = {
    "machine": {"cpus": 2},
    "rows": [
        {
            "model": "m",
            "backend": b,
            "ttft_cold_s": {"median": 1.2},
            "ttft_warm_s": {"median": 0.1},
            "decode_tok_s": {"median": 90.0},
        }
        for b in ("in-process", "redline serve")
    ],
}
HUMANEVAL = {
    "model": "m",
    "modes": {
        "single": {"pass_at_1": 0.1, "mean_seconds": 3.0},
        "loop": {"pass_at_1": 0.15, "mean_seconds": 3.5},
    },
}
AGENT = {
    "model": "m",
    "agents": {
        "redline": {"seconds_per_case": 20.0, "pass_rate_2": 0.0},
        "aider": {"seconds_per_case": 50.0, "pass_rate_2": 0.0},
    },
}
EDIT = {"cases": [{"name": "rename", "speedup": 3.9}, {"name": "docstring", "speedup": 4.2}]}
SERVE = {
    "backends": [
        {"backend": "redline", "ttft_ms": 40, "tok_s": 95.0},
        {"backend": "llama_cpp.server", "ttft_ms": 55, "tok_s": 80.0},
    ]
}


def test_every_plot_is_written_and_non_empty(tmp_path):
    saved = {
        "latency": LATENCY,
        "edit": EDIT,
        "serve": SERVE,
        "decode": SERVE,
        "humaneval-m": HUMANEVAL,
        "agent-m": AGENT,
    }
    paths = suite.make_plots(saved, tmp_path)
    assert set(paths) == {"latency", "edit", "serve", "decode", "humaneval", "agent"}
    for path in paths.values():
        assert_png(Path(path))


def test_generic_bars_find_rows_anywhere():
    rows = list(plots._rows_with({"a": {"b": EDIT["cases"]}}, "speedup"))
    assert rows == [EDIT["cases"]]
    assert plots._metric({"tok_s": {"median": 5.0}}, "tok_s") == ("tok_s", 5.0)


def test_plot_without_figures_still_writes_a_png(tmp_path):
    assert_png(plots.plot_edit({"nothing": 1}, tmp_path))


@pytest.mark.parametrize("points", [[], [{"label": "a", "x": 0.0, "y": 0.0}]])
def test_frontier_handles_degenerate_points(tmp_path, points):
    assert_png(plots.plot_frontier(points, tmp_path))


def _agent_record(n: int, seconds: float, rate_1: float, rate_2: float) -> dict:
    cases = [
        {"agent": "redline", "tries": [{"seconds": seconds / 2}, {"seconds": seconds / 2}]},
        {"agent": "aider", "tries": [{"seconds": 9.0}]},
    ]
    agents = {
        "redline": {"seconds_per_case": seconds, "pass_rate_1": rate_1, "pass_rate_2": rate_2},
        "aider": {"seconds_per_case": 9.0, "pass_rate_1": 0.0, "pass_rate_2": 2.9},
    }
    return {"model": "m", "settings": {"candidates": n}, "agents": agents, "cases": cases}


def test_candidates_plot_reads_saved_records(tmp_path: Path):
    records = [_agent_record(1, 10.0, 2.9, 5.9), _agent_record(4, 30.0, 5.9, 8.8)]
    points = {p["label"]: (p["x"], p["y"]) for p in plots.candidate_points(records)}
    assert points["redline · m · single"] == (5.0, 2.9)  # try 1's seconds, pass_rate_1
    assert points["redline · m · loop"] == (10.0, 5.9)
    assert points["redline · m · N=4"] == (30.0, 8.8)
    assert points["aider · m"] == (9.0, 2.9)
    assert_png(plots.plot_candidates(records, base=tmp_path))
