"""Result records: `--save` on a real benchmark run, and `bench report` over records."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from redline.bench import records, report
from redline.bench.machine import describe, kind

ROOT = Path(__file__).resolve().parents[2]


def _git_head() -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_a_saved_run_is_one_record_with_command_figures_commit_and_machine(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REDLINE_RECORDS_DIR": str(tmp_path / "records"),
        "REDLINE_BENCH_DIR": str(tmp_path / "out"),
        "PYTHONPATH": str(ROOT / "src"),
    }
    cmd = [sys.executable, "-m", "redline", "bench", "decode", "-m", "smollm2-135m"]
    done = subprocess.run(
        [*cmd, "--quick", "--json", "--save"], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    (path,) = (tmp_path / "records").glob("*.json")
    record = json.loads(path.read_text())
    assert record["benchmark"] == "decode"
    assert record["model"] == "smollm2-135m"
    assert record["command"] == "redline bench decode --model smollm2-135m --quick --json"
    assert record["args"] == {"model": "smollm2-135m", "quick": True, "json_out": True}
    assert record["result"] == printed  # the figures are the run's own, not a copy typed later
    assert record["commit"] == _git_head()
    assert isinstance(record["dirty"], bool)
    machine = record["machine"]
    assert machine["cores"] == os.cpu_count() and machine["cpu"]
    assert machine["llama_cpp"] and isinstance(machine["extensions"], list)
    assert record["machine_kind"] == kind(machine)
    assert len(record["load_average_at_start"]) == 3
    assert path.name.startswith("decode-smollm2-135m-")
    assert f"record saved: {path}" in done.stderr


def test_without_save_no_record_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDLINE_RECORDS_DIR", str(tmp_path / "records"))
    assert records.write({"model": "m"}, "edit") is None  # no --save run active
    assert not (tmp_path / "records").exists()
    with records.recording("redline bench edit", {}):
        assert records.write({"model": "m"}, "summary") is None  # bench all's step list
        path = records.write({"model": "m"}, "edit")
    assert path is not None and path.parent == tmp_path / "records"


def _record(benchmark: str, date: str, result: dict, *, machine_kind: str = "cpu-a", **extra):
    return {
        "schema": records.SCHEMA,
        "benchmark": benchmark,
        "model": result.get("model"),
        "command": f"redline bench {benchmark}",
        "args": extra.pop("args", {}),
        "commit": "0" * 40,
        "dirty": False,
        "date": date,
        "machine": {},
        "machine_kind": machine_kind,
        "source": "run",
        "result": result,
        "path": f"{benchmark}-{date}.json",
        **extra,
    }


EDIT = {
    "model": "qwen2.5-coder-0.5b",
    "cases": [{}] * 8,
    "median_speedup": 2.5,
    "ceiling": 3.6,
    "edits_applied": 8,
    "plain_edits_applied": 7,
}


def test_the_headline_takes_the_newest_full_run_per_benchmark_model_and_machine() -> None:
    old = _record("edit", "2026-12-01T10:00:00Z", {**EDIT, "median_speedup": 1.1})
    new = _record("edit", "2026-12-02T10:00:00Z", EDIT)
    quick = _record(
        "edit", "2026-12-03T10:00:00Z", {**EDIT, "median_speedup": 9.9}, args={"quick": True}
    )
    table = report.render_headline([old, quick, new])
    assert "2.50x plain decoding (ceiling 3.60x)" in table
    assert "1.10x" not in table and "9.90x" not in table  # older and quick runs stay data
    assert "edits carried out 8/8 (plain 7/8)" in table
    assert "[2026-12-02](benchmarks/results/edit-2026-12-02T10:00:00Z.json)" in table
    assert "Measured on cpu-a." in table
    page = report.render_docs_page([old, quick, new])
    assert page.count("edit-2026-12-01T10:00:00Z.json") == 1  # listed as data


def test_a_transcribed_record_stands_in_until_a_run_of_the_same_benchmark_exists() -> None:
    copied = _record(
        "edit",
        "2026-11-30T05:12:00Z",
        {**EDIT, "median_speedup": 2.99},
        machine_kind="old",
        source="transcribed from README.md at commit abc",
    )
    alone = report.render_headline([copied])
    assert "2.99x" in alone and ", transcribed](" in alone
    run = _record("edit", "2026-12-02T10:00:00Z", EDIT, load_average_at_start=[3.5, 9, 8])
    run["machine"] = {"cores": 2}
    both = report.render_headline([copied, run])
    assert "2.99x" not in both and "2.50x" in both
    assert "(machine busy: load 3.5 on 2 cores)" in both


def test_a_run_on_an_overloaded_machine_stays_off_the_headline() -> None:
    run = _record("edit", "2026-12-02T10:00:00Z", EDIT, load_average_at_start=[9.5, 9, 8])
    run["machine"] = {"cores": 2}
    assert "2.50x" not in report.render_headline([run])
    assert "2.50x" in report.render_docs_page([run])  # still data


def test_two_machine_kinds_get_a_machine_column() -> None:
    a = _record("edit", "2026-12-01T10:00:00Z", EDIT, machine_kind="cpu-a")
    b = _record("edit", "2026-12-01T11:00:00Z", EDIT, machine_kind="gpu-b")
    table = report.render_headline([a, b])
    assert "| machine |" in table and "| cpu-a |" in table and "| gpu-b |" in table


def test_humaneval_with_select_puts_the_kept_answer_beside_single_shot() -> None:
    mode = {"pass_at_1": 0.5, "mean_seconds": 5.0}
    result = {"model": "m", "problems": 164, "modes": {"single": mode, "loop": mode}}
    plain = report.render_headline([_record("humaneval-m", "2026-12-02T10:00:00Z", result)])
    assert "pass@1 50.0 % (5.0 s/problem)" in plain and "one kept" not in plain
    chosen = {"pass_at_1": 0.75, "mean_seconds": 7.5}
    picked = {**result, "modes": {**result["modes"], "select": chosen}, "select": {"n": 8}}
    table = report.render_headline([_record("humaneval-m", "2026-12-02T10:00:00Z", picked)])
    assert "8 sampled in one batch where in doubt, one kept by checks 75.0 % (7.5 s)" in table


def test_an_agent_run_with_candidates_says_so_in_its_headline_row() -> None:
    summary = {"pass_rate_2": 0.0, "seconds_per_case": 140.7, "cases": 29}
    result = {"model": "m", "agents": {"redline": summary}, "settings": {"candidates": 8}}
    table = report.render_headline([_record("agent", "2026-12-05T02:52:23Z", result)])
    assert "agent, 29 polyglot-python exercises, 8 candidates per answer" in table
    plain = report.render_headline(
        [_record("agent", "2026-12-05T02:52:23Z", {**result, "settings": {}})]
    )
    assert "candidates" not in plain


def test_update_writes_between_the_markers_and_check_finds_nothing_after(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    rec = _record("edit", "2026-12-02T10:00:00Z", EDIT)
    (folder / rec.pop("path")).write_text(json.dumps(rec))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{report.START}\nstale\n{report.END}\nafter\n")
    page = tmp_path / "results.md"
    assert report.update(folder, readme=readme, docs_page=page) == [readme, page]
    text = readme.read_text()
    assert text.startswith("# x\n\nbefore\n") and text.endswith(f"{report.END}\nafter\n")
    assert "stale" not in text and "2.50x" in text
    assert report.update(folder, readme=readme, docs_page=page, write=False) == []


def test_update_draws_the_speed_accuracy_plots_the_page_links(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    mode = {"pass_at_1": 0.5, "mean_seconds": 5.0}
    result = {"model": "m", "problems": 164, "modes": {"single": mode, "loop": mode}}
    rec = _record("humaneval", "2026-12-02T10:00:00Z", result)
    (folder / rec.pop("path")).write_text(json.dumps(rec))
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{report.START}\n{report.END}\n")
    page = tmp_path / "docs" / "results.md"
    report.update(folder, readme=readme, docs_page=page)
    links = re.findall(r"!\[[^]]+\]\(([^)]+)\)", page.read_text())
    assert len(links) == 1 and links[0].startswith("img/") and links[0].endswith("-humaneval.png")
    assert (page.parent / links[0]).read_bytes().startswith(b"\x89PNG")
    assert report.update(folder, readme=readme, docs_page=page, write=False) == []
    (page.parent / links[0]).unlink()
    assert report.update(folder, readme=readme, docs_page=page, write=False) == [
        page.parent / links[0]
    ]


def test_a_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="headline:start"):
        report.with_headline("# no markers\n", "table")


def test_the_machine_description_names_cpu_cores_simd_and_llama_build() -> None:
    machine = describe()
    assert machine["cores"] == os.cpu_count()
    assert set(machine) >= {"cpu", "cores", "extensions", "gpu", "llama_cpp", "llama_build"}
    assert str(machine["cores"]) in kind(machine)


def test_save_records_the_options_given_as_a_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Repeated options, --x/--no-x flags and defaults, through a real typer app."""
    import typer
    from typer.testing import CliRunner

    from redline.bench.results import save
    from redline.cli.bench_save import add_save_options

    monkeypatch.setenv("REDLINE_RECORDS_DIR", str(tmp_path / "records"))
    monkeypatch.setenv("REDLINE_BENCH_DIR", str(tmp_path / "out"))
    app = typer.Typer()

    @app.command("probe")
    def probe(
        model: list[str] = typer.Option(["a"], "--model", "-m"),
        serve: bool = typer.Option(True, "--serve/--no-serve"),
        repeats: int = typer.Option(3, "--repeats"),
    ) -> None:
        save({"models": model, "serve": serve, "repeats": repeats}, "probe")

    @app.command("other")
    def other() -> None:
        pass

    add_save_options(app)
    result = CliRunner().invoke(app, ["probe", "-m", "x", "-m", "y z", "--no-serve", "--save"])
    assert result.exit_code == 0, result.output
    (path,) = (tmp_path / "records").glob("*.json")
    record = json.loads(path.read_text())
    assert record["command"] == "redline probe --model x --model 'y z' --no-serve"
    assert record["args"] == {"model": ["x", "y z"], "serve": False}  # --repeats was not given
    assert record["model"] == "x,y z"
    assert record["result"] == {"models": ["x", "y z"], "serve": False, "repeats": 3}
    result = CliRunner().invoke(app, ["probe"])  # no --save: no second record
    assert result.exit_code == 0 and len(list((tmp_path / "records").glob("*.json"))) == 1


