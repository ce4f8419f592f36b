"""Verification of an edit: new static problems, then the tests that touch it.

Only problems an edit *introduces* count (compared by source, code and message,
so shifted line numbers do not matter): a project's old lint debt must not
send the model chasing it. Tests run in a subprocess with a timeout, inside
the same :class:`~redline.agent.sandbox.Sandbox` (and scrubbed environment) as
the ``run`` tool: a test is model-written code too. The ones chosen are those
importing or named after the changed modules, or the whole suite when small.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from redline.agent.checks.verify import Problem, check_source
from redline.agent.environment.sandbox import Sandbox
from redline.agent.environment.testrun import OUTPUT_CAP, TestRun, run_tests
from redline.agent.environment.workspace import Workspace
from redline.errors import WorkspaceError

SMALL_SUITE = 20


@dataclass
class Verification:
    """What checking an edit found; ``passed`` is False on any new error or failing test."""

    passed: bool
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    tests: TestRun | None = None
    duration_s: float = 0.0

    def report(self) -> str:
        """The observation the model reads."""
        if self.passed and not self.warnings:
            head = "Verification passed."
        elif self.passed:
            head = "Verification passed (warnings only)."
        else:
            head = "Verification FAILED - fix these before finishing:"
        lines = [head, *(str(p) for p in self.errors[:20])]
        lines += [str(p) for p in self.warnings[:5]]
        if self.tests is not None:
            state = "passed" if self.tests.passed else f"FAILED (exit {self.tests.exit_code})"
            lines.append(f"Tests {' '.join(self.tests.command[2:])}: {state}")
            if not self.tests.passed:
                lines.append(self.tests.output[-OUTPUT_CAP:])
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "errors": [p.to_dict() for p in self.errors],
            "warnings": [p.to_dict() for p in self.warnings],
            "tests": self.tests.to_dict() if self.tests else None,
            "duration_s": round(self.duration_s, 3),
        }


def new_problems(before: list[Problem], after: list[Problem]) -> list[Problem]:
    """Problems in ``after`` beyond those already in ``before`` (as a multiset)."""
    budget = Counter(p.key() for p in before)
    out = []
    for p in after:
        if budget[p.key()] > 0:
            budget[p.key()] -= 1
        else:
            out.append(p)
    return out


def is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def related_tests(ws: Workspace, changed: list[str]) -> list[str]:
    """Test files that are, import, or are named after the changed modules."""
    tests = [f for f in ws.list_files() if is_test_file(f)]
    chosen = {c for c in changed if is_test_file(c) and ws.is_file(c)}
    stems = {Path(c).stem for c in changed if c.endswith(".py") and not is_test_file(c)}
    stems.discard("__init__")
    if stems:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, sorted(stems))) + r")\b")
        for t in tests:
            name_hit = Path(t).stem.removeprefix("test_").removesuffix("_test") in stems
            if name_hit or pattern.search(_imports_text(ws, t)):
                chosen.add(t)
    if not chosen and any(c.endswith(".py") for c in changed) and len(tests) <= SMALL_SUITE:
        chosen.update(tests)
    return sorted(chosen)


def _imports_text(ws: Workspace, path: str) -> str:
    try:
        text = ws.read_text(path)
    except WorkspaceError:
        return ""
    return "\n".join(ln for ln in text.splitlines() if "import" in ln)


def verify_changes(
    ws: Workspace,
    before: dict[str, str | None],
    *,
    tests: bool = True,
    test_timeout: float = 120.0,
    test_command: list[str] | None = None,
    sandbox: Sandbox | None = None,
) -> Verification:
    """Check the files in ``before`` (path -> old text, None if new) as they are now;
    tests run in ``sandbox`` (default: the workspace-write sandbox), after its
    approval gate (a declined run leaves the tests unrun, and says so)."""
    start = time.perf_counter()
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for path, old in sorted(before.items()):
        if not path.endswith(".py") or not ws.is_file(path):
            continue
        now = check_source(ws.read_text(path), filename=path, root=ws.root)
        was = check_source(old, filename=path, root=ws.root) if old else []
        fresh = new_problems(was, now)
        errors += [p for p in fresh if p.severity == "error"]
        warnings += [p for p in fresh if p.severity != "error"]
    run: TestRun | None = None
    if tests and not errors:
        targets = related_tests(ws, list(before))
        jail = sandbox or Sandbox(ws.root)
        if targets and jail.permit("test", "run the tests " + " ".join(targets)):
            run = run_tests(
                ws.root, targets, timeout=test_timeout, command=test_command, sandbox=jail
            )
        elif targets:
            skipped = Problem("(tests)", 1, 1, "tests not run: the user declined", "warning")
            warnings.append(skipped)
    passed = not errors and (run is None or run.passed)
    return Verification(passed, errors, warnings, run, time.perf_counter() - start)
