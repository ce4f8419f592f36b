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
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from redline.agent.sandbox import Sandbox
from redline.agent.verify import Problem, check_source
from redline.agent.workspace import Workspace
from redline.errors import WorkspaceError

SMALL_SUITE = 20
OUTPUT_CAP = 4000


@dataclass
class TestRun:
    command: list[str]
    passed: bool
    exit_code: int
    output: str
    duration_s: float

    def to_dict(self) -> dict[str, object]:
        return {
            "command": " ".join(self.command),
            "passed": self.passed,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 3),
            "output_tail": self.output[-1500:],
        }


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


def run_tests(
    root: Path,
    targets: list[str],
    *,
    timeout: float = 120.0,
    command: list[str] | None = None,
    sandbox: Sandbox | None = None,
    first_failure: bool = True,
) -> TestRun:
    """Run pytest (or ``command``) on ``targets`` in ``sandbox`` (default: the
    workspace-write sandbox of ``root``); never raises on failure.

    ``first_failure``: pytest stops at the first failing test (``-x``), all one
    reply needs; off, every test runs, so candidates can be ranked by how many pass.

    The default pytest run first goes without third-party plugin autoloading
    (often seconds of startup); a clean pass there is trusted, while any failure
    or skip is re-run with the project's full plugin set before it counts.
    """
    jail = sandbox or Sandbox(root)
    if command is not None:
        return _run([*command, *targets], root, timeout, {}, jail)
    stop = ["-x"] if first_failure else []
    cmd = [sys.executable, "-m", "pytest", "-q", *stop, "-p", "no:cacheprovider", *targets]
    fast = _run(cmd, root, timeout, {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, jail)
    if fast.passed and "skipped" not in fast.output:
        return fast
    return _run(cmd, root, timeout, {}, jail)


def _run(
    cmd: list[str], root: Path, timeout: float, extra: dict[str, str], jail: Sandbox
) -> TestRun:
    start = time.perf_counter()
    try:
        with jail.command(cmd, {**extra, "PYTHONDONTWRITEBYTECODE": "1"}) as (argv, env):
            env = {k: v for k, v in env.items() if not k.startswith("PYTEST_") or k in extra}
            proc = subprocess.run(
                argv,
                cwd=root,
                env=env,
                capture_output=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        out = (proc.stdout + proc.stderr).decode("utf-8", "replace")
        code = proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = ((exc.stdout or b"") + (exc.stderr or b"")).decode("utf-8", "replace")
        out += f"\n[timed out after {timeout:.0f}s]"
        code = 124
    except OSError as exc:
        out, code = f"could not run tests: {exc}", 127
    # pytest exit 5 = no tests collected: nothing failed
    return TestRun(cmd, code in (0, 5), code, out[-OUTPUT_CAP:], time.perf_counter() - start)


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