def test_bench_report_check_fails_on_a_stale_readme_and_passes_once_written(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from redline.cli import app

    folder = tmp_path / "results"
    folder.mkdir()
    rec = _record("edit", "2026-12-02T10:00:00Z", EDIT)
    (folder / rec.pop("path")).write_text(json.dumps(rec))
    readme, page = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text(f"{report.START}\n{report.END}\n")
    args = ["bench", "report", "--records", str(folder)]
    args += ["--readme", str(readme), "--docs", str(page)]
    stale = CliRunner().invoke(app, [*args, "--check"])
    assert stale.exit_code == 1 and "out of date" in stale.output
    assert readme.read_text() == f"{report.START}\n{report.END}\n"  # --check writes nothing
    assert CliRunner().invoke(app, args).exit_code == 0
    fresh = CliRunner().invoke(app, [*args, "--check"])
    assert fresh.exit_code == 0 and "match the records" in fresh.output


def test_the_machine_kind_names_the_widest_vector_extension_whatever_the_order() -> None:
    llama_order = ["SSE3", "SSSE3", "AVX", "AVX2", "FMA", "F16C", "BMI2"]
    epyc = kind({"cpu": "EPYC", "cores": 2, "extensions": llama_order})
    assert epyc == "EPYC, 2 cores, AVX2, no GPU"
    amx = ["AVX512", "AVX512_VNNI", "AMX_INT8", "AVX2", "BMI2"]
    assert ", AMX_INT8," in kind({"cpu": "Xeon", "cores": 4, "extensions": amx})
