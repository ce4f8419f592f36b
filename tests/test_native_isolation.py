"""One crash is one failed test: the ``native_isolated`` plugin, proved on a real segfault.

A generated test file holds a test that segfaults on purpose (``ctypes.string_at(0)``
reads address 0), then tests after it. pytest runs it in a subprocess, once with
the plugin (the crash is one failure naming SIGSEGV; the rest run; exit code 1)
and once without (pytest itself dies and the later tests never run), so the test
shows the plugin is what keeps a suite going.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from native_isolation import REPORTS_ENV

TESTS_DIR = Path(__file__).resolve().parent

CASES = """
import ctypes

import pytest


@pytest.mark.native_isolated
def test_segfaults():
    ctypes.string_at(0)


def test_after_the_crash():
    assert sum([1, 2]) == 3


@pytest.mark.native_isolated
def test_isolated_passes(tmp_path):
    (tmp_path / "f").write_text("x")
    assert (tmp_path / "f").read_text() == "x"


@pytest.mark.native_isolated
def test_isolated_fails():
    print("seen by the parent")
    assert 1 == 2
"""


def _pytest(tmp_path: Path, *plugin: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_cases.py").write_text(CASES, encoding="utf-8")
    # a module after one that ends with an isolated test: its setup must find the
    # first module's fixtures torn down
    later = "def test_in_the_next_module():\n    assert True\n"
    (tmp_path / "test_later.py").write_text(later, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != REPORTS_ENV}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the suite's heavy plugins are not needed here
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
    cmd = [sys.executable, "-m", "pytest", "test_cases.py", "test_later.py", "-v", "-rA"]
    cmd += ["-p", "no:cacheprovider"]
    return subprocess.run(
        [*cmd, *plugin], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def _outcomes(out: str) -> dict[str, str]:
    """``test name -> PASSED/FAILED`` from pytest's ``-v`` lines."""
    found = re.findall(r"test_(?:cases|later)\.py::(\w+) (PASSED|FAILED|ERROR)", out)
    return dict(found)


def test_a_segfault_fails_that_test_and_the_tests_after_it_run(tmp_path: Path) -> None:
    run = _pytest(tmp_path, "-p", "native_isolation")
    out = run.stdout + run.stderr
    assert run.returncode == 1, out  # the suite ends non-zero, as `make test` must
    assert _outcomes(out) == {
        "test_segfaults": "FAILED",
        "test_after_the_crash": "PASSED",
        "test_isolated_passes": "PASSED",
        "test_isolated_fails": "FAILED",
        "test_in_the_next_module": "PASSED",
    }, out
    assert "crashed with SIGSEGV in its child process" in out
    assert "test_segfaults" in out.split("crashed with SIGSEGV", 1)[1]  # faulthandler's stack
    assert "assert 1 == 2" in out and "seen by the parent" in out  # the child's own report
    assert re.search(r"2 failed, 3 passed in", out), out


def test_without_the_plugin_the_same_segfault_kills_the_whole_run(tmp_path: Path) -> None:
    run = _pytest(tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == -11, (run.returncode, out)  # pytest itself died by SIGSEGV
    assert "Segmentation fault" in out
    assert "test_after_the_crash" not in _outcomes(out)
