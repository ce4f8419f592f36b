"""Greedy verification of drafts: which rows of a verify batch are trusted."""

from __future__ import annotations

import numpy as np

from redline.engine.engine import verify_draft


def _rows(*winners: tuple[int, float]) -> np.ndarray:
    """One logits row per (argmax token, lead over the runner-up)."""
    rows = np.zeros((len(winners), 8), dtype=np.float32)
    for i, (token, lead) in enumerate(winners):
        rows[i, token] = 10.0
        rows[i, (token + 1) % 8] = 10.0 - lead
    return rows


def test_accepts_the_matching_prefix_and_gives_the_models_token() -> None:
    rows = _rows((3, 5.0), (4, 5.0), (1, 5.0), (6, 5.0))
    assert verify_draft(rows, [3, 4, 2], margin=1.0) == (2, 1)
    rows = _rows((3, 5.0), (4, 5.0), (1, 5.0), (6, 5.0))
    assert verify_draft(rows, [3, 4, 1], margin=1.0) == (3, 6)


def test_a_near_tie_row_is_not_trusted_even_the_first() -> None:
    # The first row of a batch is computed by other kernels than one-token
    # decoding too (logits here differ by ~0.2), so its tie goes back to the caller.
    assert verify_draft(_rows((3, 0.2), (4, 5.0)), [3], margin=1.0) == (0, None)
    assert verify_draft(_rows((3, 5.0), (4, 0.5), (5, 5.0)), [3, 4], margin=1.0) == (1, None)
    # a clear lead is trusted whatever row it is in
    assert verify_draft(_rows((3, 5.0), (4, 1.5), (5, 5.0)), [3, 4], margin=1.0) == (2, 5)
