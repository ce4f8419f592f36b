"""The agent's configuration, a task's running state, and its result."""

from __future__ import annotations

from dataclasses import dataclass, field

from redline.agent.checking import Verification
from redline.agent.toolcalls import TOOL_SPECS

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

    def tool_names(self) -> tuple[str, ...]:
        """The tools the model is offered."""
        return tuple(s["name"] for s in TOOL_SPECS if self.run_tests or s["name"] != "test")


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


@dataclass
class TaskState:
    started: float
    turns: int = 0
    format_errors: int = 0
    cut_replies: int = 0
    """Replies in a row that reached the token limit (well formed, but not run)."""
    verify_failures: int = 0
    before: dict[str, str | None] = field(default_factory=dict)
    last_verification: Verification | None = None
    changes: int = 0
    verified_key: tuple[frozenset[str], int] | None = None
    seen_calls: dict[str, int] = field(default_factory=dict)
    """A tool call's canonical key -> ``changes + runs`` when it last ran."""
    runs: int = 0
    repeats: int = 0
