"""Checking a candidate in its own scratch copy (several run at once, one a thread).

Cheapest first, as one reply's verification does (:func:`verify_changes`):
syntax, names that do not resolve, lint; only a candidate with no new static
error pays for a test run. Tests run without ``-x`` so candidates can be ranked
by how many pass, not only by whether all do. Checks are subprocess-bound
(pytest, ruff), so the policy runs them in threads, as many as the machine has
cores (``os.cpu_count``), each as soon as its reply has ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from redline.agent.candidates.examples import run_examples
from redline.agent.candidates.scratch import ScratchCopy
from redline.agent.candidates.selection import Outcome, count_results
from redline.agent.checks.checking import Verification, verify_changes
from redline.agent.environment.sandbox import Sandbox
from redline.agent.environment.testrun import run_tests
from redline.agent.environment.workspace import Workspace
from redline.errors import WorkspaceError


@dataclass
class CheckPlan:
    """What every candidate of one task is checked with."""

    tests: list[str] = field(default_factory=list)
    """Test files to run."""
    examples: list[str] = field(default_factory=list)
    """Assertions written in the task (:mod:`~redline.agent.candidates.examples`)."""
    modules: list[str] = field(default_factory=list)
    """Modules whose names the examples use (the files in play)."""
    command: list[str] | None = None
    """The project's test command (``AgentConfig.test_command``); None: pytest."""
    timeout: float = 120.0
    static: bool = True

    @property
    def has_check(self) -> bool:
        """Something beyond static checks judges the candidates (else they vote)."""
        return bool(self.tests or self.examples)

    def describe(self) -> str:
        parts = [f"tests: {' '.join(self.tests)}"] if self.tests else []
        if self.examples:
            parts.append(f"{len(self.examples)} examples from the task")
        return "; ".join(parts) or "vote"


def check_one(source: Workspace, outcome: Outcome, plan: CheckPlan, template: Sandbox) -> Outcome:
    """Apply ``outcome.files`` to a fresh copy of ``source`` and check them there;
    the copy is removed afterwards. Fills in the outcome and returns it."""
    start = time.perf_counter()
    with ScratchCopy(source) as copy:
        try:
            copy.write(outcome.files)
        except WorkspaceError as exc:
            outcome.applied, outcome.report = False, exc.message
            return outcome
        found = verify_changes(copy.ws, dict(outcome.original), tests=False)
        outcome.static_errors = len(found.errors) if plan.static else 0
        run, notes = None, ""
        if plan.examples and not outcome.static_errors:
            passed, failed, notes = run_examples(
                str(copy.folder), plan.modules, plan.examples, copy.sandbox(template), plan.timeout
            )
            outcome.tests_run = True
            outcome.tests_passed, outcome.tests_failed = passed, failed
        if plan.tests and not outcome.static_errors:
            targets = [t for t in plan.tests if copy.ws.is_file(t)]
            run = run_tests(
                copy.folder,
                targets,
                timeout=plan.timeout,
                command=plan.command,
                sandbox=copy.sandbox(template),
                first_failure=False,
            )
            outcome.tests_run = True
            passed, failed = count_results(run.output)
            if not run.passed and not failed:
                failed = 1  # a crash or timeout before any summary line
            outcome.tests_passed += passed
            outcome.tests_failed += failed
        outcome.passed = not outcome.static_errors and not outcome.tests_failed
        outcome.passed = outcome.passed and (run is None or run.passed)
        errors = found.errors if plan.static else []
        report = Verification(outcome.passed, errors, found.warnings, run).report()
        if notes:
            report += "\nThe task's examples:\n" + notes
        outcome.report = report
    outcome.seconds = time.perf_counter() - start
    return outcome
