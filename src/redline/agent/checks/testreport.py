"""Test output as a small model reads it best.

pytest's report is long and noisy for a 0.5B model: it copied the sample's file
unchanged when shown the raw report, and fixed it when the failed assertion was
one sentence. So a failing ``assert call == want`` becomes that sentence, and
otherwise the report is trimmed to its failure sections without plugin warnings.
"""

from __future__ import annotations

import re

TEST_OUTPUT_CAP = 2500

_ASSERT = re.compile(r"^E\s+assert (?P<got>.+?) == (?P<want>.+?)\s*$")
_WHERE = re.compile(r"^E\s+\+\s+where (?P<got>.+?) = (?P<call>.+?)\s*$")


def failure_summary(output: str) -> str | None:
    """A failing ``assert call == want`` as one plain sentence, which a small model
    reads far better than pytest's report: "`f(10)` returns -180.0 but must return
    18.0" (measured: the 0.5B coder model fixes the sample's bug from this, and
    copies the file unchanged from the raw report)."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = _ASSERT.match(line)
        if not m:
            continue
        got, want = m.group("got"), m.group("want")
        for nxt in lines[i + 1 : i + 4]:
            w = _WHERE.match(nxt)
            if w and w.group("got") == got:
                return f"A test fails: `{w.group('call')}` returns {got} but must return {want}."
        return f"A test fails: `assert {got} == {want}`."
    return None


def condense_test_output(output: str, cap: int = TEST_OUTPUT_CAP) -> str:
    """pytest's report without the noise: from the first failure section to the
    summary, minus warnings printed by plugins (a small model reads everything)."""
    lines = output.splitlines()
    start = next(
        (
            i
            for i, ln in enumerate(lines)
            if ln.startswith(("=", "_")) and ("FAILURES" in ln or "ERRORS" in ln)
        ),
        0,
    )
    keep = []
    for ln in lines[start:]:
        if "Warning" in ln or ln.strip().startswith("warnings.warn") or "site-packages" in ln:
            continue
        if ln.startswith("!!!!") or ln.startswith("=") and "warnings summary" in ln:
            continue
        keep.append(ln)
    text = "\n".join(keep).strip()
    return text[-cap:]
