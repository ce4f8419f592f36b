"""The agent loop: the one place where a task's turns are run. Read this first.

Shape (after mini-swe-agent's ``DefaultAgent``): ``run`` a task as ``step``\\ s;
each step is ``query`` (the protocol builds the request, the provider streams
the reply) then ``observe`` (the protocol acts on the reply and says what the
model sees next). The pieces:

- :class:`Agent` holds one conversation with one provider in one
  :class:`~redline.agent.environment.Environment` (the workspace, checkpoints,
  the sandboxed shell and tests: everything the agent does to the world).
- An edit protocol (:mod:`redline.agent.protocols`: ``tools``, ``whole``,
  ``diff``) is a strategy: how the task is put to the model, how a reply becomes
  actions. The loop picks it from what the provider declares it can do
  (``Provider.capabilities``) and the model's settings, never from class names.
- :class:`~redline.agent.state.TaskState` is the task in progress (messages,
  events, edits, checks), handed to the protocol; the protocol changes it only
  through its methods.
- A task ends by raising :class:`~redline.agent.state.Stop` (finished, a limit,
  a provider error, an interrupt, repeated malformed replies, ...); the loop
  turns it into the :class:`~redline.agent.state.RunResult`. Recoverable
  trouble (a malformed or cut reply, failing checks) goes back to the model as
  the next message instead.

With ``--candidates N`` (:mod:`redline.agent.candidates`) a one-reply task's
turns are rounds of N replies, each tried in a scratch copy, the best kept: a
policy over this loop's protocol, not a loop of its own.

The loop owns the turn count and the time budget, the events (every event is a
dict with a ``type`` handed to ``emit``: the CLI renders it, the session log
stores it), the provider errors and interrupts, and where each task starts.
Each task of a one-reply protocol starts a fresh conversation with what a
one-shot ``redline exec`` gets (files in play, the files it names, failing
tests run first) plus one line for each earlier task that changed files: a
small model follows a long history badly (a follow-up, such as a second try
with the test output, goes on in its conversation). The tool protocol keeps its conversation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from redline.agent.candidates.onereply import run_candidates, wanted
from redline.agent.editing.attach import attach, mentioned
from redline.agent.environment import Environment
from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.environment.environment import Approve
from redline.agent.environment.workspace import Workspace
from redline.agent.model_settings import settings_for
from redline.agent.protocols import EditProtocol, get_protocol
from redline.agent.query import stream_reply
from redline.agent.state import EXIT_CODES, AgentConfig, RunResult, Stop, TaskState
from redline.agent.telemetry import TurnStats
from redline.providers.base import Provider

__all__ = ["EXIT_CODES", "Agent", "AgentConfig", "RunResult"]

Emit = Callable[[dict[str, Any]], None]
SUMMARY_TASKS = 3
"""Earlier tasks a one-reply task's message recalls (one line each)."""


