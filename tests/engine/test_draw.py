"""The numpy draw batched sequences sample with: the rule it follows, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from redline.engine.sampling import Draw


def expected(logits: np.ndarray, temperature: float, top_p: float) -> np.ndarray:
    """Top-p on the model's probabilities, then temperature (llama.cpp's chain order)."""
    p = np.exp(logits - logits.max())
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    cut = int(np.searchsorted(np.cumsum(p[order]), top_p)) + 1
    keep = order[:cut]
    q = np.zeros(len(logits))
    q[keep] = np.exp((logits[keep] - logits.max()) / temperature)
    return q / q.sum()


@pytest.mark.parametrize("top_p", [1.0, 0.9, 0.5])
def test_draws_follow_top_p_then_temperature(top_p: float):
    # a vocabulary that is no multiple of the draw's block, its likeliest tokens in
    # two blocks, the rest a long flat tail
    rng = np.random.default_rng(0)
    logits = rng.normal(-4.0, 1.0, 2500).astype(np.float32)
    logits[[3, 1500, 2499, 7]] = [3.0, 2.5, 2.0, 1.0]
    draw = Draw(0.7, top_p, seed=1)
    n = 40_000
    got = np.bincount([draw(logits) for _ in range(n)], minlength=len(logits)) / n
    want = expected(logits, 0.7, top_p)
    assert got[want == 0].sum() == 0  # nothing outside the nucleus
    assert np.abs(got - want).max() < 4 * np.sqrt(want.max() / n) + 1e-9
    assert abs(got[2499] - want[2499]) < 0.01  # the last token is drawn too


def test_a_seed_repeats_its_draws_and_seeds_differ():
    logits = np.random.default_rng(2).normal(0, 2, 151_936).astype(np.float32)
    for top_p in (1.0, 0.95):
        a, again, b = (Draw(1.0, top_p, seed=s) for s in (5, 5, 6))
        seq_a = [a(logits) for _ in range(20)]
        assert seq_a == [again(logits) for _ in range(20)]
        assert seq_a != [b(logits) for _ in range(20)]
        assert all(0 <= t < len(logits) for t in seq_a)


def test_a_peaked_row_draws_its_token_at_a_low_temperature():
    logits = np.full(1000, -10.0, dtype=np.float32)
    logits[999] = 0.0
    draw = Draw(0.01, 1.0, seed=0)
    assert {draw(logits) for _ in range(200)} == {999}
