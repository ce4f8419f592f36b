"""Engine-level commands: ``models``, ``complete`` and a minimal ``chat``."""

from __future__ import annotations

import sys

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


def models(
    prepare: bool = typer.Option(
        False, "--prepare", help="Assemble/verify the embedded models, then exit."
    ),
) -> None:
    """List the models redline can run: the embedded ones, with size and context."""
    from redline.engine.inspect import describe_embedded

    rows = describe_embedded()
    if prepare:
        for info in rows:
            typer.echo(f"ready: {info.name} -> {info.path}")
        return
    table = Table(title="redline models")
    for col in ("name", "size", "context", "chat template", "FIM"):
        table.add_column(col, no_wrap=True)
    table.add_column("file", overflow="fold")
    for info in rows:
        table.add_row(
            info.name,
            f"{info.size_bytes / 1e6:.0f} MB",
            str(info.n_ctx_train or "?"),
            "yes" if info.chat_template else "no",
            "yes" if info.fim else "no",
            info.path,
        )
    Console().print(table)
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


def register(app: typer.Typer) -> None:
    app.command()(models)
    app.command()(complete)
    app.command()(chat)
