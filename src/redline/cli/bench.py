"""``redline bench ...``: a thin parser over :mod:`redline.bench`.

Each command runs one benchmark, saves its JSON (and PNG) under
``bench-results/``, and prints a table, or the JSON itself with ``--json``
(tables and progress then go to stderr, so stdout stays machine-readable).
Heavy imports happen inside the commands so ``redline --help`` stays instant.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

bench_app = typer.Typer(
    help="Benchmarks: latency, HumanEval, agent vs aider, edits, serving; JSON + PNG plots.",
    no_args_is_help=True,
)


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the servers and agents a benchmark started are
    stopped by their ``finally`` blocks instead of being orphaned."""
    import signal

    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


@contextmanager
def _progress(total: int | None, label: str) -> Iterator[Callable[[str], None]]:
    """A rich progress bar on stderr; yields ``tick(description)``."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    _exit_on_sigterm()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total)

        def tick(msg: str) -> None:
            bar.update(task, advance=1, description=f"{label}: {msg}")

        yield tick


def _emit(result: dict[str, Any], json_out: bool, table: Callable[[bool], None]) -> None:
    if json_out:
        table(True)
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    else:
        table(False)


def _results(pattern: str) -> list[dict[str, Any]]:
    from redline.bench.results import results_dir

    return [json.loads(p.read_text()) for p in sorted(results_dir().glob(pattern))]


@bench_app.command("latency")
def latency_command(
    model: list[str] = typer.Option(["smollm2-135m", "gemma3-270m"], "--model", "-m"),
    repeats: int = typer.Option(3, "--repeats", "-r", help="Samples per figure."),
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Also through `redline serve`."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """TTFT (cold and with a cached 2,000-token prefix), decode and prompt tok/s."""
    from redline.bench import plots
    from redline.bench.latency import run_latency
    from redline.bench.results import print_table, save

    total = len(model) * 2 * (2 if serve else 1)
    with _progress(total, "latency") as tick:
        result = run_latency(model, repeats=repeats, serve=serve, tick=tick)
    save(result, "latency")
    png = plots.plot_latency(result)

    def table(err: bool) -> None:
        cols = [
            "model / backend",
            "TTFT cold s",
            "TTFT warm s",
            "warm/cold",
            "decode tok/s",
            "prompt tok/s",
        ]
        print_table(
            f"Latency (median of {repeats}; plot {png})",
            cols,
            (
                (
                    f"{r['model']} / {r['backend']}",
                    r["ttft_cold_s"]["median"],
                    r["ttft_warm_s"]["median"],
                    r["warm_over_cold"],
                    r["decode_tok_s"]["median"],
                    r["prompt_tok_s"]["median"],
                )
                for r in result["rows"]
            ),
            err=err,
        )

    _emit(result, json_out, table)


@bench_app.command("humaneval")
def humaneval_command(
    model: str = typer.Option("qwen2.5-coder-0.5b", "--model", "-m"),
    provider: str | None = typer.Option(None, "--provider", "-p", help="A configured provider."),
    limit: int | None = typer.Option(None, "--limit", "-n", help="First N of the 164 problems."),
    samples: int = typer.Option(1, "--samples", help="Samples per problem (>1 samples at T=0.8)."),
    retries: int = typer.Option(3, "--retries", help="Error-loop retries after the first answer."),
    select: int = typer.Option(
        0, "--select", help="Sample N answers in one batch where the first fails its examples."
    ),
    select_all: bool = typer.Option(False, "--select-all", help="Sample N for every problem."),
    select_temperature: float = typer.Option(0.8, "--select-temperature"),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """pass@1 single-shot, with the error-detection loop and (``--select N``) the best
    of N checked samples; tests run sandboxed."""
    from redline.bench import plots
    from redline.bench.humaneval import run_humaneval
    from redline.bench.results import print_table, save
    from redline.bench.selection import Selection

    chosen = None
    if select or select_all:
        chosen = Selection(n=select or 8, temperature=select_temperature, always=select_all)
    with _progress((limit or 164) * samples, f"humaneval {model}") as tick:
        result = run_humaneval(
            model,
            limit=limit,
            samples=samples,
            retries=retries,
            provider=provider,
            progress=tick,
            select=chosen,
        )
    save(result, f"humaneval-{model.replace('/', '_')}")
    png = plots.plot_humaneval(_results("humaneval-*.json"))
    result["plot"] = str(png)

    def table(err: bool) -> None:
        rows = [
            (
                mode,
                m["pass_at_1"] * 100,
                f"{m['passed']}/{m['n']}",
                m["mean_seconds"],
                m["completion_tokens"],
                m["with_static_errors"],
            )
            for mode, m in result["modes"].items()
        ]
        cols = ["mode", "pass@1 %", "passed", "s/problem", "tokens", "with static errors"]
        print_table(
            f"HumanEval on {result['model']} ({result['generation']}); plot {png}",
            cols,
            rows,
            err=err,
        )

    _emit(result, json_out, table)


@bench_app.command("agent")
def agent_command(
    exercises: str = typer.Option("6", "--exercises", "-e", help="A count, or names a,b,c."),
    model: str = typer.Option("qwen2.5-coder-0.5b", "--model", "-m"),
    provider: str | None = typer.Option(None, "--provider", "-p"),
    tries: int = typer.Option(2, "--tries", help="Try 2 sees the test output once."),
    vs_aider: bool = typer.Option(False, "--vs-aider", help="Run aider on the same endpoint."),
    case_timeout: float = typer.Option(240.0, "--case-timeout", help="Seconds per case."),
    run_limit: float = typer.Option(
        14400.0, "--run-limit", help="Seconds for the whole run (all 34 exercises fit)."
    ),
    max_steps: int = typer.Option(10, "--max-steps", help="redline agent turns per try."),
    speculation: bool = typer.Option(
        True,
        "--speculation/--no-speculation",
        help="Drafts (prediction, quotes, prompt lookup) on, or the one-token decoder only.",
    ),
    data: Path | None = typer.Option(None, "--data", help="polyglot-python folder."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    candidates: int | None = typer.Option(
        None,
        "--candidates",
        "-n",
        min=1,
        help="redline tries N replies per answer and keeps the best (aider keeps its tries).",
    ),
) -> None:
    """redline's agent on polyglot-python exercises (aider's protocol), optionally vs aider."""
    from redline.bench import plots
    from redline.bench.agent_bench import run_agent_bench
    from redline.bench.results import print_table, results_dir, save

    name = f"agent-{model.replace('/', '_')}" + ("" if speculation else "-nospec")
    name += f"-n{candidates}" if candidates and candidates > 1 else ""
    count = int(exercises) if exercises.isdigit() else len(exercises.split(","))
    with _progress(count * (2 if vs_aider else 1), "agent") as tick:
        result = run_agent_bench(
            model,
            provider=provider,
            exercises=exercises,
            tries=tries,
            vs_aider=vs_aider,
            case_timeout_s=case_timeout,
            run_limit_s=run_limit,
            data=data,
            max_steps=max_steps,
            speculation=speculation,
            transcripts=results_dir() / "transcripts" / name,
            tick=tick,
            candidates=candidates,
        )
    save(result, name)
    png = plots.plot_agent(_results("agent-*.json"))
    result["plot"] = str(png)
    result["candidates_plot"] = str(plots.plot_candidates(_results("agent-*.json")))

    def table(err: bool) -> None:
        cols = [
            "agent",
            "pass_rate_1",
            "pass_rate_2",
            "percent_cases_well_formed",
            "seconds_per_case",
            "tokens (in/out)",
            "spec. acceptance",
            "TTFT s",
            "decode tok/s (median/all)",
            "candidates/case",
            "test runs/case",
            "cases",
        ]
        rows = [
            (
                name,
                a["pass_rate_1"],
                a["pass_rate_2"],
                a["percent_cases_well_formed"],
                a["seconds_per_case"],
                f"{a['prompt_tokens']}/{a['completion_tokens']}",
                a["speculative_acceptance"],
                a.get("median_ttft_s"),
                _both(a.get("median_decode_tok_s"), a.get("decode_tok_s_all")),
                a.get("candidates_per_case"),
                a.get("test_runs_per_case"),
                a["cases"],
            )
            for name, a in result["agents"].items()
        ]
        ratio = result["seconds_ratio_redline_over_aider"]
        note = f"; seconds ratio redline/aider {ratio}" if ratio is not None else ""
        print_table(f"polyglot-python on {model}{note}; plot {png}", cols, rows, err=err)

    _emit(result, json_out, table)


def _both(median: float | None, overall: float | None) -> str | None:
    """The decode column, median/all, for an agent that reports timings (None: shown as -)."""
    return None if median is None else f"{median}/{overall}"


@bench_app.command("all")
def all_command(
    quick: bool = typer.Option(False, "--quick", help="Small limits everywhere (< 10 min)."),
    only: list[str] = typer.Option([], "--only", help="Run only these steps."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Every benchmark in sequence; JSON and PNG plots in bench-results/."""
    from redline.bench.results import print_table
    from redline.bench.suite import run_all

    _exit_on_sigterm()
    summary = run_all(quick, only=only or None)

    def table(err: bool) -> None:
        rows = [
            (name, s["ok"], s["seconds"], s.get("error", "")[:70])
            for name, s in summary["steps"].items()
        ]
        print_table(
            f"bench all ({summary['wall_s']} s); plots: {', '.join(summary['plots'])}",
            ["step", "ok", "seconds", "error"],
            rows,
            err=err,
        )

    _emit(summary, json_out, table)
    if not all(s["ok"] for s in summary["steps"].values()):
        raise typer.Exit(1)


