"""The test runner: pytest (or the project's test command) in the sandbox.

A test is model-written code too, so it runs in the same
:class:`~redline.agent.environment.sandbox.Sandbox` (and scrubbed environment)
as the ``run`` tool, with a timeout; it never raises on a failing run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from redline.agent.environment.sandbox import Sandbox

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
