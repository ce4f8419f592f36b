"""Where speculative drafts come from: a predicted output, or n-grams seen before.

A drafter proposes the next few tokens; the engine verifies them in one batch.
Drafts never change a greedy output, only how many model passes it takes, so a
drafter is free to guess badly; it just costs time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol


class Drafter(Protocol):
    def observe(self, token: int) -> None:
        """Record one token that is now part of the output."""

    def draft(self, k: int) -> list[int]:
        """Propose up to ``k`` tokens that would follow the output so far."""


class NgramIndex:
    """Last position at which each n-gram (n = 1..max_n) ended, updated incrementally."""

    def __init__(self, max_n: int) -> None:
        self.max_n = max_n
        self.tokens: list[int] = []
        self.first_after: dict[tuple[int, ...], list[int]] = defaultdict(list)

    def add(self, token: int) -> None:
        self.tokens.append(token)
        end = len(self.tokens)
        for n in range(1, self.max_n + 1):
            if end - n < 0:
                break
            key = tuple(self.tokens[end - n : end])
            self.first_after[key].append(end)

    def positions(self, key: tuple[int, ...]) -> list[int]:
        """Positions just after each occurrence of ``key`` (ascending)."""
        return self.first_after.get(key, [])


RESYNC_REACH = {2: 32, 3: 128}
"""How far past the last agreed place a short match may move the cursor. Two or
three tokens recur all over a file (an indent and ``\"\"\"``, ``, a``): matched
far away while the model writes new text (a docstring), they drafted another
function's lines (27 and 11 rows rejected in a row on ``bench edit``). Four and
more tokens may jump anywhere (a deleted method skips hundreds)."""


class PredictionDrafter:
    """Drafts from the caller's predicted output, re-synchronising after edits.

    ``cursor`` is where the output is believed to be in the prediction. While
    the output agrees with it, the cursor advances one token at a time. On a
    disagreement (the model inserted, deleted or changed text), the cursor jumps
    to the occurrence of the output's last few tokens nearest after the old
    cursor, so drafting resumes right after the edited region.
    """

    def __init__(
        self,
        prediction: Sequence[int],
        max_n: int = 8,
        min_n: int = 2,
        stops: Sequence[int] | None = None,
    ) -> None:
        """``stops[i]``: where a draft that starts at prediction token ``i`` ends
        (:func:`redline.engine.sites.draft_stops`); None, as far as ``k`` allows."""
        self.pred = list(prediction)
        self.stops = list(stops) if stops is not None else None
        self.cursor: int | None = 0
        self.anchor = 0  # last known place in the prediction, kept while out of sync
        self.max_n = max_n
        self.min_n = min_n
        self.output: list[int] = []
        self.apart = 0  # output tokens since the last one that agreed with the prediction
        self.index = NgramIndex(max_n)
        for tok in self.pred:
            self.index.add(tok)

    def observe(self, token: int) -> None:
        self.output.append(token)
        cur = self.cursor
        if cur is not None and cur < len(self.pred) and self.pred[cur] == token:
            self.cursor = self.anchor = cur + 1
            self.apart = 0
            return
        self.apart += 1
        self.cursor = self._resync()
        if self.cursor is not None:
            self.anchor = self.cursor

    def _resync(self) -> int | None:
        anchor = self.anchor
        # Only tokens written since the disagreement are evidence of where the model
        # went: the agreed ones before it match wherever the prediction repeats them.
        for n in range(min(self.max_n, self.apart), self.min_n - 1, -1):
            found = self.index.positions(tuple(self.output[-n:]))
            if not found:
                continue
            reach = RESYNC_REACH.get(n)
            after = [p for p in found if p >= anchor and (reach is None or p - anchor <= reach)]
            if after:
                return after[0]  # the nearest occurrence at or after the old cursor
            if reach is None:
                return found[-1]  # a long match: the model went back; the last one before
        return None

    def draft(self, k: int) -> list[int]:
        if self.cursor is None or k <= 0:
            return []
        end = self.cursor + k
        if self.stops is not None and self.cursor < len(self.stops):
            end = min(end, self.stops[self.cursor])
        return self.pred[self.cursor : end]


class NgramDrafter:
    """Prompt-lookup decoding: continue the output the way the context did before.

    Looks up the longest suffix of (prompt + output) that occurred earlier and
    proposes the tokens that followed its most recent earlier occurrence.
    """

    def __init__(self, context: Sequence[int], max_n: int = 4, min_n: int = 2) -> None:
        self.max_n = max_n
        self.min_n = min_n
        self.index = NgramIndex(max_n)
        for tok in context:
            self.index.add(tok)

    def observe(self, token: int) -> None:
        self.index.add(token)

    def draft(self, k: int) -> list[int]:
        toks = self.index.tokens
        end = len(toks)
        if k <= 0:
            return []
        for n in range(min(self.max_n, end - 1), self.min_n - 1, -1):
            found = self.index.positions(tuple(toks[end - n :]))
            # The last entry is the suffix itself; take the one before it.
            earlier = [p for p in found if p < end]
            if earlier:
                start = earlier[-1]
                return toks[start : start + k]
        return []


class AdaptiveK:
    """Draft length that grows while drafts are accepted and shrinks when not.

    Verifying a long draft that is mostly rejected wastes a big batch; a short
    draft that is fully accepted leaves speed unused. Doubling on full
    acceptance and falling back to what was accepted keeps both costs small.
    """

    def __init__(self, start: int = 8, lo: int = 2, hi: int = 64) -> None:
        self.k = start
        self.lo = lo
        self.hi = hi

    def update(self, drafted: int, accepted: int) -> None:
        if drafted == 0:
            return
        if accepted == drafted:
            self.k = min(self.hi, self.k * 2)
        else:
            self.k = max(self.lo, min(self.hi, accepted + 2))


class SpeedGate:
    """Draft only while it pays, as measured in this generation.

    Whether verifying drafts beats plain decoding depends on the model, the
    CPU and the text: an edit mostly repeats its prompt, a chat reply rarely
    does, and on a small vocabulary a verify batch costs nearly as much per
    row as a one-token step. So both are timed: output tokens per second of
    verify steps and of plain steps (moving averages). When drafting's rate
    falls below plain decoding's, drafting pauses for ``pause`` steps
    (doubling, up to ``max_pause``, while it keeps losing), then one verify
    step probes again. Output never changes, only which path computes it.
    """

    def __init__(
        self, alpha: float = 0.3, pause: int = 8, max_pause: int = 256, warmup: int = 1
    ) -> None:
        """``warmup``: verify steps seen (since the start or the last pause) before one
        can pause drafting. A prediction's verify step that reaches a changed line
        always loses (a row or two kept of 8-64); the next one shows whether the
        prediction pays, so prediction drafts use 2."""
        self.alpha = alpha
        self.warmup = warmup
        self.seen = 0
        self.plain = 0.0
        self.spec = 0.0
        self.first_pause = pause
        self.pause = pause
        self.max_pause = max_pause
        self.left = 0

    def _ema(self, old: float, new: float) -> float:
        return new if old == 0.0 else old + self.alpha * (new - old)

    def allow(self) -> bool:
        return self.left == 0

    def plain_step(self, seconds: float) -> None:
        if seconds > 0:
            self.plain = self._ema(self.plain, 1.0 / seconds)
        if self.left:
            self.left -= 1

    def spec_step(self, tokens: int, seconds: float) -> None:
        if seconds <= 0:
            return
        self.spec = self._ema(self.spec, tokens / seconds)
        self.seen += 1
        if not self.plain or self.seen < self.warmup:
            return  # nothing to compare with yet
        if self.spec < self.plain:
            self.left = self.pause
            self.pause = min(self.pause * 2, self.max_pause)
            self.spec = 0.0  # the probe after the pause is judged on its own
            self.seen = self.warmup - 1
        else:
            self.pause = self.first_pause
