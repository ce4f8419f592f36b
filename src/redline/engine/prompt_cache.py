"""A host-memory cache of KV states, so one slot serves interleaved conversations.

The engine has one KV cache (one sequence). When a request shares little with
what that cache holds, the cache would be thrown away and rebuilt — and an
agent's conversation loses its whole prefix to one side request (a file
rewrite, another client, an IDE completion between two chat turns). Before the
KV cache is discarded it is copied here (``llama_state_seq_get_data``, a
memory copy of the sequence's K and V cells); a later request whose prompt
shares a longer prefix with a saved state than with the live cache gets that
state copied back instead of re-evaluating the prefix. This is what
llama-server's ``--cache-ram`` prompt cache and vLLM's prefix caching do.

Entries are kept least-recently-used within a byte budget; one whose tokens are a
prefix of a newer entry's is dropped, since the newer one serves every prompt
the older one could.

A model with sliding-window layers (Gemma 3) saves only the last window of those
layers, so its states are restored whole or not at all: cut back, the window
would lack the positions just before the cut (measured: the output diverges).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from redline.engine.text import common_prefix

DEFAULT_CACHE_MB = int(os.environ.get("REDLINE_CACHE_RAM_MB", "1024"))
MIN_SAVE_TOKENS = 128
"""A KV cache shorter than this costs less to recompute than to keep (~1 s at most)."""
MIN_GAIN_TOKENS = 64
"""A saved state is restored only when it saves at least this many tokens over the live cache."""


@dataclass
class SavedState:
    """One sequence's KV cells as llama.cpp serialises them, and the tokens they hold."""

    tokens: tuple[int, ...]
    data: bytearray = field(repr=False)


class PromptCache:
    """LRU of saved KV states within ``limit_bytes`` (0 disables the cache)."""

    def __init__(
        self, limit_bytes: int = DEFAULT_CACHE_MB * 2**20, *, whole_only: bool = False
    ) -> None:
        self.limit_bytes = max(0, limit_bytes)
        self.whole_only = whole_only
        self._entries: list[SavedState] = []  # least recently used first
        self.hits = 0
        self.saves = 0

    @property
    def enabled(self) -> bool:
        return self.limit_bytes > 0

    @property
    def size_bytes(self) -> int:
        return sum(len(e.data) for e in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def worth_saving(self, tokens: Sequence[int], keep: int) -> bool:
        """Whether a live cache of ``tokens``, about to be cut to ``keep``, should be saved."""
        if not self.enabled or len(tokens) - keep < MIN_SAVE_TOKENS:
            return False
        # Already here, or covered by a longer saved state.
        return not any(
            len(e.tokens) >= len(tokens) and common_prefix(e.tokens, tokens) == len(tokens)
            for e in self._entries
        )

    def put(self, tokens: Sequence[int], data: bytearray) -> None:
        """Keep a state; drop the entries it covers, then the oldest beyond the budget."""
        if not self.enabled or len(data) > self.limit_bytes:
            return
        new = SavedState(tuple(tokens), data)
        self._entries = [
            e
            for e in self._entries
            if not (len(e.tokens) <= len(new.tokens) and new.tokens[: len(e.tokens)] == e.tokens)
        ]
        self._entries.append(new)
        self.saves += 1
        while self.size_bytes > self.limit_bytes:
            self._entries.pop(0)

    def best(self, prompt: Sequence[int], live: int) -> tuple[int, SavedState | None]:
        """The saved state sharing the longest prefix with ``prompt``, if it beats the
        live cache's ``live`` shared tokens by :data:`MIN_GAIN_TOKENS`; and that length."""
        best_n, best_e = live, None
        for e in self._entries:
            n = common_prefix(e.tokens, prompt)
            if self.whole_only and n < len(e.tokens):
                continue
            if n > best_n:
                best_n, best_e = n, e
        if best_e is None or best_n - live < MIN_GAIN_TOKENS:
            return live, None
        self._entries.remove(best_e)
        self._entries.append(best_e)  # most recently used
        self.hits += 1
        return best_n, best_e
