"""One model reply on the wire: stream it, time it, cut it where it loops.

The loop's ``query`` step for every protocol (and the planner's one request):
the protocol builds the request, :func:`stream_reply` drains the stream into a
:class:`Streamed` (text, tool-call pieces, finish, error) while the turn's
:class:`~redline.agent.telemetry.TurnStats` record where the time went.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redline.agent.telemetry import TurnStats
from redline.providers.base import (
    ChatRequest,
    Event,
    Provider,
    Restart,
    TextDelta,
    TimingsEvent,
    ToolCallDelta,
    Usage,
)
from redline.providers.drain import Drained, drain


@dataclass
class Streamed:
    """What came back: text, tool-call pieces by index, finish reason, error."""

    text: str = ""
    pieces: dict[int, dict[str, str]] = field(default_factory=dict)
    finish: str = "stop"
    error: Exception | None = None
    looped: bool = False
    """A redline engine closed the reply early because it fell into a loop."""


LOOP_CHECK_CHARS = 128


class LinkedEvent(threading.Event):
    """Set on its own or when ``parent`` is: a reply's own stop beside the task's cancel."""

    def __init__(self, parent: threading.Event) -> None:
        super().__init__()
        self.parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self.parent.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            super().wait(0.05 if left is None else min(0.05, left))
        return True


def stream_reply(
    provider: Provider,
    request: ChatRequest,
    stats: TurnStats,
    cancel: threading.Event,
    on_text: Callable[[str], None],
    on_retry: Callable[[dict[str, Any]], None] | None = None,
    looping: Callable[[str], bool] | None = None,
) -> Streamed:
    """Drain one stream (always closing it), timing it into ``stats``.

    On a :class:`Restart` the reply so far is discarded (text and tool-call
    pieces) and ``on_retry`` hears what was abandoned, so a screen can mark the
    text already shown as void; the new provider's reply starts from nothing.
    ``looping`` is asked about the text so far every ``LOOP_CHECK_CHARS``; when it
    says yes the stream is closed there (finish ``length``, ``looped``): the rest
    of the reply would only repeat itself, at the price of decoding it.
    """
    unchecked = 0
    looped = False
    deltas = 0  # a lower bound on tokens when the stream ends before its usage
    usage_seen = False
    start = time.perf_counter()
    # The loop stop cancels the generation (not the task): the provider ends it and
    # still reports what it cost (an in-process engine's timings and usage).
    halt = LinkedEvent(cancel)

    def watch(event: Event, so_far: Drained) -> None:
        nonlocal unchecked, looped, deltas, usage_seen
        if isinstance(event, (TextDelta, ToolCallDelta)):
            deltas += 1
        if isinstance(event, TextDelta):
            stats.first_token()
            on_text(event.text)
            unchecked += len(event.text)
            if looping is not None and unchecked >= LOOP_CHECK_CHARS and not looped:
                unchecked = 0
                if looping(so_far.text):
                    looped = True
                    halt.set()
        elif isinstance(event, ToolCallDelta):
            stats.first_token()
        elif isinstance(event, TimingsEvent):
            stats.add_timings(event, primary=True)
            looped = looped or bool((event.extra.get("engine") or {}).get("looped"))
        elif isinstance(event, Usage):
            usage_seen = True
            stats.add_usage(event)
        elif isinstance(event, Restart) and on_retry is not None:
            on_retry(
                {
                    "failed": event.failed,
                    "provider": event.provider,
                    "reason": event.reason,
                    "abandoned_text": so_far.abandoned,
                }
            )

    try:
        got = drain(provider.stream(request, halt), watch, cancel)
    finally:
        stats.model_s += time.perf_counter() - start
    if not usage_seen:
        # A stream closed early (a loop cut over HTTP) never gets its usage chunk;
        # every delta carried at least one token, so count those rather than none.
        stats.completion_tokens = max(stats.completion_tokens, deltas)
    out = Streamed(got.text, got.pieces, got.finish, got.error, looped)
    if out.looped and not cancel.is_set():
        out.finish, out.error = "length", None  # cut here on purpose, not failed
    return out
