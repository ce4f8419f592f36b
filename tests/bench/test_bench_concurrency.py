"""`redline bench serve --concurrency`: how the figures are computed from streamed turns."""

from __future__ import annotations

from redline.bench.serve_client import Turn
from redline.bench.serve_concurrency import _aggregate, _p95
from redline.engine.engine import Engine


def _turn(start: float, ttft: float, last: float, text: str) -> Turn:
    first = start + ttft
    return Turn(ttft, last - start, text, first, last)


def test_aggregate_decode_counts_tokens_after_the_first_over_the_decode_window(
    smollm2_engine: Engine,
) -> None:
    text = "one two three four five six seven"
    n = len(smollm2_engine.tokenize(text))
    # two streams: sent at t=0, first tokens at 1.0 and 2.0, last tokens at 3.0 and 5.0
    turns = [_turn(0.0, 1.0, 3.0, text), _turn(0.0, 2.0, 5.0, text)]
    agg = _aggregate(smollm2_engine, turns)
    assert agg["decode_tok_s"] == round(2 * (n - 1) / 4.0, 1)  # window 1.0 .. 5.0
    assert agg["e2e_tok_s"] == round(2 * n / 5.0, 1)  # sent at 0, done at 5.0
    assert agg["tokens"] == 2 * n and agg["ttft_ms_median"] == 1500.0


def test_p95_is_the_upper_tail_not_the_maximum_of_many() -> None:
    assert _p95([1.0]) == 1.0
    assert _p95([float(i) for i in range(1, 21)]) == 19.0
    assert _p95([3.0, 1.0, 2.0]) == 3.0
