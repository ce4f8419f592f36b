"""`redline bench parallel`: the repository and tasks its sub-agents get."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from redline.bench.parallel_agents import _repo, task_for
from redline.bench.polyglot import default_root, list_exercises
from redline.errors import ConfigError

try:
    ROOT = default_root()
except ConfigError:  # pragma: no cover - the shared data is part of this workplace
    pytest.skip("polyglot-python exercises not available", allow_module_level=True)


def test_one_repository_holds_each_exercise_in_its_folder_without_its_tests(tmp_path: Path):
    exercises = list_exercises(ROOT, "proverb,pig-latin")
    repo = _repo(exercises, tmp_path)
    for ex in exercises:
        assert all((repo / ex.name / f).is_file() for f in ex.solution)
        assert not any((repo / ex.name / f).exists() for f in ex.tests)
    tracked = subprocess.run(
        ["git", "-C", str(repo), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "proverb/proverb.py" in tracked and "pig-latin/pig_latin.py" in tracked
    assert (
        subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        == ""
    )


def test_each_task_attaches_its_own_stub_by_path_from_the_root():
    (ex,) = list_exercises(ROOT, "pig-latin")
    task = task_for(ex)
    assert "@pig-latin/pig_latin.py" in task
    assert ex.instructions().splitlines()[0] in task
