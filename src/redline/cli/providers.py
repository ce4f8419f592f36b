"""`redline providers [--check]`: what is configured, and does each one answer.

The table shows whether a key is present, never the key. ``--check`` sends each
provider one tiny turn and reports time to first token and tokens per second,
or the error (already redacted by the provider).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from redline.config import load_settings
from redline.errors import RedlineError
from redline.providers.base import ChatRequest
from redline.providers.drain import drain
from redline.providers.registry import ProviderSpec, configured_specs, provider_from_spec

PROBE = ChatRequest(
    messages=[{"role": "user", "content": "Reply with the single word OK."}], max_tokens=8
)


def register(app: typer.Typer) -> None:
    """Add `redline providers` to the root app."""
    app.command("providers")(providers)


def providers(
    check: bool = typer.Option(False, "--check", help="Send each provider a tiny probe."),
    all_presets: bool = typer.Option(False, "--all", help="List every preset, not only set ones."),
    timeout: float = typer.Option(15.0, "--timeout", help="Seconds to wait for each probe."),
) -> None:
    """List configured providers (and with --check: TTFT, tok/s or the error)."""
    settings = load_settings()
    specs = configured_specs(settings, include_presets=all_presets)
    results = probe_all(specs, timeout) if check else {}
    table = Table(title="redline providers", title_justify="left")
    for column in ("name", "kind", "base URL", "model", "key"):
        table.add_column(column, no_wrap=True)
    if check:
        table.add_column("TTFT", justify="right")
        table.add_column("tok/s", justify="right")
        table.add_column("status")
    for spec in specs:
        row = [spec.name, spec.kind, spec.base_url or "(in-process)", spec.model, _key_cell(spec)]
        if check:
            row.extend(results[spec.name])
        table.add_row(*row)
    # Wide enough for URLs and error messages even when piped (rich assumes 80 then).
    console = Console()
    console.width = max(console.width, 160)
    console.print(table)
    if settings.sources:
        typer.echo(f"config: {', '.join(settings.sources)}")


def _key_cell(spec: ProviderSpec) -> str:
    if not spec.key_env:
        return "-"
    state = "yes" if spec.key_present else ("MISSING" if spec.key_required else "no")
    return f"${spec.key_env}: {state}"


def probe_all(specs: list[ProviderSpec], timeout: float) -> dict[str, list[str]]:
    """Probe every spec at once (remote ones in parallel); cells per name."""
    with ThreadPoolExecutor(max_workers=max(1, len(specs))) as pool:
        futures = {spec.name: pool.submit(probe, spec, timeout) for spec in specs}
        return {name: future.result() for name, future in futures.items()}


def probe(spec: ProviderSpec, timeout: float) -> list[str]:
    """One tiny turn: [TTFT, tok/s, status]."""
    if spec.kind == "openai":
        options = dict(spec.options or {})
        options.update(read_timeout=timeout, connect_timeout=min(timeout, 5.0), max_retries=0)
        spec = ProviderSpec(**{**spec.__dict__, "options": options})
    started = time.monotonic()
    try:
        provider = provider_from_spec(spec)
        got = drain(provider.stream(PROBE))
        if got.error is not None:
            return ["-", "-", f"[red]error[/red]: {escape(_message(got.error, spec.name))}"]
        timings, text = got.timings, got.text
    except RedlineError as exc:
        return ["-", "-", f"[red]error[/red]: {escape(exc.message)}"]
    if timings is None:
        return [f"{(time.monotonic() - started) * 1000:.0f} ms", "-", "[green]ok[/green]"]
    tok_s = f"{timings.tok_s:.0f}" if timings.tok_s else "-"
    reply = text.strip().replace("\n", " ")[:20]
    return [f"{timings.ttft_s * 1000:.0f} ms", tok_s, f"[green]ok[/green] {escape(repr(reply))}"]


def _message(error: Exception, name: str) -> str:
    """The error without the provider's name in front: the row already says it."""
    message = error.message if isinstance(error, RedlineError) else str(error)
    return message.removeprefix(f"{name}: ")
