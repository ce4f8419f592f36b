"""Helpers shared by the agent tests (a plain module: tests have no packages)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.loop import Agent, AgentConfig
from redline.providers.scripted import ScriptedProvider

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "sample_project"
DATA = Path(__file__).parent / "data"


def fix_script() -> list[Any]:
    return json.loads((DATA / "fix_sample.json").read_text())["replies"]


def make_agent(
    root: Path,
    replies: list[Any],
    *,
    native: bool = False,
    approval: str = "full-auto",
    events: list[dict[str, Any]] | None = None,
    **config: Any,
) -> tuple[Agent, ScriptedProvider]:
    provider = ScriptedProvider(replies, native_tools=native)
    sink = events if events is not None else []
    agent = Agent(
        provider,
        root,
        config=AgentConfig(**config),
        approval=approval,
        emit=sink.append,
        checkpoints=Checkpoints(root),
    )
    return agent, provider


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file's bytes (caches excluded): for byte-for-byte comparisons."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and ".pytest_cache" not in p.parts
    }
