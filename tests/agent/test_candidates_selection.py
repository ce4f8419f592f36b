"""Choosing among checked candidates: the ranking rules, one by one (pure functions)."""

from __future__ import annotations

from redline.agent.candidates.selection import (
    Outcome,
    change_size,
    choose,
    code_key,
    count_results,
)

OLD = "def f(x):\n    return x * 10\n"


def cand(index: int, new: str, *, passed: int = 0, failed: int = 0, **kw) -> Outcome:
    tests_run = kw.pop("tests_run", True)
    ok = kw.pop("ok", None)
    o = Outcome(index, {"m.py": new}, {"m.py": OLD}, tests_run=tests_run, **kw)
    o.tests_passed, o.tests_failed = passed, failed
    o.passed = (failed == 0 and not o.static_errors) if ok is None else ok
    return o


def test_counts_read_pytest_summaries():
    assert count_results("3 passed in 0.01s") == (3, 0)
    assert count_results("1 failed, 2 passed, 1 error in 0.2s") == (2, 2)
    assert count_results("=== 2 errors in 0.1s ===") == (0, 2)
    assert count_results("no summary here") == (0, 0)


def test_the_passing_candidate_beats_more_agreed_on_failing_ones():
    wrong = "def f(x):\n    return x * 100\n"
    outcomes = [
        cand(0, wrong, passed=1, failed=1),
        cand(1, wrong, passed=1, failed=1),
        cand(2, wrong, passed=1, failed=1),
        cand(3, "def f(x):\n    return x * 10 // 1\n", passed=2),
    ]
    choice = choose(outcomes, require_pass=True)
    assert choice.kept is outcomes[3]
    assert choice.ranking[0] == 3
    assert "only one of its rank" in choice.reason


def test_more_tests_passed_ranks_higher_among_failures():
    outcomes = [cand(0, "a = 1\n", passed=1, failed=3), cand(1, "a = 2\n", passed=3, failed=1)]
    choice = choose(outcomes, require_pass=True)
    assert choice.kept is None  # a check exists and nothing passes it: nothing is kept
    assert choice.ranking == [1, 0]
    assert choice.reason.startswith("none of 2 candidates passed") and "2 failed" in choice.reason


def test_ties_go_to_agreement_before_size():
    big = "def f(x):\n    y = x\n    return y * 10 + 0\n"
    # the same program as `big`, formatted differently and commented: they agree
    big_again = "def f(x):\n    y = x  # copy\n\n    return y*10 + 0\n"
    small = "def f(x):\n    return 10 * x\n"
    outcomes = [cand(0, small, passed=2), cand(1, big, passed=2), cand(2, big_again, passed=2)]
    assert code_key(outcomes[1].files) == code_key(outcomes[2].files)
    choice = choose(outcomes, require_pass=True)
    assert choice.kept is outcomes[1]
    assert "2 of 3 candidates reached the same code" in choice.reason


def test_without_agreement_the_smallest_change_wins():
    outcomes = [
        cand(0, "def f(x):\n    z = 10\n    w = z\n    return x * w\n", passed=2),
        cand(1, "def f(x):\n    return x * 10.0\n", passed=2),
    ]
    assert change_size(outcomes[1]) < change_size(outcomes[0])
    choice = choose(outcomes, require_pass=True)
    assert choice.kept is outcomes[1]
    assert "smallest change" in choice.reason


def test_full_ties_keep_the_earliest():
    same = [cand(i, "def f(x):\n    return x * 11\n", passed=1) for i in range(2)]
    same[1].files = {"m.py": "def f(x):\n    return x * 12\n"}
    choice = choose(same, require_pass=True)
    assert choice.kept is same[0] and "kept the earlier" in choice.reason


def test_without_a_check_the_candidates_vote_and_static_errors_are_out():
    a = "def f(x):\n    return x * 3\n"
    b = "def f(x):\n    return x+x+x\n"
    outcomes = [
        cand(0, b, tests_run=False),
        cand(1, a, tests_run=False),
        cand(2, "def f(x):\n    return x *   3\n", tests_run=False),
        cand(3, "def f(x):\n    return y\n", tests_run=False, static_errors=1),
        cand(4, "def f(x):\n    return y\n", tests_run=False, static_errors=1),
        cand(5, "def f(x):\n    return y\n", tests_run=False, static_errors=1),
    ]
    choice = choose(outcomes, require_pass=False)
    assert choice.kept is outcomes[1]  # two agree on x * 3; three agree on an error
    assert "kept by vote" in choice.reason


def test_unusable_replies_are_never_kept():
    o = cand(0, "x = 1\n", tests_run=False)
    o.applied = False
    choice = choose([o], require_pass=False)
    assert choice.kept is None and "1 could not be applied" in choice.reason
