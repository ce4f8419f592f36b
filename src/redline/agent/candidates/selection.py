"""Choosing among checked candidates: pure functions over what each check found.

The order of evidence (CodeT's and AlphaCode's filtering, in small): a candidate
that passes more of the check beats one that passes less, whatever the others
agree on (a test outranks a vote); among equals, the one whose result more
candidates reached independently (same resulting code, same test outcome) is
likelier right than a lone one; then the smallest change, which breaks least of
what nobody checked; then the earliest (the greedy reply is candidate 0).

Nothing here runs code or touches files, so every rule is pinned by unit tests
in ``tests/agent/test_candidates_selection.py``.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections import Counter
from dataclasses import dataclass, field

_COUNTS = re.compile(r"(\d+) (passed|failed|errors?|xfailed|xpassed)\b")


@dataclass
class Outcome:
    """What checking one candidate found (``index``: its place among the candidates)."""

    index: int
    files: dict[str, str]
    """The candidate's resulting text of each file it changes."""
    original: dict[str, str | None]
    """The same files before any candidate (None: the file is new)."""
    applied: bool = True
    """False when the reply could not be read into edits (malformed, cut, refused)."""
    static_errors: int = 0
    tests_run: bool = False
    tests_passed: int = 0
    tests_failed: int = 0
    passed: bool = False
    """Every check that ran passed (static and tests)."""
    report: str = ""
    """The failure as the model reads it (the next round's feedback)."""
    seconds: float = 0.0
    parent: int | None = None
    """The candidate this one repairs (None in the first round)."""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def signature(self) -> tuple[int, int, bool]:
        """The test outcome, for agreement: the same counts and verdict."""
        return (self.tests_passed, self.tests_failed, self.passed)


def count_results(output: str) -> tuple[int, int]:
    """(passed, failed + errors) from a pytest summary line; (0, 0) if none is found."""
    passed = failed = 0
    for number, word in _COUNTS.findall(output):
        if word == "passed":
            passed += int(number)
        elif word in ("failed", "error", "errors"):
            failed += int(number)
    return passed, failed


def code_key(files: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The candidate's code up to formatting and comments: Python files compare as
    their syntax trees, others by their stripped lines. Two samples rarely agree
    byte for byte; they often agree on the program."""
    out = []
    for path, text in sorted(files.items()):
        norm = None
        if path.endswith(".py"):
            try:
                norm = ast.dump(ast.parse(text))
            except (SyntaxError, ValueError):
                norm = None
        if norm is None:
            norm = "\n".join(ln.rstrip() for ln in text.strip().splitlines())
        out.append((path, norm))
    return tuple(out)


def change_size(outcome: Outcome) -> int:
    """Lines added plus lines removed against the original files."""
    size = 0
    for path, new in outcome.files.items():
        old = outcome.original.get(path) or ""
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0):
            if line[:1] in "+-" and not line.startswith(("+++", "---")):
                size += 1
    return size


def merit(o: Outcome) -> tuple[int, int, int, int]:
    """How much of the check a candidate passes: applied, no static errors, all tests
    passed, then the number of tests passed (fewer failures breaking a tie)."""
    return (int(o.applied), int(o.applied and o.static_errors == 0), int(o.passed), o.tests_passed)


def agreement(outcomes: list[Outcome]) -> dict[int, int]:
    """For each candidate, how many candidates (itself included) reached the same code,
    plus how many reached the same test outcome (weighted lower: equal counts of
    passing tests say less than equal programs)."""
    usable = [o for o in outcomes if o.applied]
    codes = Counter(code_key(o.files) for o in usable)
    sigs = Counter(o.signature for o in usable if o.tests_run)
    out = {}
    for o in outcomes:
        if not o.applied:
            out[o.index] = 0
            continue
        same_code = codes[code_key(o.files)]
        same_tests = sigs[o.signature] if o.tests_run else 0
        out[o.index] = same_code * 100 + same_tests
    return out


@dataclass
class Choice:
    """The candidate kept (None: none is usable) and why, in words for the events."""

    kept: Outcome | None
    reason: str
    ranking: list[int]
    """Candidate indices, best first."""


def choose(outcomes: list[Outcome], *, require_pass: bool) -> Choice:
    """The best candidate by merit, then agreement, then smallest change, then index.

    ``require_pass``: the task has a check, so a candidate that fails it is never
    kept (the failing-everywhere task applies nothing). Without a check the best
    that applies and has no static errors is kept: the vote.
    """
    if not outcomes:
        return Choice(None, "no candidates", [])
    agree = agreement(outcomes)
    size = {o.index: change_size(o) for o in outcomes}

    def rank(o: Outcome) -> tuple:
        return (*merit(o), agree[o.index], -size[o.index], -o.index)

    ordered = sorted(outcomes, key=rank, reverse=True)
    best = ordered[0]
    ranking = [o.index for o in ordered]
    if not best.applied or best.static_errors or (require_pass and not best.passed):
        return Choice(None, _none_reason(outcomes, require_pass), ranking)
    return Choice(best, _why(best, ordered, agree, size, require_pass), ranking)


def _none_reason(outcomes: list[Outcome], require_pass: bool) -> str:
    unread = sum(not o.applied for o in outcomes)
    static = sum(o.applied and o.static_errors > 0 for o in outcomes)
    failing = sum(o.applied and not o.static_errors and not o.passed for o in outcomes)
    parts = []
    if unread:
        parts.append(f"{unread} could not be applied")
    if static:
        parts.append(f"{static} had static errors")
    if failing and require_pass:
        parts.append(f"{failing} failed the tests")
    return f"none of {len(outcomes)} candidates passed the checks ({', '.join(parts)})"


def _why(
    best: Outcome,
    ordered: list[Outcome],
    agree: dict[int, int],
    size: dict[int, int],
    require_pass: bool,
) -> str:
    """The deciding rule: the first one on which the runner-up loses."""
    head = "passed the tests" if best.passed and best.tests_run else "passed the static checks"
    if not require_pass and not best.tests_run:
        head = "no tests to run; kept by vote"
    same = agree[best.index] // 100
    key = code_key(best.files)
    rivals = [o for o in ordered[1:] if merit(o) == merit(best) and code_key(o.files) != key]
    agreed = f"{same} of {len(ordered)} candidates reached the same code"
    if not rivals:
        if same > 1:
            return f"{head}; {agreed}"
        better = sum(merit(o) < merit(best) for o in ordered[1:])
        return f"{head}; the only one of its rank ({better} ranked below)"
    runner = rivals[0]
    if agree[runner.index] < agree[best.index]:
        return f"{head}; {agreed}"
    if size[runner.index] > size[best.index]:
        return f"{head}; tied on agreement, the smallest change ({size[best.index]} lines)"
    return f"{head}; tied with candidate {runner.index}, kept the earlier"
