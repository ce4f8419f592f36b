"""Read one provider event stream to its end: the one loop over ``Event``\\ s.

Every caller of ``Provider.stream`` or ``TextCompleter.complete`` (the agent's
turns, rewrites, inline completion, benchmarks, the provider probe) needs the
same things from a stream: the text, tool-call pieces by index, the finish
reason, the error, the timings and the usage, and the stream closed on every
path (a closed generator frees an engine slot or an HTTP connection at once).
:func:`drain` does that once; a caller that must act while tokens arrive (stop
at a boundary, check for a loop, show text) passes ``on_event``, which sees
each event after it is recorded and may end the stream by returning True.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from redline.providers.base import (
    ChoiceDone,
    Done,
    ErrorEvent,
    Event,
    Restart,
    TextDelta,
    TimingsEvent,
    ToolCallDelta,
    Usage,
)


@dataclass
class Drained:
    """What a stream said, event by event, gathered."""

    parts: list[str] = field(default_factory=list)
    """Reply 0's text pieces (the only reply unless the request asked for ``n`` > 1)."""
    choices: dict[int, list[str]] = field(default_factory=dict)
    """Every reply's text pieces by its ``choice`` (OpenAI ``n``), reply 0 included."""
    finishes: dict[int, str] = field(default_factory=dict)
    """Each reply's finish reason, from its :class:`ChoiceDone` (``n`` > 1 only)."""
    pieces: dict[int, dict[str, str]] = field(default_factory=dict)
    """Tool-call pieces by index: ``id``, ``name`` and the ``arguments`` text joined."""
    finish: str = "stop"
    error: Exception | None = None
    timings: TimingsEvent | None = None
    usage: Usage | None = None
    abandoned: str = ""
    """The text a :class:`Restart` threw away (the latest one), for a screen to void."""
    stopped: bool = False
    """``on_event`` ended the stream early."""

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def texts(self, n: int) -> list[str]:
        """The ``n`` replies' texts in choice order ('' for one that sent nothing)."""
        return ["".join(self.choices.get(i, [])) for i in range(n)]

    def raise_error(self) -> None:
        """Raise the stream's error, if it had one."""
        if self.error is not None:
            raise self.error

    def record(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.choices.setdefault(event.choice, []).append(event.text)
            if event.choice == 0:
                self.parts.append(event.text)
        elif isinstance(event, ToolCallDelta) and event.choice == 0:
            piece = self.pieces.setdefault(event.index, {"id": "", "name": "", "arguments": ""})
            piece["id"] = event.id or piece["id"]
            piece["name"] = event.name or piece["name"]
            piece["arguments"] += event.arguments
        elif isinstance(event, TimingsEvent):
            self.timings = event
        elif isinstance(event, Usage):
            self.usage = event
        elif isinstance(event, Restart):
            # The reply so far is void: a whole new one follows from another provider.
            self.abandoned = self.text
            self.parts.clear()
            self.choices.clear()
            self.pieces.clear()
        elif isinstance(event, ChoiceDone):
            self.finishes[event.choice] = event.finish_reason
        elif isinstance(event, Done):
            self.finish = event.finish_reason
        elif isinstance(event, ErrorEvent):
            self.error = event.error


def drain(
    events: Iterable[Event],
    on_event: Callable[[Event, Drained], bool | None] | None = None,
    cancel: threading.Event | None = None,
) -> Drained:
    """Gather ``events`` into a :class:`Drained`, always closing the stream.

    ``on_event(event, so_far)`` runs after each event is recorded; True ends the
    stream there (``stopped``). A set ``cancel`` ends it too, with finish
    ``cancelled``. An ``ErrorEvent`` is recorded, never raised: call
    :meth:`Drained.raise_error` where an error should propagate.
    """
    out = Drained()
    try:
        for event in events:
            out.record(event)
            if on_event is not None and on_event(event, out):
                out.stopped = True
                break
            if cancel is not None and cancel.is_set():
                out.finish = "cancelled"
                break
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    return out
