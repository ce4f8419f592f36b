"""Session fixtures: the real embedded models, loaded once per test session."""

from __future__ import annotations

import os

import pytest

from redline.engine.engine import Engine, get_engine

pytest_plugins = ["native_isolation"]  # tests marked native_isolated run in a child process

# Engines in tests load with the defaults, never a profile `redline tune` wrote on this
# machine (profile tests switch this off for themselves).
os.environ["REDLINE_NO_PROFILE"] = "1"


@pytest.fixture(scope="session")
def smollm2_engine() -> Engine:
    return get_engine("smollm2-135m")


@pytest.fixture(scope="session")
def gemma_engine() -> Engine:
    return get_engine("gemma3-270m")


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Sessions, checkpoints and config of tests never touch the user's real dirs."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("REDLINE_STATE_DIR", str(base / "state"))
    monkeypatch.setenv("REDLINE_CONFIG", str(base / "no-user-config.toml"))
