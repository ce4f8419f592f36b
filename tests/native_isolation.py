"""pytest plugin: a test marked ``native_isolated`` runs in a child pytest process.

Tests that load a model of their own run llama.cpp's native code, where a bug or
an unlucky CPU ends the process with a signal (a Sapphire Rapids Xeon's AMX
repacking crashed at the first ``eval``). In-process, that kills pytest and
every test after it never runs. In a child, the crash ends the child: the parent
reads its exit status, reports that one test as failed ("crashed with SIGSEGV",
with the child's faulthandler traceback) and goes on; the run still ends
non-zero. The child is a fresh interpreter (``subprocess``, not ``fork``: the
parent holds OpenMP thread pools and server threads that a forked child cannot
use), so a marked test pays an interpreter start and its own model load: mark the
tests that load models outside the shared session engines, not every test.

The child sends its reports back through a JSON-lines file named by
``REDLINE_ISOLATED_REPORTS``; the parent replays them as if the test had run
here, so ``-x``, ``-v``, ``-ra`` and the exit code behave as usual. A crash
anywhere else still stops pytest, but pytest's built-in faulthandler prints the
Python stack, naming the test that was running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _pytest.reports import TestReport

MARK = "native_isolated"
REPORTS_ENV = "REDLINE_ISOLATED_REPORTS"
CHILD_TIMEOUT_S = 900.0
"""Beyond the child's own per-test ``timeout`` (600 s in pyproject), for its start."""
CHILD_PLUGINS = ("pytest_timeout",)
"""The installed plugins a child loads. Not the rest: hypothesis, pytest-lsp and
schemathesis cost about 7 s of CPU to import, per child, and model-loading tests
need none of them; a test that does names it (``native_isolated(plugins=[...])``)."""

_config: list[pytest.Config] = []
"""The run's config (the child's report hook has no other way to reach it)."""


def pytest_configure(config: pytest.Config) -> None:
    _config[:] = [config]
    config.addinivalue_line(
        "markers",
        f"{MARK}: run in a child process, so a crash in native code (llama.cpp) fails "
        "this test only and the suite goes on",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    if os.environ.get(REPORTS_ENV) or item.get_closest_marker(MARK) is None:
        return None  # in the child itself, or an unmarked test: the usual protocol
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in _run_in_child(item):
        item.ihook.pytest_runtest_logreport(report=report)
    # what this test's teardown does in the usual protocol: the fixtures the next test
    # does not share are finalised here (else its setup fails: "not torn down properly")
    # (only the runner's part of the teardown hook: the capture and logging parts expect a
    # setup that never ran here)
    call = pytest.CallInfo.from_call(
        lambda: item.session._setupstate.teardown_exact(nextitem), "teardown"
    )
    if call.excinfo is not None:
        report = item.ihook.pytest_runtest_makereport(item=item, call=call)
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def pytest_runtest_logreport(report: TestReport) -> None:
    """In the child: append each report to the file the parent reads."""
    path = os.environ.get(REPORTS_ENV)
    if not path or not _config:
        return
    data = _config[0].hook.pytest_report_to_serializable(config=_config[0], report=report)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(data) + "\n")


def _run_in_child(item: pytest.Item) -> list[TestReport]:
    config = item.config
    with tempfile.TemporaryDirectory(prefix="redline-isolated-") as tmp:
        reports = Path(tmp) / "reports.jsonl"
        cmd = [sys.executable, "-m", "pytest", item.nodeid, "-q", "-p", "no:cacheprovider"]
        cmd += ["-p", __name__]  # the child reports back through this plugin
        mark = item.get_closest_marker(MARK)
        for plugin in (*CHILD_PLUGINS, *(mark.kwargs.get("plugins", ()) if mark else ())):
            cmd += ["-p", plugin]
        if config.inipath is not None:
            cmd += ["-c", str(config.inipath)]
        if config.getoption("timeout", default=None) is not None:  # a --timeout given here
            cmd += ["--timeout", str(config.getoption("timeout"))]
        cmd += ["--rootdir", str(config.rootpath)]
        env = {**os.environ, REPORTS_ENV: str(reports), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
        # `-p` imports this plugin before any conftest puts its folder on sys.path
        env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), env.get("PYTHONPATH", "")])
        start = time.time()
        try:
            proc = subprocess.run(
                cmd,
                cwd=config.rootpath,
                env=env,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=CHILD_TIMEOUT_S,
            )
            code, output = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            code, output = None, _text(exc.stdout) + _text(exc.stderr)
        lines = reports.read_text(encoding="utf-8").splitlines() if reports.exists() else []
    got = [
        config.hook.pytest_report_from_serializable(config=config, data=json.loads(line))
        for line in lines
    ]
    got = [r for r in got if isinstance(r, TestReport) and r.nodeid == item.nodeid]
    if code is not None and code >= 0 and any(r.when == "teardown" for r in got):
        return got  # it ran to the end: its own reports say how it went
    return [*got, *_death(item, got, code, output, time.time() - start)]


def _text(data: bytes | str | None) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else data or ""


def _death(
    item: pytest.Item, got: list[TestReport], code: int | None, output: str, seconds: float
) -> list[TestReport]:
    """The failed report of the phase the child died in (then a teardown, so the test
    is closed as pytest closes every test)."""
    if code is None:
        why = f"timed out after {CHILD_TIMEOUT_S:.0f} s in its child process"
    elif code < 0:
        why = f"crashed with {_signal_name(-code)} in its child process"
    else:
        why = f"its child process exited with code {code} without finishing the test"
    tail = "\n".join(output.splitlines()[-60:])
    when = {"setup": "call", "call": "teardown"}.get(got[-1].when, "setup") if got else "setup"
    keywords = {k: 1 for k in item.keywords}
    longrepr = f"{why}\n\n{tail}"
    failed = TestReport(
        item.nodeid, item.location, keywords, "failed", longrepr, when, duration=seconds
    )
    if when == "teardown":
        return [failed]
    return [failed, TestReport(item.nodeid, item.location, keywords, "passed", None, "teardown")]


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
