"""The one drain of a provider's event stream."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from redline.errors import ProviderError
from redline.providers.base import (
    ChatRequest,
    Done,
    ErrorEvent,
    Event,
    Restart,
    TextDelta,
    TimingsEvent,
    ToolCallDelta,
    Usage,
)
from redline.providers.drain import drain
from redline.providers.scripted import ScriptedProvider

REQUEST = ChatRequest(messages=[{"role": "user", "content": "hi"}])


class Tracked:
    """An event stream that records whether it was closed and how far it was read."""

    def __init__(self, events: list[Event]):
        self.events = events
        self.read = 0
        self.closed = False

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        if self.read >= len(self.events):
            raise StopIteration
        self.read += 1
        return self.events[self.read - 1]

    def close(self) -> None:
        self.closed = True


def test_text_tool_pieces_usage_timings_and_finish_are_gathered() -> None:
    provider = ScriptedProvider(
        [{"text": "one two three", "calls": [{"name": "read", "arguments": {"path": "a.py"}}]}],
        native_tools=True,
        chunk=3,
    )
    got = drain(provider.stream(REQUEST))
    assert got.text == "one two three" and len(got.parts) == 5
    assert got.pieces == {0: {"id": "call_0", "name": "read", "arguments": '{"path": "a.py"}'}}
    assert got.usage is not None and got.usage.completion_tokens == 3
    assert got.timings is not None and got.finish == "stop" and got.error is None
    got.raise_error()  # no error: nothing raised


def test_a_restart_voids_the_reply_so_far_and_keeps_what_was_abandoned() -> None:
    events: list[Event] = [
        TextDelta("half a rep"),
        ToolCallDelta(0, id="c", name="edit", arguments='{"pa'),
        Restart("a", "b", "connection reset"),
        TextDelta("whole reply"),
        Done("stop"),
    ]
    got = drain(iter(events))
    assert got.text == "whole reply" and got.pieces == {}
    assert got.abandoned == "half a rep"


def test_an_error_is_recorded_then_raised_on_request() -> None:
    got = drain(ScriptedProvider([{"error": "boom"}]).stream(REQUEST))
    assert isinstance(got.error, ProviderError) and "boom" in got.error.message
    with pytest.raises(ProviderError, match="boom"):
        got.raise_error()


def test_on_event_ends_the_stream_early_and_the_stream_is_closed() -> None:
    stream = Tracked([TextDelta("a"), TextDelta("b"), TextDelta("STOP"), TextDelta("c"), Done()])
    got = drain(stream, lambda event, so_far: so_far.text.endswith("STOP"))
    assert got.stopped and got.text == "abSTOP"
    assert stream.read == 3 and stream.closed


def test_cancel_ends_the_stream_as_cancelled_and_closes_it() -> None:
    cancel = threading.Event()
    stream = Tracked([TextDelta("a"), TextDelta("b"), Done()])

    def watch(event: Event, so_far: object) -> None:
        cancel.set()

    got = drain(stream, watch, cancel)
    assert got.finish == "cancelled" and got.text == "a"
    assert stream.closed


def test_a_stream_that_raises_is_still_closed() -> None:
    class Broken(Tracked):
        def __next__(self) -> Event:
            raise RuntimeError("engine bug")

    stream = Broken([])
    with pytest.raises(RuntimeError):
        drain(stream)
    assert stream.closed


def test_timings_and_usage_keep_the_last_seen() -> None:
    first = TimingsEvent("p", 0.1, 1.0, 5, 5.0)
    last = TimingsEvent("p", 0.2, 2.0, 9, 4.5)
    got = drain(iter([first, Usage(1, 2), last, Usage(3, 4), ErrorEvent(ProviderError("x"))]))
    assert got.timings is last and got.usage == Usage(3, 4)
    assert got.error is not None and got.finish == "stop"
