"""Engine-level commands: ``models``, ``complete`` and a minimal ``chat``."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)


def _timings_line(t) -> str:  # noqa: ANN001 - Timings, imported lazily
    return (
        f"[{t.completion_tokens} tokens | ttft {t.ttft_s * 1000:.0f} ms | "
        f"decode {t.decode_tok_s:.1f} tok/s | prompt {t.prompt_tokens} tok "
        f"({t.cached_tokens} cached) {t.prompt_tok_s:.0f} tok/s | total {t.total_s:.2f} s"
        + (
            f" | drafted {t.drafted_tokens} accepted {t.accepted_tokens}"
            if t.drafted_tokens
            else ""
        )
        + "]"
    )


models_app = typer.Typer(help="The models redline can run, and tools for GGUF files.")


@models_app.callback(invoke_without_command=True)
def models(
    ctx: typer.Context,
    prepare: bool = typer.Option(
        False, "--prepare", help="Assemble/verify the embedded models, then exit."
    ),
) -> None:
    """List the models redline can run: the embedded ones, with size and context."""
    if ctx.invoked_subcommand is not None:
        return
    from redline.engine.inspect import describe_embedded

    rows = describe_embedded()
    if prepare:
        for info in rows:
            typer.echo(f"ready: {info.name} -> {info.path}")
        return
    from redline.engine.machine import machine_line
    from redline.engine.profile import profile_for

    table = Table(title="redline models")
    for col in ("name", "size", "context", "chat template", "FIM"):
        table.add_column(col, no_wrap=True)
    table.add_column("profile (redline tune)", overflow="fold")
    table.add_column("file", overflow="fold")
    for info in rows:
        tuned = profile_for(info.name)
        table.add_row(
            info.name,
            f"{info.size_bytes / 1e6:.0f} MB",
            str(info.n_ctx_train or "?"),
            "yes" if info.chat_template else "no",
            "yes" if info.fim else "no",
            tuned.describe() if tuned else "defaults",
            info.path,
        )
    Console().print(table)
    typer.echo(f"machine: {machine_line()}")
    typer.echo("Any other GGUF: pass its path to --model.")


def complete(
    prefix: str = typer.Argument(..., help="Text to continue."),
    model: str = typer.Option(
        "qwen2.5-coder-0.5b", "--model", "-m", help="Model name or GGUF path."
    ),
    max_tokens: int = typer.Option(128, "--max-tokens", "-n"),
    suffix: str | None = typer.Option(None, "--suffix", help="Text after the cursor (FIM)."),
    temperature: float = typer.Option(0.0, "--temperature", "-t"),
    stop: list[str] = typer.Option([], "--stop", help="Stop sequence (repeatable)."),
    prompt_lookup: bool = typer.Option(
        False, "--prompt-lookup", help="Draft from the prompt's n-grams (speculative)."
    ),
) -> None:
    """Stream a raw completion of PREFIX and print its timings."""
    from redline.engine.engine import Engine
    from redline.engine.types import GenerationRequest

    engine = Engine(model)
    req = GenerationRequest(
        prompt=prefix,
        suffix=suffix,
        max_tokens=max_tokens,
        temperature=temperature,
        stop=stop,
        speculative=prompt_lookup,
    )
    sys.stdout.write(prefix)
    last = None
    for chunk in engine.generate(req):
        sys.stdout.write(chunk.text)
        sys.stdout.flush()
        last = chunk
    sys.stdout.write("\n")
    if last is not None and last.timings is not None:
        err.print(_timings_line(last.timings), style="dim")


def chat(
    model: str = typer.Option("smollm2-135m", "--model", "-m"),
    max_tokens: int = typer.Option(512, "--max-tokens", "-n"),
) -> None:
    """A minimal streaming chat with a local model (the agent is `redline`)."""
    from redline.engine.engine import Engine
    from redline.engine.types import GenerationRequest

    engine = Engine(model)
    history: list[dict[str, str]] = []
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        if line.strip() in ("/exit", "/quit"):
            break
        if not line.strip():
            continue
        history.append({"role": "user", "content": line})
        reply: list[str] = []
        last = None
        try:
            for chunk in engine.generate(
                GenerationRequest(messages=history, max_tokens=max_tokens)
            ):
                sys.stdout.write(chunk.text)
                sys.stdout.flush()
                reply.append(chunk.text)
                last = chunk
        except KeyboardInterrupt:
            sys.stdout.write(" [interrupted]")
        sys.stdout.write("\n")
        history.append({"role": "assistant", "content": "".join(reply)})
        if last is not None and last.timings is not None:
            err.print(_timings_line(last.timings), style="dim")


@models_app.command("quantize")
def quantize(
    source: str = typer.Argument(..., help="A GGUF file (F16/BF16 is best) or an embedded model."),
    qtype: str = typer.Option("q4_k_m", "--type", "-t", help="q4_k_m, q5_k_m, q8_0, q4_0 ..."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Where to write (default: ./NAME-TYPE.gguf)."
    ),
    threads: int | None = typer.Option(None, "--threads", help="Quantiser threads."),
    compare: bool = typer.Option(
        True, "--compare/--no-compare", help="Measure both files on a fixed code sample."
    ),
) -> None:
    """Quantise a GGUF with llama.cpp's quantiser, then show what it costs."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from redline.engine import quantize as q
    from redline.engine.models import resolve_model

    path = Path(resolve_model(source)[1])
    out = output or Path(f"{path.stem}-{qtype}.gguf")
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
    ) as bar:
        task = bar.add_task(f"quantising {path.name} to {qtype}", total=None)
        done = q.quantize(
            path,
            out,
            qtype,
            threads=threads,
            on_progress=lambda written, _s: bar.update(
                task, description=f"quantising {path.name} to {qtype}: {written / 1e6:.0f} MB"
            ),
        )
    typer.echo(
        f"wrote {done.output} ({done.output_bytes / 1e6:.0f} MB from "
        f"{done.source_bytes / 1e6:.0f} MB, {done.seconds:.1f} s)"
    )
    if not compare:
        return
    err.print("measuring both on a fixed code sample ...", style="dim")
    before, after = q.measure(path), q.measure(done.output)
    from redline.engine.machine import machine_line

    table = Table(title=f"{path.name} → {qtype}")
    for col in ("file", "size", "decode tok/s", "perplexity", "top-1 agreement"):
        table.add_column(col, no_wrap=True)
    for m, agree in ((before, 1.0), (after, q.agreement(before, after))):
        table.add_row(
            m.path.name,
            f"{m.size_bytes / 1e6:.0f} MB",
            f"{m.decode_tok_s:.1f}",
            f"{m.perplexity:.3f}",
            f"{agree:.1%}",
        )
    typer.echo(f"machine: {machine_line()}")
    Console(width=max(Console().width, 100)).print(table)