class Agent:
    """One conversation with one provider, acting in one environment."""

    def __init__(
        self,
        provider: Provider,
        root: str | Path,
        *,
        config: AgentConfig | None = None,
        approval: str = "suggest",
        ask: Approve | None = None,
        emit: Emit | None = None,
        session_id: str = "session",
        checkpoints: Checkpoints | None = None,
        messages: list[dict[str, Any]] | None = None,
        env: Environment | None = None,
    ):
        self.provider = provider
        self.config = config or AgentConfig()
        self.approval = approval
        self.ask = ask or (lambda kind, what: False)
        self._emit = emit or (lambda event: None)
        self.env = env or Environment(
            root,
            sandbox=self.config.sandbox,
            network=self.config.sandbox_network,
            approval=approval,
            ask=self.ask,
            notify=self._emit,
            checkpoints=checkpoints,
            test_command=self.config.test_command,
        )
        self.session_id = session_id
        self.messages: list[dict[str, Any]] = list(messages or [])
        self.history: list[dict[str, Any]] = []
        """Per-turn figures (``/tokens``)."""
        self.format_name: str | None = None
        self.shown: dict[str, str] = {}
        """File texts this conversation has shown the model (one-reply protocols)."""
        self.done: list[str] = []
        """One line per task of this session that changed files (the next task's summary)."""
        self.tasks_run = 0

    # -- the parts -----------------------------------------------------------
    @property
    def ws(self) -> Workspace:
        return self.env.ws

    @property
    def checkpoints(self) -> Checkpoints:
        return self.env.checkpoints

    @property
    def sink(self) -> Emit:
        """Where this agent's events go (screen and log): for runs that report in
        the same stream, such as ``/parallel``."""
        return self._emit

    @property
    def native(self) -> bool:
        return self.provider.capabilities.native_tools

    def emit(self, type_: str, **data: Any) -> None:
        self._emit({"type": type_, **data})

    def clear(self) -> None:
        self.messages = []
        self.shown = {}
        self.emit("clear")

    def edit_format(self) -> str:
        """The protocol for this provider's model: ``whole``/``diff`` or ``tools``."""
        caps = self.provider.capabilities
        if not caps.model and not self.config.edit_format:
            return "tools"  # a scripted provider replays tool calls
        choice = settings_for(caps.model, local=caps.local_engine, override=self.config.edit_format)
        return choice.edit_format

    # -- one task --------------------------------------------------------------
    def run(
        self,
        task: str,
        cancel: threading.Event | None = None,
        files: Sequence[str] = (),
        *,
        follow_up: bool = False,
    ) -> RunResult:
        """Carry out ``task``; never raises for model mistakes.

        ``files`` (and ``@path`` mentions in the task) are put into the task
        message; a file that is not in the workspace raises WorkspaceError first.
        ``follow_up``: the task goes on with the previous one in its conversation
        (a second try with the test output, as aider's benchmark asks it), so a
        one-reply protocol keeps the history instead of starting afresh.
        """
        attached = attach(self.ws, task, files)
        self.tasks_run += 1
        cancel = cancel or threading.Event()
        self.env.set_policy(self.approval, self.ask)  # either may have changed
        protocol = get_protocol(self.edit_format())
        switched = self.format_name not in (None, protocol.name)
        fresh = not (protocol.keeps_history or follow_up)
        if self.messages and (switched or fresh):
            # A switched protocol's system prompt no longer holds; a one-reply
            # task starts afresh, with a summary of the earlier ones.
            self.clear()
        self.format_name = protocol.name
        st = TaskState(
            task=task,
            task_id=f"{self.session_id}/{self.tasks_run}",
            config=self.config,
            env=self.env,
            provider=self.provider,
            cancel=cancel,
            messages=self.messages,
            sink=self._emit,
            files=[*files, *mentioned(self.ws, task)],
            attached=attached,
            shown=self.shown,
            earlier=self._earlier() if fresh else "",
        )
        self.emit(
            "task_start",
            task=task,
            task_id=st.task_id,
            native_tools=self.native,
            edit_format=protocol.name,
        )
        protocol.start(st)
        try:
            n, plan = wanted(protocol, st)
            if n > 1:  # a policy over this loop: N replies checked apart, one kept
                raise run_candidates(protocol, st, n, plan, self.history)
            while True:
                self.step(protocol, st)
        except Stop as stop:
            verified = st.verified_all() if stop.verified is None else stop.verified
            result = RunResult(stop.status, stop.summary, verified)
        result.changed = sorted(st.before)
        result.turns = st.turns
        if result.changed:  # what the files hold now; an answer is not the next task's business
            self.done.append(f"- {task[:200]} (changed {', '.join(result.changed)})")
        self.emit(
            "done",
            status=result.status,
            exit_code=result.exit_code,
            summary=result.summary,
            verified=result.verified,
            files_changed=result.changed,
            turns=result.turns,
        )
        return result

    def step(self, protocol: EditProtocol, st: TaskState) -> None:
        """One turn: query the model, then let the protocol observe the reply."""
        if st.turns >= self.config.max_steps:
            raise Stop("step_limit", f"stopped after {st.turns} turns")
        if time.perf_counter() - st.started > self.config.max_seconds:
            raise Stop("time_limit", "time limit reached")
        st.turns += 1
        stats = TurnStats(st.turns)
        self.emit("turn_start", turn=st.turns)
        query = protocol.query(st)
        got = stream_reply(
            self.provider,
            query.request,
            stats,
            st.cancel,
            lambda text: self.emit("text_delta", turn=stats.turn, text=text),
            on_retry=lambda info: self.emit("retry", turn=stats.turn, **info),
            looping=query.looping,
        )
        try:
            protocol.record(st, stats, got)
            if got.error is not None:
                stats.well_formed = False
                self.emit("error", message=str(getattr(got.error, "message", got.error)))
                raise Stop("error", f"provider error: {got.error}")
            if st.cancel.is_set() or got.finish == "cancelled":
                raise Stop("interrupted", "interrupted by the user")
            protocol.observe(st, stats, got)
        finally:
            self.emit(
                "turn_end",
                turn=st.turns,
                well_formed=stats.well_formed,
                finish_reason=got.finish,
                timings=stats.to_dict(),
            )
            self.history.append(
                stats.to_dict() | {"turn": st.turns, "well_formed": stats.well_formed}
            )

    def _earlier(self) -> str:
        """The session's last few tasks that changed files, one line each ('' for none)."""
        if not self.done:
            return ""
        return "Earlier in this session:\n" + "\n".join(self.done[-SUMMARY_TASKS:])
