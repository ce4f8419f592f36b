"""The drafters alone: re-synchronising with a prediction after edits."""

from __future__ import annotations

from redline.engine.drafts import AdaptiveK, NgramDrafter, PredictionDrafter, SpeedGate


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


def test_speed_gate_pauses_drafting_that_loses_and_probes_again() -> None:
    gate = SpeedGate(pause=4, max_pause=16)
    gate.spec_step(3, 0.03)  # 100 tok/s, nothing to compare with yet
    assert gate.allow()
    for _ in range(3):
        gate.plain_step(0.01)  # plain: 100 tok/s
    gate.spec_step(1, 0.02)  # drafting now yields 50 tok/s on average... below plain
    assert gate.spec < gate.plain and not gate.allow()
    for _ in range(4):
        assert not gate.allow()
        gate.plain_step(0.01)
    assert gate.allow()  # the probe
    gate.spec_step(1, 0.02)  # still losing: a longer pause
    assert gate.left == 8
    for _ in range(8):
        gate.plain_step(0.01)
    gate.spec_step(6, 0.02)  # 300 tok/s: drafting pays again
    assert gate.allow() and gate.pause == 4


def test_speed_gate_never_pauses_drafting_that_pays() -> None:
    gate = SpeedGate()
    gate.plain_step(0.01)
    for _ in range(50):
        gate.spec_step(4, 0.02)  # 200 tok/s vs 100
        assert gate.allow()


def test_a_speed_gate_with_no_pause_always_drafts() -> None:
    """``gate_pause = 0`` in a profile: no gate (drafting is never paused)."""
    gate = SpeedGate(pause=0)
    gate.plain_step(0.01)  # 100 tok/s plain
    for _ in range(5):
        gate.spec_step(1, 0.1)  # 10 tok/s drafting: losing
        assert gate.allow()


def test_prediction_resync_ignores_tokens_agreed_before_the_change() -> None:
    # The model writes 8 then 9 where the prediction has 8 then 1: the pair (8, 9)
    # also stands later in the prediction, but the 8 was agreed text, not evidence.
    pred = [7, 8, 1, 2, 3, 4, 8, 9, 5]
    d = PredictionDrafter(pred)
    for t in [7, 8, 9]:
        d.observe(t)
    assert d.draft(2) == []
    for t in [2, 3]:  # two written tokens that stand together: back in sync
        d.observe(t)
    assert d.draft(2) == [4, 8]


def test_prediction_short_matches_only_move_the_cursor_nearby() -> None:
    far = list(range(100, 140))  # 40 tokens between the change and a repeated pair
    pred = [1, 2, 3, *far, 50, 51, 52, 53, 60]
    d = PredictionDrafter(pred)
    for t in [1, 2, 9, 50, 51]:  # a change, then a pair that stands 40 tokens on
        d.observe(t)
    assert d.draft(2) == []
    d = PredictionDrafter(pred)
    for t in [1, 2, 9, 50, 51, 52, 53]:  # three written tokens: a 40-token jump is believed
        d.observe(t)
    assert d.draft(1) == [60]


def test_gate_warmup_waits_for_a_second_verify_step() -> None:
    gate = SpeedGate(pause=4, warmup=2)
    gate.plain_step(0.02)  # 50 tok/s plain
    gate.spec_step(1, 0.05)  # one slow verify (a changed line): not yet judged
    assert gate.allow()
    gate.spec_step(1, 0.05)  # still slow on the second: drafting pauses
    assert not gate.allow()
