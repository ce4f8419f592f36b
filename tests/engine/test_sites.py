"""Where drafts stop: the lines a rewrite request names (no model needed)."""

from __future__ import annotations

from redline.engine.drafts import PredictionDrafter
from redline.engine.engine import tile_draft
from redline.engine.sites import draft_stops, hot_lines, request_words

CODE = """def _v(a):
    return a


def rgb(x):
    total = 0
    return _v(x)
"""


def ask(text: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": "an earlier turn about helper_x"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": text},
    ]


def test_request_words_are_the_last_user_turns_names_outside_code() -> None:
    words = request_words(
        ask(f"colors.py\n```python\n{CODE}```\nTask: rename the helper _v to _value everywhere"),
        CODE,
    )
    assert {"_v", "_value", "helper", "colors"} <= words
    assert not words & {"rename", "the", "to", "everywhere", "Task", "total", "helper_x"}


def test_quoted_prose_is_new_text_but_a_quoted_name_is_a_place() -> None:
    words = request_words(
        ask('add the docstring """Compute the mean value.""" to rgb; don\'t rename "total"'), CODE
    )
    assert {"rgb", "total", "docstring"} <= words
    assert not words & {"Compute", "mean"}


def test_hot_lines_are_the_named_lines_and_the_next() -> None:
    assert hot_lines(CODE, {"_v"}) == {0, 1, 6, 7}
    assert hot_lines(CODE, {"rgb"}) == {4, 5}
    assert hot_lines(CODE, {"v", "_value"}) == set()  # whole names only, and present ones


def test_a_word_on_most_lines_locates_nothing() -> None:
    text = "".join(f"x{i} = self.a\n" for i in range(12))
    assert hot_lines(text, {"self"}) == set()
    assert hot_lines(text, {"x3"}) == {3, 4}


def test_draft_stops_before_a_named_line_and_after_its_run() -> None:
    long = [" x"] * 30 + ["\n"]  # line 0: 31 tokens
    pieces = [*long, "b", " =", " 2\n", "c", "\n", "d", "\n"]
    stops = draft_stops(pieces, {1, 2})  # lines "b = 2" and "c" are hot
    assert stops is not None
    assert stops[0] == 31  # far from line 1: the draft stops at its first token
    assert stops[31] == 36 and stops[34] == 36  # lines 1-2 are drafted as one piece
    assert stops[36] == len(pieces)  # after the last hot line: no stop
    assert stops[10] == 36  # within MERGE tokens of line 1: on through it
    assert draft_stops(pieces, set()) is None


def test_prediction_drafts_end_at_the_stops() -> None:
    d = PredictionDrafter(list(range(10)), stops=[4, 4, 4, 4, 7, 7, 7, 10, 10, 10])
    assert d.draft(8) == [0, 1, 2, 3]
    for t in [0, 1, 2, 3]:
        d.observe(t)
    assert d.draft(8) == [4, 5, 6]
    assert d.draft(2) == [4, 5]  # k still bounds it


def test_tile_draft_keeps_whole_tiles_of_rows() -> None:
    assert tile_draft(list(range(64))) == list(range(63))  # 64 rows, not 65
    assert tile_draft(list(range(10))) == list(range(7))  # 8 rows
    assert tile_draft([1, 2, 3]) == [1, 2, 3]  # exactly one tile
    assert tile_draft([1, 2]) == []  # under one tile: decode one token instead


def test_a_long_run_of_named_lines_is_drafted_two_lines_at_a_time() -> None:
    pieces = ["a\n", "b\n", "c\n", "d\n", "e\n"]
    stops = draft_stops(pieces, {0, 1, 2, 3})
    assert stops == [2, 3, 4, 4, 5]
