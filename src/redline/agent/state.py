"""The agent's configuration, a task's state, how a task stops, and its result.

:class:`TaskState` is the one object the loop hands to an edit protocol: the
conversation (messages, events), the environment, what the task changed
(``before``) and what the checks said. Protocols change the task through its
methods (``add``, ``emit``, ``record_edit``, ``verify``, ``malformed``), never
through another class's private parts. A task ends by raising :class:`Stop`:
the loop turns it into the :class:`RunResult`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redline.agent.checks.checking import Verification, verify_changes
from redline.agent.environment import Environment
from redline.agent.telemetry import TurnStats
from redline.providers.base import Provider

Emit = Callable[[dict[str, Any]], None]

EXIT_CODES = {
    "finished": 0,
    "verification_failed": 1,
    "error": 2,
    "step_limit": 3,
    "time_limit": 3,
    "format_errors": 4,
    "token_limit": 4,
    "loop": 3,
    "interrupted": 130,
}


@dataclass
class AgentConfig:
    max_steps: int = 25
    """Model turns per task before giving up."""
    max_seconds: float = 900.0
    """Wall-clock limit per task."""
    max_tokens: int = 1024
    """Tokens per model reply."""
    max_format_errors: int = 3
    """Malformed replies in a row before giving up."""
    max_cut_replies: int = 2
    """Replies in a row cut at the token limit (or closed because they looped) before
    giving up. The first is answered with advice to work in smaller steps; a model
    whose next reply runs away too is not adapting (aider stops at the first)."""
    max_repeats: int = 2
    """Identical tool calls in a row, with no edit between, before giving up."""
    verify_retries: int = 3
    """Times `done` may be refused for failing verification before giving up."""
    run_tests: bool = True
    """Run related tests when verifying; off, the `test` tool is not offered either."""
    overview_budget: int = 3000
    test_command: list[str] | None = None
    edit_format: str | None = None
    """``whole``, ``diff`` or ``tools``; None picks by model (agent/model_settings.py)."""
    reflections: int = 3
    """One-reply formats: times the checks' failures go back to the model (aider: 3)."""
    sandbox: str = "workspace-write"
    """Where commands and test runs go: workspace-write, read-only or off (see sandbox.py)."""
    sandbox_network: bool = False
    """Let sandboxed commands reach the network."""
    candidates: int | None = None
    """One-reply formats: replies tried per task, each in a scratch copy, the best
    kept (agent/candidates/); None picks by task and provider (candidates/defaults.py)."""
    candidate_budget: float | None = None
    """Seconds for all candidate rounds of a task; None: ``max_seconds``."""
    candidate_vote: bool = False
    """With no check (no tests, no examples), N replies vote; False: one reply."""


@dataclass
class RunResult:
    status: str
    summary: str = ""
    verified: bool = True
    changed: list[str] = field(default_factory=list)
    turns: int = 0

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, 2)


class Stop(Exception):  # noqa: N818 (a stop, not an error)
    """Ends the task (as mini-swe-agent's terminating exceptions do).

    ``verified`` None: the rule of :meth:`TaskState.verified_all` decides (the
    checks ran, passed, and cover every change the task made)."""

    def __init__(self, status: str, summary: str = "", verified: bool | None = None):
        super().__init__(f"{status}: {summary}")
        self.status = status
        self.summary = summary
        self.verified = verified


@dataclass
class TaskState:
    """One task in progress: what the protocol reads and changes."""

    task: str
    task_id: str
    config: AgentConfig
    env: Environment
    provider: Provider
    cancel: threading.Event
    messages: list[dict[str, Any]]
    sink: Emit
    files: list[str] = field(default_factory=list)
    """Files the task names (``--file`` and ``@path``): put into the task message."""
    attached: str = ""
    """Those files as message text (the tool protocol's task message)."""
    shown: dict[str, str] = field(default_factory=dict)
    """File texts the conversation has shown the model (one-reply protocols)."""
    intro: bool = True
    """The conversation is new: the task message starts with the project context."""
    earlier: str = ""
    """A short summary of the session's earlier tasks ('' for none)."""
    started: float = field(default_factory=time.perf_counter)
    turns: int = 0
    format_errors: int = 0
    cut_replies: int = 0
    """Replies in a row that reached the token limit (well formed, but not run)."""
    verify_failures: int = 0
    before: dict[str, str | None] = field(default_factory=dict)
    """Every path this task changed -> its text before the task (None: new)."""
    last_verification: Verification | None = None
    changes: int = 0
    verified_key: tuple[frozenset[str], int] | None = None
    seen_calls: dict[str, int] = field(default_factory=dict)
    """A tool call's canonical key -> ``changes + runs`` when it last ran."""
    runs: int = 0
    repeats: int = 0

    # -- the conversation ------------------------------------------------------
    def emit(self, type_: str, **data: Any) -> None:
        self.sink({"type": type_, **data})

    def add(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.emit("message", message=message)

    # -- edits and checks ------------------------------------------------------
    def record_edit(
        self,
        stats: TurnStats,
        path: str,
        changed: dict[str, str | None],
        diff: str,
        checkpoint: str,
    ) -> None:
        """Book a change that reached the disk (``changed``: real path -> text before)."""
        for rel, old in changed.items():
            self.before.setdefault(rel, old)
        self.changes += 1
        self.emit("edit_applied", turn=stats.turn, path=path, diff=diff, checkpoint=checkpoint)

    def verify(self, stats: TurnStats, files: dict[str, str | None]) -> Verification:
        """The checks on ``files`` (path -> text before the task) in this task's
        environment: new problems, then the related tests."""
        result = verify_changes(
            self.env.ws,
            files,
            tests=self.config.run_tests,
            test_command=self.config.test_command,
            sandbox=self.env.sandbox,
        )
        stats.verify_s += result.duration_s
        self.last_verification = result
        self.verified_key = (frozenset(files), self.changes) if result.passed else None
        self.emit("verification", turn=stats.turn, **result.to_dict())
        return result

    def verified_all(self) -> bool:
        """The checks ran, passed, and cover every change made in this task."""
        return bool(self.before) and self.verified_key == (frozenset(self.before), self.changes)

    def malformed(self, stats: TurnStats, problem: str) -> None:
        """A reply the protocol could not read: counted, and the task stops after
        ``max_format_errors`` in a row (the caller then tells the model why)."""
        stats.well_formed = False
        self.format_errors += 1
        self.emit("format_error", turn=stats.turn, problem=problem)
        if self.format_errors >= self.config.max_format_errors:
            raise Stop("format_errors", f"malformed replies: {problem}")

    def cut(self, stats: TurnStats, name: str, looped: bool) -> None:
        """A reply cut at the token limit (or closed because it looped): counted, and
        the task stops on a loop or after ``max_cut_replies`` in a row."""
        self.cut_replies += 1
        self.emit("reply_cut", turn=stats.turn, name=name, looped=looped)
        if looped:
            raise Stop("loop", "the model's reply fell into a loop")
        if self.cut_replies >= self.config.max_cut_replies:
            raise Stop("token_limit", "replies kept reaching the token limit")
