"""``--save`` on every ``redline bench`` command, and ``redline bench report``.

``--save`` is added to each benchmark command when the ``bench`` group is
registered, so a benchmark added later gets it without a line of its own. The
option wraps the command in :func:`redline.bench.records.recording`; the
command line is rebuilt from the options given (not from ``sys.argv``) so the
record holds the same text however the command was invoked.
"""

from __future__ import annotations

import functools
import inspect
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

CONTEXT = "redline_context"
"""The parameter through which typer hands the wrapper its context (hidden from --help)."""
NOT_SAVED = {"report", "all"}
"""Commands that write no benchmark result of their own (``all`` saves each step's:
``redline bench all --save`` is not offered, run the steps one by one)."""


def _command_line(ctx: typer.Context) -> tuple[str, dict[str, Any]]:
    """``redline bench NAME`` and the options the user gave, as text and as data."""
    names, here = [], ctx
    while here.parent is not None:  # the root's name is however redline was started
        names.append(here.info_name or "")
        here = here.parent
    words = ["redline", *reversed(names)]
    given: dict[str, Any] = {}
    for param in ctx.command.params:
        if param.name in (None, "save", CONTEXT):
            continue
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name in ("DEFAULT", "DEFAULT_MAP"):
            continue
        value = ctx.params.get(param.name)
        given[param.name] = value
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            on, off = param.opts[0], (param.secondary_opts or [None])[0]
            words.append(on if value else off or "")
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            words += [flag, str(item)]
    return " ".join(shlex.quote(w) for w in words if w), given


def with_save(command: Callable[..., Any]) -> Callable[..., Any]:
    """``command`` with a ``--save`` option that records what it saves."""
    signature = inspect.signature(command)
    save = inspect.Parameter(
        "save",
        inspect.Parameter.KEYWORD_ONLY,
        default=typer.Option(
            False, "--save", help="Also keep the result as a record under benchmarks/results/."
        ),
        annotation=bool,
    )
    context = inspect.Parameter(CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in signature.parameters.values()]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        ctx = kwargs.pop(CONTEXT)
        if not kwargs.pop("save", False):
            return command(**kwargs)
        from redline.bench.records import recording

        text, given = _command_line(ctx)
        with recording(text, given):
            return command(**kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*params, save, context])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **getattr(command, "__annotations__", {}),
        "save": bool,
        CONTEXT: typer.Context,
    }
    return wrapper


def add_save_options(app: typer.Typer) -> None:
    """Give every benchmark command of ``app`` its ``--save``."""
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        if info.callback is not None and name not in NOT_SAVED:
            info.callback = with_save(info.callback)


def report_command(
    records_dir: Path | None = typer.Option(
        None, "--records", help="The records folder (default: benchmarks/results/)."
    ),
    readme: Path | None = typer.Option(
        None, "--readme", help="README to update between the headline markers."
    ),
    docs_page: Path | None = typer.Option(
        None, "--docs", help="The generated docs page (default: docs/benchmarks/results.md)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Write nothing; exit 1 if a file differs from the records."
    ),
) -> None:
    """Render the README's headline table and the docs' result tables from the records."""
    from redline.bench import report

    stale = report.update(records_dir, readme=readme, docs_page=docs_page, write=not check)
    for path in stale:
        typer.echo(f"{'out of date' if check else 'updated'}: {path}")
    if check and stale:
        raise typer.Exit(1)
    if not stale:
        typer.echo("README and docs match the records")
