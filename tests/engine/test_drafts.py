"""The drafters alone: re-synchronising with a prediction after edits."""

from __future__ import annotations

from redline.engine.drafts import AdaptiveK, NgramDrafter, PredictionDrafter


def feed(d: PredictionDrafter | NgramDrafter, tokens: list[int]) -> None:
    for t in tokens:
        d.observe(t)


def test_prediction_follows_common_prefix() -> None:
    d = PredictionDrafter([1, 2, 3, 4, 5, 6])
    assert d.draft(3) == [1, 2, 3]
    feed(d, [1, 2])
    assert d.draft(3) == [3, 4, 5]


def test_prediction_resyncs_after_insertion() -> None:
    pred = [10, 11, 12, 13, 14, 15, 16, 17]
    d = PredictionDrafter(pred)
    # output: 10 11 12 | 99 98 (inserted) | 13 14 ...
    feed(d, [10, 11, 12, 99, 98])
    assert d.draft(2) == []  # nothing known follows the inserted text
    feed(d, [12, 13])  # the model repeats context and rejoins the prediction
    assert d.draft(3) == [14, 15, 16]


def test_prediction_resyncs_after_deletion() -> None:
    pred = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    d = PredictionDrafter(pred)
    feed(d, [1, 2, 3])
    feed(d, [6, 7])  # 4 and 5 were deleted
    assert d.draft(2) == [8, 9]


def test_prediction_prefers_occurrence_after_cursor() -> None:
    pred = [5, 6, 1, 5, 6, 2, 5, 6, 3]
    d = PredictionDrafter(pred)
    feed(d, [5, 6, 1, 5, 6, 2])
    feed(d, [7, 5, 6])  # an inserted 7, then the repeated pair: the later copy
    assert d.draft(1) == [3]


def test_ngram_drafts_from_earlier_context() -> None:
    d = NgramDrafter([1, 2, 3, 4, 9, 9, 1, 2])
    assert d.draft(2) == [3, 4]
    assert NgramDrafter([1, 2, 3]).draft(4) == []


def test_adaptive_k_grows_and_shrinks() -> None:
    k = AdaptiveK(start=4, lo=2, hi=16)
    k.update(4, 4)
    assert k.k == 8
    k.update(8, 8)
    k.update(16, 16)
    assert k.k == 16
    k.update(16, 3)
    assert k.k == 5
    k.update(5, 0)
    assert k.k == 2
