"""``redline lsp``: the Language Server, on stdio (the default) or a loopback TCP port."""

from __future__ import annotations

import logging
from pathlib import Path

import typer


def lsp(
    tcp: int | None = typer.Option(
        None, "--tcp", metavar="PORT", help="Listen on 127.0.0.1:PORT instead of stdio."
    ),
    log_file: Path | None = typer.Option(
        None, "--log-file", help="Write the server's own log here (stdout carries LSP)."
    ),
) -> None:
    """Language Server for any LSP editor: inline completion, "Edit with redline…", diagnostics."""
    from redline.ide.app import build_server
    from redline.ide.server import serve_stdio

    if log_file is not None:
        logging.basicConfig(filename=str(log_file), level=logging.INFO)
    server = build_server()
    if tcp is not None:
        if not 0 < tcp < 65536:
            raise typer.BadParameter("PORT must be 1-65535", param_hint="--tcp")
        server.start_tcp("127.0.0.1", tcp)
    else:
        serve_stdio(server)


def register(app: typer.Typer) -> None:
    """Add ``lsp`` to the root app."""
    app.command("lsp")(lsp)
