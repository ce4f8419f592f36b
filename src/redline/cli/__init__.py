"""The ``redline`` command: a thin typer front door over the library.

Each area registers its own commands from a module of this package
(``cli/models.py``, ``cli/agent.py``, ``cli/serve.py`` ...), so this file only
assembles them and turns redline errors into one clear line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from redline import __version__
from redline.cli import agent, bench, lsp, models, providers, serve
from redline.cli.common import state
from redline.errors import RedlineError

app = typer.Typer(
    name="redline",
    help="A latency-first AI coding agent and inference server.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from redline.engine.machine import machine_line

        typer.echo(f"redline {__version__}")
        typer.echo(f"machine: {machine_line()}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    model: str | None = typer.Option(None, "--model", "-m", help="Model for the session."),
    provider: str | None = typer.Option(None, "--provider", "-p", help="Provider name."),
    approval: str | None = typer.Option(None, "--approval", "-a", help=agent.APPROVAL_HELP),
    edit_format: str | None = typer.Option(None, "--edit-format", help=agent.FORMAT_HELP),
    root: Path = typer.Option(Path("."), "--root", "-C", help="Workspace folder."),
    sandbox: str | None = typer.Option(None, "--sandbox", "-s", help=agent.SANDBOX_HELP),
) -> None:
    """With no command: the interactive coding session (``redline -m MODEL``)."""
    state.debug = debug
    if ctx.invoked_subcommand is None:
        agent.interactive_default(model, provider, approval, edit_format, root, sandbox)


for module in (models, serve, providers, agent, lsp, bench):
    module.register(app)


def main() -> None:
    """Console-script entry: run the app, print redline errors as one line."""
    try:
        app()
    except RedlineError as exc:
        if state.debug:
            raise
        typer.secho(f"error: {exc.message}", err=True, fg="red")
        if exc.hint:
            typer.secho(f"hint: {exc.hint}", err=True, fg="yellow")
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
