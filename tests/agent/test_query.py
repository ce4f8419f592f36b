"""One reply's stream, drained and timed: what it reports when cut short."""

from __future__ import annotations

import threading

from redline.agent.query import stream_reply
from redline.agent.telemetry import TurnStats
from redline.providers.base import ChatRequest
from redline.providers.scripted import ScriptedProvider


def test_a_loop_cut_reply_still_counts_its_tokens():
    # The scripted provider, like an HTTP stream closed early, sends no usage once
    # the reply is cut: the deltas it did send are the count, not zero.
    provider = ScriptedProvider(["spam = 1\n" * 200], chunk=8)
    stats = TurnStats(turn=1)
    shown: list[str] = []
    out = stream_reply(
        provider,
        ChatRequest(messages=[{"role": "user", "content": "go"}]),
        stats,
        threading.Event(),
        shown.append,
        looping=lambda text: True,
    )
    assert out.looped and out.finish == "length"
    assert len(shown) < 200 * 9 // 8  # it was cut, not read to the end
    assert stats.completion_tokens == len(shown) > 0


def test_a_whole_reply_counts_the_providers_usage():
    provider = ScriptedProvider(["x = 1\n" * 40], chunk=4)
    stats = TurnStats(turn=1)
    stream_reply(
        provider,
        ChatRequest(messages=[{"role": "user", "content": "go"}]),
        stats,
        threading.Event(),
        lambda _: None,
    )
    assert stats.completion_tokens == len("x = 1\n" * 40) // 4