def _delegate(module: str, func: str, plot: str | None, default_model: str):
    """A command for a benchmark another module owns, imported only when run."""

    def command(
        model: str = typer.Option(default_model, "--model", "-m"),
        quick: bool = typer.Option(False, "--quick", help="A smaller, faster run."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        import importlib
        import inspect

        from rich.console import Console

        from redline.bench import plots
        from redline.bench.results import save
        from redline.errors import ConfigError

        try:
            run = getattr(importlib.import_module(f"redline.bench.{module}"), func)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"`redline bench {module}` is not available yet: {exc}") from exc
        accepts = inspect.signature(run).parameters
        extra: dict[str, object] = {}
        if "json_out" in accepts:
            extra["json_out"] = json_out
        elif json_out and "console" in accepts:
            extra["console"] = Console(stderr=True)  # stdout carries only the JSON
        result = run(model, quick=quick, **extra)
        if json_out and "json_out" not in accepts:
            sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        save(result, module)
        if plot:
            getattr(plots, plot)(result)

    return command


# serve's workload is chat: Gemma 3 270M base has no chat template (llama_cpp.server
# falls back to llama-2's and gets empty replies), SmolLM2-Instruct has one.
_DELEGATED = {
    "decode": ("run_decode_bench", None, "Decoding speed of the engine.", "gemma3-270m"),
}
for _name, (_func, _plot, _help, _model) in _DELEGATED.items():
    bench_app.command(_name, help=_help)(_delegate(_name, _func, _plot, _model))

_serve = _delegate("serve", "run_serve_bench", "plot_serve", "smollm2-135m")


@bench_app.command("edit")
def edit_bench(
    model: str = typer.Option("gemma3-270m", "--model", "-m"),
    quick: bool = typer.Option(False, "--quick", help="A smaller, faster run."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    cases: str = typer.Option(
        "bar", "--cases", help="bar: the README's eight edits; more: eight held-out ones."
    ),
) -> None:
    """Speculative edits: plain vs speculative tok/s."""
    from redline.bench import plots
    from redline.bench.edit import CASE_SETS, run_edit_bench
    from redline.bench.results import save
    from redline.errors import ConfigError

    if cases not in CASE_SETS:
        raise ConfigError(f"--cases must be one of {', '.join(CASE_SETS)}, not {cases!r}")
    result = run_edit_bench(model, quick=quick, json_out=json_out, cases=cases)
    if cases == "bar":
        save(result, "edit")
        plots.plot_edit(result)
    else:
        save(result, f"edit-{cases}")


@bench_app.command("parallel")
def parallel_bench(
    model: str = typer.Option("qwen2.5-coder-0.5b", "--model", "-m"),
    exercises: str = typer.Option("4", "--exercises", help="A count (the first N) or names."),
    data: Path | None = typer.Option(None, "--data", help="The polyglot-python folder."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """N polyglot exercises by `exec --parallel N` sub-agents vs one after another."""
    from rich.console import Console

    from redline.bench.parallel_agents import run_parallel_bench
    from redline.bench.results import save

    _exit_on_sigterm()
    console = Console(stderr=True) if json_out else None
    result = run_parallel_bench(model, exercises=exercises, data=data, console=console)
    if json_out:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    save(result, "parallel-agents")


@bench_app.command("serve")
def serve_bench(
    model: str = typer.Option("smollm2-135m", "--model", "-m"),
    quick: bool = typer.Option(False, "--quick", help="A smaller, faster run."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    concurrency: int = typer.Option(
        0,
        "--concurrency",
        min=0,
        help="N clients at once: redline serve --parallel N vs llama_cpp.server (only that).",
    ),
    n: int = typer.Option(
        0, "--n", min=0, help="One request for N choices beside the N-row kernel rate (only that)."
    ),
) -> None:
    """redline serve vs llama_cpp.server (with --concurrency N: N clients at once;
    with --n N: one request for N choices)."""
    if n:
        from rich.console import Console

        from redline.bench.results import save
        from redline.bench.serve_n import run_n_bench

        _exit_on_sigterm()
        result = run_n_bench(model, quick, n=n, console=Console(stderr=True) if json_out else None)
        if json_out:
            sys.stdout.write(json.dumps(result, indent=2) + "\n")
        save(result, "serve-n")
        return
    if not concurrency:
        _serve(model=model, quick=quick, json_out=json_out)
        return
    from rich.console import Console

    from redline.bench.results import save
    from redline.bench.serve_concurrency import run_concurrency_bench

    _exit_on_sigterm()
    console = Console(stderr=True) if json_out else None
    result = run_concurrency_bench(model, quick, concurrency=concurrency, console=console)
    if json_out:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
    save(result, "serve-concurrency")


def register(app: typer.Typer) -> None:
    """Add ``redline bench`` to the root app, every benchmark with ``--save``."""
    from redline.cli.bench_save import add_save_options, report_command

    add_save_options(bench_app)
    bench_app.command("report")(report_command)
    app.add_typer(bench_app, name="bench")
