"""Checks written in the task itself: the failing assertions it quotes, its examples.

A task often carries its own check even when no test file is at hand: the test
output pasted into it ("The unit tests failed with this output: ... >
self.assertEqual(decode(...), 'anobstacle...')") or doctest-style examples
(``>>> f(2)`` then ``4``). Each becomes one plain ``assert`` that is run
against a candidate's files in its scratch copy, inside the sandbox: a
candidate that satisfies the quoted failure is likelier right than one that
does not (CodeT's and AlphaCode's filtering by the examples given).

Only what parses as Python is used; anything unclear is left out, never guessed.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap

from redline.agent.environment.sandbox import Sandbox

_FAIL_LINE = re.compile(r"^>\s+\S")
_UNITTEST = {
    "assertEqual": ast.Eq,
    "assertEquals": ast.Eq,
    "assertNotEqual": ast.NotEq,
    "assertIs": ast.Is,
    "assertIsNot": ast.IsNot,
    "assertIn": ast.In,
    "assertNotIn": ast.NotIn,
}
_MAX_EXAMPLES = 20
_CARETS = re.compile(r"^\s+\^+\s*$")
_LOOK_BACK = 6
"""Lines above a ``>`` mark tried as its statement's start."""
_SETUP_LINES = 40
"""Lines above a failing statement searched for its test's ``def`` line."""


def task_examples(task: str) -> list[str]:
    """Assertions from ``task``: failing test lines it quotes, then ``>>>`` examples."""
    found = [*_quoted_failures(task), *_doctests(task)]
    return list(dict.fromkeys(found))[:_MAX_EXAMPLES]


def _quoted_failures(text: str) -> list[str]:
    """pytest marks the failing line with ``>``; its continuation lines follow,
    indented, until the ``E`` lines. Each statement becomes an ``assert``.

    On Python 3.11+ the mark sits on the line that raised, which inside a call
    spread over lines (``self.assertEqual(`` / ``>  decode(...),`` / ``"x",``)
    is not the statement's first line: the lines above the mark are tried as
    its start, nearest first, and the ``^^^`` lines under it are skipped.
    The test's own plain assignments above it come with it when the assertion
    reads them (``input_data = ["nail"]``): without them it could only fail.
    """
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        if not _FAIL_LINE.match(line):
            continue
        after = []
        for nxt in lines[i + 1 :]:
            if _CARETS.match(nxt):
                continue
            if not nxt.strip() or nxt.startswith(("E ", ">")) or not nxt.startswith("    "):
                break
            after.append(nxt)
        for start in range(i, max(-1, i - _LOOK_BACK - 1), -1):
            before = lines[start:i]
            if any(not ln.startswith("    ") or _FAIL_LINE.match(ln) for ln in before):
                break  # left the quoted source
            block = [*before, " " + line[1:], *after]
            stmt = _as_assert(textwrap.dedent("\n".join(block)))
            if stmt:
                example = _with_setup(lines, start, stmt)
                if example:
                    out.append(example)
                break
    return out


def _with_setup(lines: list[str], start: int, stmt: str) -> str | None:
    """``stmt`` after the quoted test body above line ``start`` (from its ``def``
    line) when that body only assigns plain values; None when the assertion reads
    a variable the body built some other way (called methods on it, appended to
    it): that state cannot be rebuilt here, and the assertion alone could only fail."""
    body: list[str] = []
    for ln in reversed(lines[max(0, start - _SETUP_LINES) : start]):
        if not ln.startswith("    ") or _FAIL_LINE.match(ln):
            return stmt
        if ln.strip().startswith("def "):
            break
        body.insert(0, ln)
    else:
        return stmt  # no test header in sight: not a quoted test body
    try:
        tree = ast.parse(textwrap.dedent("\n".join(body)))
    except SyntaxError:
        return stmt
    used = {n.id for n in ast.walk(ast.parse(stmt)) if isinstance(n, ast.Name)}
    assigned = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    if not used & assigned:
        return stmt
    plain = all(
        isinstance(node, ast.Assign)
        and all(isinstance(t, ast.Name) for t in node.targets)
        and not any(isinstance(n, ast.Name) and n.id == "self" for n in ast.walk(node.value))
        for node in tree.body
    )
    return "\n".join([*(ast.unparse(n) for n in tree.body), stmt]) if plain else None


def _as_assert(source: str) -> str | None:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    if isinstance(node, ast.Assert):
        return ast.unparse(node)
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return None
    call = node.value
    name = call.func.attr if isinstance(call.func, ast.Attribute) else ""
    if name in _UNITTEST and len(call.args) >= 2:
        test: ast.expr = ast.Compare(call.args[0], [_UNITTEST[name]()], [call.args[1]])
    elif name == "assertTrue" and call.args:
        test = call.args[0]
    elif name == "assertFalse" and call.args:
        test = ast.UnaryOp(ast.Not(), call.args[0])
    else:
        return None
    return ast.unparse(ast.fix_missing_locations(ast.Assert(test)))


def _doctests(text: str) -> list[str]:
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines[:-1]):
        stripped = line.strip()
        if not stripped.startswith(">>> "):
            continue
        want = lines[i + 1].strip()
        if not want or want.startswith((">>>", "...")):
            continue
        expr = stripped[4:]
        try:
            ast.parse(expr, mode="eval")
            ast.parse(want, mode="eval")
        except SyntaxError:
            continue
        out.append(f"assert ({expr}) == ({want})")
    return out


_RUNNER = """
import json, sys
for _m in json.loads(sys.argv[1]):
    try:
        exec("from %s import *" % _m)
    except Exception as _e:
        print("IMPORT", _m, type(_e).__name__, _e)
for _i, _src in enumerate(json.loads(sys.argv[2])):
    try:
        exec(_src)
        print("PASS", _i)
    except BaseException as _e:
        print("FAIL", _i, type(_e).__name__ + ":", str(_e)[:300])
"""


def module_names(paths: list[str]) -> list[str]:
    """Dotted module names for the Python files among ``paths``."""
    out = []
    for p in paths:
        if p.endswith(".py") and not p.endswith("__init__.py"):
            out.append(p[:-3].replace("/", ".").removeprefix("src."))
    return out


def run_examples(
    root: str, modules: list[str], examples: list[str], sandbox: Sandbox, timeout: float
) -> tuple[int, int, str]:
    """(passed, failed, report) of ``examples`` run in ``root`` after importing
    ``modules``' names, in ``sandbox``. A crash or timeout fails them all."""
    argv = [sys.executable, "-c", _RUNNER, json.dumps(modules), json.dumps(examples)]
    try:
        with sandbox.command(argv, {"PYTHONDONTWRITEBYTECODE": "1"}) as (cmd, env):
            proc = subprocess.run(
                cmd, cwd=root, env=env, capture_output=True, timeout=timeout, text=True
            )
        output = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        return 0, len(examples), f"The task's examples timed out after {timeout:.0f}s."
    except OSError as exc:
        return 0, len(examples), f"The task's examples could not run: {exc}"
    passed = sum(line.startswith("PASS ") for line in output.splitlines())
    failures = [ln for ln in output.splitlines() if ln.startswith(("FAIL ", "IMPORT "))]
    report = []
    for line in failures[:5]:
        parts = line.split(" ", 2)
        if parts[0] == "FAIL" and parts[1].isdigit() and int(parts[1]) < len(examples):
            report.append(
                f"`{examples[int(parts[1])]}` fails: {parts[2] if len(parts) > 2 else ''}"
            )
        else:
            report.append(line)
    failed = len(examples) - passed
    return passed, failed, "\n".join(report)
