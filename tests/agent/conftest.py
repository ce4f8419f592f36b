"""Fixtures for agent tests: a fresh copy of the sample project."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from agent_helpers import SAMPLE


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    """A private copy of examples/sample_project (one failing test)."""
    dest = tmp_path / "sample"
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return dest
