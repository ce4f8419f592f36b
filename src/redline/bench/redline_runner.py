"""redline's own agent as a benchmark runner: one conversation per case, in-process.

The agent works with ``full-auto`` approval in the case's workspace, given the
instructions and the stub's contents (as aider is), with test running (and so
the ``test`` tool) switched off (the tests are hidden until scoring; its static checks
still run after every edit). Try 2 continues the same conversation, as aider's
protocol does. The per-case deadline is enforced by the agent's own time limit
and, for a reply still streaming at the deadline, by its cancel event.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.loop import Agent
from redline.agent.state import AgentConfig
from redline.bench.harness import TryStats
from redline.bench.polyglot import Exercise
from redline.providers.base import Provider


def bench_config(
    max_steps: int = 10, max_tokens: int = 1024, candidates: int | None = None
) -> AgentConfig:
    """The agent settings the benchmark uses (recorded in the results). ``candidates``
    is ``--candidates``: None keeps one reply a turn, as without the option."""
    return AgentConfig(
        max_steps=max_steps, max_tokens=max_tokens, run_tests=False, candidates=candidates or 1
    )


class RedlineRunner:
    """Drives :class:`redline.agent.loop.Agent` through the benchmark protocol."""

    def __init__(
        self, provider: Provider, *, config: AgentConfig | None = None, name: str = "redline"
    ) -> None:
        self.provider = provider
        self.config = config or bench_config()
        self.name = name
        self.agent: Agent | None = None
        self.events: list[dict[str, Any]] = []
        self.files: tuple[str, ...] = ()
        self._ckpt: Path | None = None

    def begin(self, ws: Path, exercise: Exercise) -> None:
        self.events = []
        self.files = exercise.solution
        self._ckpt = Path(tempfile.mkdtemp(prefix="redline-bench-ckpt-"))
        self.agent = Agent(
            self.provider,
            ws,
            config=AgentConfig(**vars(self.config)),
            approval="full-auto",
            emit=self._record,
            session_id=f"bench-{exercise.name}",
            checkpoints=Checkpoints(ws, base=self._ckpt),
        )

    def _record(self, event: dict[str, Any]) -> None:
        if event.get("type") in ("turn_end", "format_error", "done", "error", "candidates_done"):
            self.events.append(event)

    def attempt(self, message: str, try_no: int, deadline: float) -> TryStats:
        assert self.agent is not None, "begin() first"
        agent = self.agent
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return TryStats(status="time_limit")
        agent.config.max_seconds = remaining
        cancel = threading.Event()
        timer = threading.Timer(remaining, cancel.set)
        timer.daemon = True
        seen, events_seen = len(agent.history), len(self.events)
        timer.start()
        try:
            # Try 1 comes with the stub, as aider's does (its files are in the chat);
            # try 2 goes on in the same conversation, with the test output.
            files = self.files if try_no == 1 else ()
            result = agent.run(message, cancel=cancel, files=files, follow_up=try_no > 1)
        finally:
            timer.cancel()
        turns = agent.history[seen:]
        status = (
            result.status if result.status == "finished" else f"{result.status}: {result.summary}"
        )
        stats = TryStats(status=status[:300], turns=len(turns))
        for turn in turns:
            stats.model_s += float(turn.get("model_s") or 0.0)
            stats.prompt_tokens += int(turn.get("prompt_tokens") or 0)
            stats.completion_tokens += int(turn.get("completion_tokens") or 0)
            stats.drafted_tokens += int(turn.get("drafted_tokens") or 0)
            stats.accepted_tokens += int(turn.get("accepted_tokens") or 0)
            if turn.get("ttft_s") is not None:
                stats.ttfts.append(float(turn["ttft_s"]))
            tokens = int(turn.get("completion_tokens") or 0)
            if turn.get("tok_s") and tokens > 1:
                stats.decode_rates.append(float(turn["tok_s"]))
                stats.decode_tokens += tokens
                stats.decode_s += tokens / float(turn["tok_s"])
        # A reply cut off by the deadline is a timeout, not a malformed reply.
        ends = [e for e in self.events[events_seen:] if e.get("type") == "turn_end"]
        stats.well_formed = all(
            e.get("well_formed", True) for e in ends if e.get("finish_reason") != "cancelled"
        )
        stats.truncated_replies = sum(e.get("finish_reason") == "length" for e in ends)
        for e in self.events[events_seen:]:
            if e.get("type") == "candidates_done":
                stats.candidates += int(e.get("decoded") or 0)
                stats.test_runs += int(e.get("test_runs") or 0)
        if result.status == "format_errors":
            stats.well_formed = False
        return stats

    def transcript(self) -> str:
        """The conversation the model saw and wrote, one heading per message."""
        if self.agent is None:
            return ""
        return "\n\n".join(
            f"#### {m.get('role')}\n\n{m.get('content') or ''}" for m in self.agent.messages
        )

    def end(self) -> None:
        self.agent = None
        if self._ckpt is not None:
            shutil.rmtree(self._ckpt, ignore_errors=True)
            self._ckpt = None
