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


class PredictionDrafter:
    """Drafts from the caller's predicted output, re-synchronising after edits.

    ``cursor`` is where the output is believed to be in the prediction. While
    the output agrees with it, the cursor advances one token at a time. On a
    disagreement (the model inserted, deleted or changed text), the cursor jumps
    to the occurrence of the output's last few tokens nearest after the old
    cursor, so drafting resumes right after the edited region.
    """

    def __init__(self, prediction: Sequence[int], max_n: int = 8, min_n: int = 2) -> None:
        self.pred = list(prediction)
        self.cursor: int | None = 0
        self.anchor = 0  # last known place in the prediction, kept while out of sync
        self.max_n = max_n
        self.min_n = min_n
        self.output: list[int] = []
        self.index = NgramIndex(max_n)
        for tok in self.pred:
            self.index.add(tok)

    def observe(self, token: int) -> None:
        self.output.append(token)
        cur = self.cursor
        if cur is not None and cur < len(self.pred) and self.pred[cur] == token:
            self.cursor = self.anchor = cur + 1
            return
        self.cursor = self._resync()
        if self.cursor is not None:
            self.anchor = self.cursor

    def _resync(self) -> int | None:
        anchor = self.anchor
        for n in range(min(self.max_n, len(self.output)), self.min_n - 1, -1):
            found = self.index.positions(tuple(self.output[-n:]))
            if not found:
                continue
            after = [p for p in found if p >= anchor]
            # Nearest occurrence at or after the old cursor; else the last one before it.
            return after[0] if after else found[-1]
        return None

    def draft(self, k: int) -> list[int]:
        if self.cursor is None or k <= 0:
            return []
        return self.pred[self.cursor : self.cursor + k]


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
