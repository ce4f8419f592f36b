"""``bench edit``'s "carried out": the asked change, and nothing else lost (no model)."""

from __future__ import annotations

from redline.bench.edit import load_cases


def case(case_id: str):
    return next(c for c in load_cases() if c.id == case_id)


def test_a_rename_must_reach_every_use() -> None:
    c = case("rename-symbol")
    old = c.source()
    assert c.applied(old.replace("_v(", "_hue_to_value("))
    assert not c.applied(old.replace("def _v(", "def _hue_to_value("))  # the calls still use _v


def test_an_added_import_must_not_replace_the_old_one() -> None:
    c = case("add-import")
    old = c.source()
    assert c.applied(old.replace("import stat\n", "import stat\nimport sys\n"))
    assert not c.applied(old.replace("import stat\n", "import sys\n"))


def test_nothing_beside_the_change_may_be_dropped() -> None:
    c = case("add-parameter")
    old = c.source()
    done = old.replace(
        "def run(self, blocking=True):", "def run(self, blocking=True, max_events=None):"
    )
    assert c.applied(done)
    start = done.index("    @property")
    assert not c.applied(done[:start].rstrip() + "\n")  # the queue property dropped


def test_a_deleted_method_may_take_its_own_lines() -> None:
    c = case("delete-block")
    old = c.source()
    start = old.index("    def isatty(self):")
    end = old.index("    def seek(")
    assert c.applied(old[:start] + old[end:])


def test_an_unchanged_file_carries_out_nothing() -> None:
    for c in load_cases():
        if c.expect or c.absent:
            assert not c.applied(c.source()), c.id  # an unchanged file carries out nothing


def test_the_held_out_cases_are_other_tasks_and_check_their_change() -> None:
    more = load_cases(cases="more")
    assert len(more) == 8 and not {c.id for c in more} & {c.id for c in load_cases()}
    assert not {c.instruction for c in more} & {c.instruction for c in load_cases()}
    for c in more:
        assert not c.applied(c.source()), c.id  # each asks for a change
    rename = next(c for c in more if c.id == "rename-method")
    assert rename.applied(rename.source().replace("_repr_iterable", "_repr_items"))
    half = rename.source().replace("def _repr_iterable", "def _repr_items")
    assert not rename.applied(half)


def test_gap_drift_skips_a_prediction_shorter_than_its_window(smollm2_engine) -> None:
    """A block of imports is a 20-token prediction: no 32-row window fits in it."""
    from redline.bench.edit import measure_gap_drift

    more = {c.id: c for c in load_cases(cases="more")}
    drift = measure_gap_drift(smollm2_engine, [more["add-import-line"], more["change-default"]])
    assert drift["rows"] == 2 * 32  # change-default's two windows; the imports' none
    assert 0 <= drift["p99"] <= drift["max"]
