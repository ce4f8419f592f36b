"""The examples a task shows, run against an answer: what static checks cannot see.

A HumanEval prompt's docstring shows calls and their results, as doctests
(``>>> f(1)`` then ``2``) or as prose (``f(1) == 2``, ``f(1) ➞ 2``,
``f(1) => 2``). These are part of the task, not the hidden tests, so the
error-detection loop may run them and feed the first failure back, as a
developer would. Each check runs in the same limited child process as scoring.
"""

from __future__ import annotations

import ast
import doctest
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from redline.bench.sandbox import Limits, run_python_file

_ARROW = re.compile(
    r"^\s*(?P<call>[A-Za-z_]\w*\(.*\))\s*(?:==|➞|=>|->|returns|should return)\s*"
    r"(?P<want>.+?)\s*$"
)


EXAMPLE_FAILS = "the docstring's example fails: "
"""How a failing example is reported (the retry's hint strips it)."""


@dataclass(frozen=True)
class Example:
    call: str
    want: str


def _docstring(prompt: str, entry_point: str) -> str:
    try:
        tree = ast.parse(prompt + "    pass\n")
    except SyntaxError:
        return ""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            return ast.get_docstring(node) or ""
    return ""


def _valid(expr: str) -> bool:
    try:
        ast.parse(expr, mode="eval")
        return True
    except SyntaxError:
        return False


def _doctests(doc: str) -> list[tuple[str, str]]:
    """(call, shown result) pairs; line by line where doctest refuses the docstring
    (HumanEval/51 has a real newline inside one example's string)."""
    try:
        return [
            (e.source.strip(), e.want.strip()) for e in doctest.DocTestParser().get_examples(doc)
        ]
    except ValueError:
        lines = [ln.strip() for ln in doc.splitlines()]
        return [
            (ln[4:], nxt)
            for ln, nxt in zip(lines, [*lines[1:], ""], strict=True)
            if ln.startswith(">>> ") and nxt and not nxt.startswith(">>>")
        ]


def docstring_examples(prompt: str, entry_point: str) -> list[Example]:
    """The calls of ``entry_point`` with shown results in its docstring."""
    doc = _docstring(prompt, entry_point)
    found: list[Example] = []
    for call, want in _doctests(doc):
        if entry_point in call and want and _valid(call) and _valid(want):
            found.append(Example(call, want))
    if found:
        return found
    for line in doc.splitlines():
        m = _ARROW.match(line.strip().rstrip(".,;"))
        if m and entry_point in m.group("call") and _valid(m.group("call")):
            want = m.group("want").rstrip(".,;")
            if _valid(want):
                found.append(Example(m.group("call"), want))
    return found


SAME = """
import math
def _same(got, want):
    if isinstance(got, float) or isinstance(want, float):
        try:
            return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
        except TypeError:
            return False
    return got == want
"""
"""How a child process compares a result with the example's (floats to 1e-6): every
script that runs examples starts with it."""

_RUNNER = (
    SAME
    + """
for _call, _want in {cases!r}:
    try:
        _got = eval(_call)
    except Exception as _exc:
        print(f"{{_call}} raised {{type(_exc).__name__}}: {{_exc}}; expected {{_want}}")
        raise SystemExit(1)
    if not _same(_got, eval(_want)):
        print(f"{{_call}} returned {{_got!r}}; expected {{_want}}")
        raise SystemExit(1)
"""
)


def first_failure(
    program: str, examples: list[Example], limits: Limits | None = None
) -> str | None:
    """The first example the program gets wrong, as one line (None: all pass)."""
    if not examples:
        return None
    cases = [(e.call, e.want) for e in examples]
    script = program + "\n\n" + _RUNNER.format(cases=cases)
    with tempfile.TemporaryDirectory(prefix="redline-he-ex-") as tmp:
        path = Path(tmp) / "examples_check.py"
        path.write_text(script, encoding="utf-8")
        outcome = run_python_file(path, limits=limits or Limits(timeout_s=10.0))
    if outcome.passed:
        return None
    lines = [ln for ln in outcome.output.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else outcome.reason)[:400]
