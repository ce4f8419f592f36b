"""Failing test output turned into what a small model reads."""

from __future__ import annotations

from redline.agent.checks.testreport import condense_test_output, failure_summary

REPORT = """...F
=================================== FAILURES ===================================
________________________ test_discount_is_a_percentage _________________________

    def test_discount_is_a_percentage():
>       assert order_total([(10.0, 2)], discount_percent=10) == 18.0
E       assert -180.0 == 18.0
E        +  where -180.0 = order_total([(10.0, 2)], discount_percent=10)

tests/test_pricing.py:20: AssertionError
=========================== short test summary info ============================
FAILED tests/test_pricing.py::test_discount_is_a_percentage - assert -180.0 =...
!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
1 failed, 3 passed in 0.04s
/venv/lib/python3.11/site-packages/pytest_asyncio/plugin.py:306: PytestDeprecationWarning: x
  warnings.warn(PytestDeprecationWarning(_DEFAULT_FIXTURE_LOOP_SCOPE_UNSET))
"""


def test_an_equality_assert_becomes_one_sentence():
    assert failure_summary(REPORT) == (
        "A test fails: `order_total([(10.0, 2)], discount_percent=10)` "
        "returns -180.0 but must return 18.0."
    )


def test_other_failures_have_no_sentence_and_keep_their_report():
    report = REPORT.replace("E       assert -180.0 == 18.0", "E       ValueError: boom")
    assert failure_summary(report) is None
    condensed = condense_test_output(report)
    assert condensed.startswith("=") and "FAILURES" in condensed.splitlines()[0]
    assert "ValueError: boom" in condensed
    assert "Warning" not in condensed and "stopping after" not in condensed
