"""Diagnostics for open Python files from the agent's error-detection pass.

Each change restarts a per-document timer; only when the document has been
quiet for ``diagnostics_debounce_ms`` is it checked (in a thread: pyflakes and
import resolution take milliseconds, ruff a subprocess) and the result
published. A result for an outdated version is dropped, so a slow check never
overwrites a newer one. An empty list is published when a file becomes clean,
which is how an editor learns to clear the old markers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from lsprotocol import types

from redline.agent.checks.verify import Problem
from redline.ide.editing import check_text

SOURCE = "redline"


def to_diagnostic(problem: Problem, lines: list[str]) -> types.Diagnostic:
    """An LSP diagnostic for a 1-based verifier problem, spanning the offending word."""
    line = max(0, problem.line - 1)
    text = lines[line] if line < len(lines) else ""
    col = min(max(0, problem.col - 1), len(text))
    end = col
    while end < len(text) and (text[end].isalnum() or text[end] == "_"):
        end += 1
    if end == col:
        end = len(text) if col < len(text) else col
    severity = (
        types.DiagnosticSeverity.Error
        if problem.severity == "error"
        else types.DiagnosticSeverity.Warning
    )
    return types.Diagnostic(
        range=types.Range(types.Position(line, col), types.Position(line, end)),
        message=problem.message,
        severity=severity,
        source=SOURCE,
        code=problem.code or problem.source,
    )


def diagnose(text: str, path: str, *, use_ruff: bool) -> list[types.Diagnostic]:
    """All diagnostics for ``text`` (columns as code points: exact for ASCII lines)."""
    lines = text.splitlines()
    return [to_diagnostic(p, lines) for p in check_text(text, path, use_ruff=use_ruff)]


class DiagnosticsScheduler:
    """Debounces checks per document and publishes through ``publish``."""

    def __init__(
        self,
        publish: Callable[[str, int | None, list[types.Diagnostic]], None],
        on_error: Callable[[str], None],
    ) -> None:
        self._publish = publish
        self._on_error = on_error
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def schedule(
        self,
        uri: str,
        get_state: Callable[[], tuple[str, int | None] | None],
        path: str,
        *,
        delay_s: float,
        use_ruff: bool,
    ) -> None:
        """(Re)start the timer for ``uri``; ``get_state`` reads the text and version later."""
        old = self._tasks.pop(uri, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(
            self._run(uri, get_state, path, delay_s, use_ruff)
        )
        self._tasks[uri] = task
        task.add_done_callback(
            lambda t: self._tasks.pop(uri, None) if self._tasks.get(uri) is t else None
        )

    def forget(self, uri: str) -> None:
        """The document closed: stop its timer and clear its markers."""
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        self._publish(uri, None, [])

    async def _run(
        self,
        uri: str,
        get_state: Callable[[], tuple[str, int | None] | None],
        path: str,
        delay_s: float,
        use_ruff: bool,
    ) -> None:
        await asyncio.sleep(delay_s)
        state = get_state()
        if state is None:
            return
        text, version = state
        try:
            found = await asyncio.to_thread(diagnose, text, path, use_ruff=use_ruff)
        except Exception as exc:  # a verifier bug must not take the server down
            self._on_error(f"diagnostics for {uri} failed: {exc!r}")
            return
        now = get_state()
        if now is None or now[1] != version:
            return  # the document changed meanwhile; the newer check will publish
        self._publish(uri, version, found)
