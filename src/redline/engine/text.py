"""Turning tokens into text as they stream: UTF-8 safe, stop sequences held back."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading items (tokens) two sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def ends_in_loop(seq: Sequence, *, max_period: int, min_span: int, min_repeats: int = 4) -> bool:
    """Whether ``seq`` ends in one pattern repeated over and over: for some period
    p <= ``max_period``, its last max(``min_span``, ``min_repeats`` * p) items equal
    the ones p earlier. Works on tokens (the engine) and on characters (a rewrite)."""
    n = len(seq)
    for p in range(1, max_period + 1):
        span = max(min_span, min_repeats * p)
        if n < span + p:
            break
        if seq[n - span :] == seq[n - span - p : n - p]:
            return True
    return False


class StopScanner:
    """Streams text while holding back anything that may begin a stop sequence.

    ``feed`` returns the text that is safe to show now and whether a stop
    sequence was completed (the stop text itself is never shown).
    """

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> tuple[str, bool]:
        self.pending += self.decoder.decode(piece)
        if not self.stops:
            out, self.pending = self.pending, ""
            return out, False
        hit = min((i for i in (self.pending.find(s) for s in self.stops) if i >= 0), default=-1)
        if hit >= 0:
            out, self.pending = self.pending[:hit], ""
            return out, True
        hold = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(stop[:n]):
                    hold = max(hold, n)
                    break
        cut = len(self.pending) - hold
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def flush(self) -> str:
        out = self.pending + self.decoder.decode(b"", final=True)
        self.pending = ""
        return out
