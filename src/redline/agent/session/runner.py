"""Wiring for the front doors: settings -> provider -> agent, events -> screen and log.

The CLI stays a thin parser over these functions; tests call them directly.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.loop import Agent, AgentConfig, RunResult
from redline.agent.session.log import SessionLog
from redline.providers.base import Provider

if TYPE_CHECKING:
    from redline.agent.subagents.parallel import ParallelResult


def tty_ask(kind: str, what: str) -> bool:
    """Ask on the terminal; without one, the answer is no (never approve silently)."""
    if not sys.stdin.isatty():
        return False
    sys.stderr.write(f"\n{what}\nAllow this {kind}? [y/N] ")
    sys.stderr.flush()
    try:
        return input().strip().lower() in ("y", "yes")
    except EOFError:
        return False


def tee(*sinks: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def emit(event: dict[str, Any]) -> None:
        for sink in sinks:
            sink(event)

    return emit


def build_agent(
    provider: Provider,
    root: Path,
    *,
    approval: str,
    render: Callable[[dict[str, Any]], None],
    config: AgentConfig | None = None,
    ask: Callable[[str, str], bool] = tty_ask,
    session_id: str | None = None,
    messages: list[dict[str, Any]] | None = None,
) -> tuple[Agent, SessionLog]:
    """An agent whose every event is rendered and logged (JSONL under the state dir)."""
    log = SessionLog(session_id)
    log.write(
        {
            "type": "session_start",
            "session_id": log.id,
            "root": str(root.resolve()),
            "provider": provider.name,
            "approval": approval,
            "native_tools": provider.capabilities.native_tools,
        }
    )
    agent = Agent(
        provider,
        root,
        config=config,
        approval=approval,
        ask=ask,
        emit=tee(log.write, render),
        session_id=log.id,
        checkpoints=Checkpoints(root),
        messages=messages,
    )
    return agent, log


def run_exec(
    task: str,
    provider: Provider,
    root: Path,
    *,
    approval: str,
    json_mode: bool,
    config: AgentConfig | None = None,
    files: Sequence[str] = (),
) -> RunResult:
    """``redline exec``: one task, headless, events streamed to stdout."""
    from redline.agent.session.render import HumanRenderer, JsonRenderer

    render = JsonRenderer() if json_mode else HumanRenderer()
    agent, log = build_agent(provider, root, approval=approval, render=render, config=config)
    if json_mode:
        render(
            {
                "type": "session_start",
                "session_id": log.id,
                "root": str(root.resolve()),
                "provider": provider.name,
                "approval": approval,
            }
        )
    try:
        result = agent.run(task, files=files)
    finally:
        log.close()
    if result.status == "error":
        # Every provider failed: the conversation so far is in the session log.
        result.summary += f" (the task is saved: `redline resume {log.id}` continues it)"
    return result


def run_parallel_exec(
    task: str,
    provider: Provider,
    root: Path,
    *,
    parallel: int,
    subtasks: Sequence[str] = (),
    approval: str,
    json_mode: bool,
    config: AgentConfig | None = None,
    files: Sequence[str] = (),
) -> ParallelResult:
    """``redline exec --parallel N``: sub-agents in worktrees, merged back one by one."""
    from redline.agent.session.render import HumanRenderer, JsonRenderer
    from redline.agent.subagents.parallel import ParallelRun

    render = JsonRenderer() if json_mode else HumanRenderer(show_text=False)
    log = SessionLog()
    start = {
        "type": "session_start",
        "session_id": log.id,
        "root": str(root.resolve()),
        "provider": provider.name,
        "approval": approval,
        "parallel": parallel,
    }
    log.write(start)
    if json_mode:
        render(start)
    try:
        run = ParallelRun(
            provider,
            root,
            parallel=parallel,
            config=config,
            approval=approval,
            ask=tty_ask,
            emit=tee(log.write, render),
            session_id=log.id,
            checkpoints=Checkpoints(root),
            files=files,
        )
        return run.run(task, subtasks)
    finally:
        log.close()