def tune(
    model: str | None = typer.Option(
        None, "--model", "-m", help="Model to tune (default: the configured local model)."
    ),
    budget: float = typer.Option(300.0, "--budget", help="Seconds to spend measuring."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Measure and show; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the trials as JSON."),
) -> None:
    """Measure engine settings on this machine and save the best as the model's profile."""
    import dataclasses
    import json

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from redline.bench.tune import ROWS_COST
    from redline.bench.tune import tune as run_tune
    from redline.cli.serve import _default_model
    from redline.engine.models import resolve_model
    from redline.engine.profile import profiles_path, save

    name = resolve_model(model or _default_model())[0]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=err
    ) as bar:
        task = bar.add_task(f"tuning {name}", total=None)

        def step(trial, done: int, planned: int) -> None:  # noqa: ANN001 - Trial
            bar.update(
                task,
                total=planned,
                completed=done,
                description=f"tuning {name}: {trial.stage} = {trial.value}",
            )

        result = run_tune(name, budget_s=budget, progress=step)
    if as_json:
        out = dict(result)
        out["profile"] = dataclasses.asdict(result["profile"])
        out["trials"] = [
            {k: v for k, v in dataclasses.asdict(t).items() if k != "profile"}
            for t in result["trials"]
        ]
        typer.echo(json.dumps(out, indent=2))
    else:
        from redline.engine.machine import machine_line

        title = f"redline tune {name} ({result['cpus']} CPUs, {result['seconds']} s)"
        table = Table(title=title)
        cols = ("setting", "value", "prompt tok/s", "decode tok/s", "copy tok/s", "TTFT ms")
        for col in (*cols, "turn s", ""):
            table.add_column(col, no_wrap=True)
        for t in result["trials"]:
            measured = t.status in ("measured", "chosen", "not confirmed")
            table.add_row(
                t.stage,
                t.value,
                f"{t.prompt_tok_s:.0f}" if measured and t.prompt_tok_s else "",
                f"{t.decode_tok_s:.1f}" if measured and t.decode_tok_s else "",
                f"{t.copy_tok_s:.1f}" if measured and t.copy_tok_s else "",
                f"{t.ttft_ms:.0f}" if measured and t.ttft_ms else "",
                f"{t.turn_s:.2f}" if measured and t.turn_s else "",
                t.status,
            )
        typer.echo(f"machine: {machine_line(result['machine'])}")
        Console(width=max(Console().width, 100)).print(table)
        typer.echo(
            "turn s: a typical agent turn, 1,500 uncached prompt tokens, 150 decoded, 150 "
            "copied; copy tok/s: a whole-file rewrite with the old file as the prediction. "
            "A setting replaces the current one when its turn is 3 % faster, and again when "
            "both are measured once more (else: not confirmed); flash attention and the KV "
            "type, which change the arithmetic (and so greedy replies), 10 %."
        )
    for c in result.get("rows") or []:
        typer.echo(
            f"candidates: {c['rows']} rows decode at {c['rows_tok_s']} tok/s beside one row's "
            f"{c['one_row_tok_s']}: {c['rows']} replies cost {c['cost']}x one"
        )
    profile = result["profile"]
    if result.get("rows"):
        typer.echo(
            f"candidates by default for a task with a check: {profile.candidates} (the most "
            f"rows at no more than {ROWS_COST}x one reply's time; --candidates N overrides)"
        )
    verdict = "the defaults are best here" if result["defaults"] else "tuned"
    typer.echo(f"{name}: {profile.describe()} ({verdict})")
    if not dry_run:
        typer.echo(
            f"saved to {save(name, profile)} (REDLINE_NO_PROFILE=1 or --no-profile ignores it)"
        )
    elif profiles_path().is_file():
        typer.echo(f"not saved (--dry-run); profiles are in {profiles_path()}")


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command("tune")(tune)
    app.command()(complete)
    app.command()(chat)
