"""The agent loop: messages -> streamed reply -> tool calls -> observations -> repeat.

Small and explicit on purpose (after mini-swe-agent's ``DefaultAgent``). One
:class:`Agent` holds one conversation; :meth:`Agent.run` carries out one task in
it and returns a :class:`RunResult`. Everything that happens is an event dict
with a ``type`` handed to ``emit`` (the CLI renders it, the session log stores
it). The loop ends on ``done`` with passing verification, a step/time limit,
repeated malformed replies, a provider error, or ``cancel``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from redline.agent.attach import attach, mentioned
from redline.agent.checking import Verification, verify_changes
from redline.agent.checkpoints import Checkpoints
from redline.agent.formats import get_format
from redline.agent.model_settings import settings_for
from redline.agent.query import (
    Streamed,
    assistant_message,
    build_request,
    parse_reply,
    stream_reply,
)
from redline.agent.replyloop import ReplyLoop
from redline.agent.repomap import repo_overview
from redline.agent.sandbox import Sandbox
from redline.agent.state import EXIT_CODES, AgentConfig, RunResult, TaskState
from redline.agent.telemetry import TurnStats
from redline.agent.templates import render
from redline.agent.toolcalls import ParsedReply, ToolCall, tools_description
from redline.agent.tools import Approve, ToolBox, ToolOutcome
from redline.agent.workspace import Workspace
from redline.providers.base import Provider

__all__ = ["EXIT_CODES", "Agent", "AgentConfig", "RunResult"]

Emit = Callable[[dict[str, Any]], None]


class Agent:
    """One conversation with one provider, confined to one workspace."""

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
    ):
        self.provider = provider
        self.ws = Workspace(root)
        self.config = config or AgentConfig()
        self.approval = approval
        self.ask = ask or (lambda kind, what: False)
        self._emit = emit or (lambda event: None)
        self.session_id = session_id
        self.checkpoints = checkpoints or Checkpoints(self.ws.root)
        self.sandbox = Sandbox(
            self.ws.root,
            self.config.sandbox,
            network=self.config.sandbox_network,
            approval=approval,
            ask=self.ask,
            notify=self._emit,
        )
        self.messages: list[dict[str, Any]] = list(messages or [])
        self.history: list[dict[str, Any]] = []
        self.format_name: str | None = None
        self.shown: dict[str, str] = {}
        """File texts this conversation has shown the model (one-reply formats)."""
        self.tasks_run = 0

    # -- events and messages -----------------------------------------------
    def emit(self, type_: str, **data: Any) -> None:
        self._emit({"type": type_, **data})

    @property
    def sink(self) -> Emit:
        """Where this agent's events go (screen and log): for runs that report in
        the same stream, such as ``/parallel``."""
        return self._emit

    def add(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self.emit("message", message=message)

    @property
    def native(self) -> bool:
        return bool(self.provider.supports_native_tools)

    def edit_format(self) -> str:
        """The protocol for this model: ``whole``/``diff`` (one reply) or ``tools``."""
        members = getattr(self.provider, "members", None)
        target = members[0].provider if members else self.provider
        model = str(getattr(target, "model", "") or "")
        if not model and not self.config.edit_format:
            return "tools"  # a scripted provider replays tool calls
        local = type(target).__name__ == "LocalProvider"
        return settings_for(model, local=local, override=self.config.edit_format).edit_format

    def system_prompt(self) -> str:
        """The same for every task and project (the tool format only), so a server's
        KV cache keeps it, and the tools after it, from one task to the next."""
        fmt = (
            render("native_format.md")
            if self.native
            else render("text_format.md", tools=tools_description(self.config.tool_names()))
        )
        return render("system.md", format=fmt)

    def project_context(self, task: str) -> str:
        """The project's files (ranked for ``task``) and its AGENTS.md: what a
        conversation's first task message starts with."""
        agents_md = self.ws.read_optional("AGENTS.md")  # symlinks resolved, inside only
        instructions = render("instructions.md", text=agents_md[:4000]) if agents_md else ""
        overview = repo_overview(self.ws, task, self.config.overview_budget)
        return render("context.md", overview=overview, instructions=instructions)

    def clear(self) -> None:
        self.messages = []
        self.shown = {}
        self.emit("clear")

    # -- one task ----------------------------------------------------------
    def run(
        self, task: str, cancel: threading.Event | None = None, files: Sequence[str] = ()
    ) -> RunResult:
        """Carry out ``task`` in this conversation; never raises for model mistakes.

        ``files`` (and ``@path`` mentions in the task) are put into the task
        message; a file that is not in the workspace raises WorkspaceError first.
        """
        attached = attach(self.ws, task, files)
        self.tasks_run += 1
        task_id = f"{self.session_id}/{self.tasks_run}"
        cancel = cancel or threading.Event()
        self.sandbox.approval, self.sandbox.ask = self.approval, self.ask  # may have changed
        box = ToolBox(
            self.ws,
            self.checkpoints,
            task_id,
            self.approval,
            self.ask,
            self.provider,
            cancel,
            test_command=self.config.test_command,
            reply_tokens=self.config.max_tokens,
            sandbox=self.sandbox,
        )
        fmt_name = self.edit_format()
        if self.messages and self.format_name not in (None, fmt_name):
            self.clear()  # /model switched protocols: the old system prompt no longer holds
        self.format_name = fmt_name
        self.emit(
            "task_start",
            task=task,
            task_id=task_id,
            native_tools=self.native,
            edit_format=fmt_name,
        )
        state = TaskState(started=time.perf_counter())
        if fmt_name == "tools":
            intro = ""
            if not self.messages:
                self.add({"role": "system", "content": self.system_prompt()})
                intro = self.project_context(task).strip() + "\n\n"
            message = intro + render("task.md", task=task, files=attached)
            self.add({"role": "user", "content": message})
            result = self._loop(box, state, cancel)
        else:
            fmt = get_format(fmt_name)
            replies = ReplyLoop(self, fmt, box, cancel)
            first = not self.messages
            if first:
                self.add({"role": "system", "content": fmt.system_prompt()})
            files = [*files, *mentioned(self.ws, task)]
            self.add({"role": "user", "content": replies.first_message(task, files, first)})
            result = replies.run(task, state)
        result.changed = sorted(state.before)
        result.turns = state.turns
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

    def _loop(self, box: ToolBox, st: TaskState, cancel: threading.Event) -> RunResult:
        while True:
            if st.turns >= self.config.max_steps:
                return self._stop(st, "step_limit", f"stopped after {st.turns} turns")
            if time.perf_counter() - st.started > self.config.max_seconds:
                return self._stop(st, "time_limit", "time limit reached")
            st.turns += 1
            stats = TurnStats(st.turns)
            self.emit("turn_start", turn=st.turns)
            reply, got = self._query(stats, cancel)
            finish, error = got.finish, got.error
            outcome = None
            if error is None and not cancel.is_set():
                outcome = self._act(box, st, stats, reply, cancel)
            self.emit(
                "turn_end",
                turn=st.turns,
                well_formed=stats.well_formed,
                finish_reason=finish,
                timings=stats.to_dict(),
            )
            self.history.append(
                stats.to_dict() | {"turn": st.turns, "well_formed": stats.well_formed}
            )
            if error is not None:
                self.emit("error", message=str(getattr(error, "message", error)))
                return self._stop(st, "error", f"provider error: {error}")
            if cancel.is_set():
                return self._stop(st, "interrupted", "interrupted by the user")
            if outcome is not None:
                return outcome

    def _stop(self, st: TaskState, status: str, summary: str) -> RunResult:
        # Verified only when verification ran, passed, and covers every change made.
        fresh = st.verified_key == (frozenset(st.before), st.changes)
        return RunResult(status, summary, bool(st.before) and fresh)

    # -- model -------------------------------------------------------------
    def _query(self, stats: TurnStats, cancel: threading.Event) -> tuple[ParsedReply, Streamed]:
        request = build_request(
            self.messages, self.native, self.config.max_tokens, self.config.tool_names()
        )
        got = stream_reply(
            self.provider,
            request,
            stats,
            cancel,
            lambda text: self.emit("text_delta", turn=stats.turn, text=text),
            on_retry=lambda info: self.emit("retry", turn=stats.turn, **info),
        )
        parsed = parse_reply(self.native, got)
        stats.well_formed = parsed.well_formed
        self.add(assistant_message(self.native, parsed, got))
        return parsed, got

    # -- tools -------------------------------------------------------------
    def _act(
        self,
        box: ToolBox,
        st: TaskState,
        stats: TurnStats,
        reply: ParsedReply,
        cancel: threading.Event,
    ) -> RunResult | None:
        if not reply.calls:
            # A plain answer ends a native turn, unless it was cut off.
            if self.native and reply.text.strip() and reply.well_formed:
                return self._finish(st, stats, reply.text.strip(), None)
            st.format_errors += 1
            self.emit("format_error", turn=stats.turn, problem=reply.problem)
            if st.format_errors >= self.config.max_format_errors:
                return self._stop(st, "format_errors", f"malformed replies: {reply.problem}")
            self.add({"role": "user", "content": render("format_error.md", problem=reply.problem)})
            return None
        if reply.cut:
            # Never run a call whose arguments the limit may have cut (half a file).
            st.cut_replies += 1
            self.emit("reply_cut", turn=stats.turn, name=reply.calls[0].name, looped=reply.looped)
            if reply.looped:
                # Degenerate repetition: more turns give more of the same.
                return self._stop(st, "loop", "the model's reply fell into a loop")
            if st.cut_replies >= self.config.max_cut_replies:
                return self._stop(st, "token_limit", "replies kept reaching the token limit")
            note = render("cut_reply.md", limit=str(self.config.max_tokens))
            self._observe([(call, note) for call in reply.calls])
            return None
        st.format_errors = st.cut_replies = 0
        observations: list[tuple[ToolCall, str]] = []
        for call in reply.calls:
            if cancel.is_set():
                break
            self.emit(
                "tool_call", turn=stats.turn, id=call.id, name=call.name, arguments=call.arguments
            )
            if call.name == "done":
                result = self._finish(st, stats, str(call.arguments.get("summary", "")), call)
                if result is not None:
                    return result
                continue
            # Small models loop: they re-run `test` or re-read a file forever. A call
            # that already ran with no edit or command since cannot give a new result,
            # so it is not run again; after `max_repeats` in a row the task stops.
            key = call.name + json.dumps(call.arguments, sort_keys=True, default=str)
            if st.seen_calls.get(key) == st.changes + st.runs:
                st.repeats += 1
                self.emit("repeated_call", turn=stats.turn, name=call.name, count=st.repeats)
                if st.repeats >= self.config.max_repeats:
                    return self._stop(
                        st, "loop", f"the model repeated {call.name} with no progress"
                    )
                observations.append((call, render("repeated_call.md", tool=call.name)))
                continue
            st.repeats = 0
            observations.append((call, self._execute(box, st, stats, call)))
            if call.name == "run":  # a shell command may have changed the tree
                st.runs += 1
            st.seen_calls[key] = st.changes + st.runs
        self._observe(observations)
        return None

    def _execute(self, box: ToolBox, st: TaskState, stats: TurnStats, call: ToolCall) -> str:
        start = time.perf_counter()
        if call.name in self.config.tool_names():
            outcome = box.call(call.name, call.arguments)
        else:  # a provider without grammars may still name a tool it was not offered
            names = ", ".join(self.config.tool_names())
            outcome = ToolOutcome(
                f"error: no tool {call.name!r} here; use one of {names}", ok=False
            )
        if outcome.model_timings is not None:
            stats.add_timings(outcome.model_timings, primary=False)
            stats.model_s += outcome.model_timings.total_s
            start += outcome.model_timings.total_s
        stats.tools_s += time.perf_counter() - start
        self.emit(
            "tool_result",
            turn=stats.turn,
            id=call.id,
            name=call.name,
            ok=outcome.ok,
            output=outcome.output[:4000],
        )
        text = outcome.output
        if outcome.changed:
            for path, old in outcome.changed.items():
                st.before.setdefault(path, old)
            st.changes += 1
            self.emit(
                "edit_applied",
                turn=stats.turn,
                path=next(iter(outcome.changed)),
                diff=outcome.diff,
                checkpoint=outcome.checkpoint,
            )
            baseline = {p: st.before[p] for p in outcome.changed}  # vs. the task's start
            verification = self._verify(st, stats, baseline)
            text += "\n" + verification.report()
        return text

    def _verify(
        self, st: TaskState, stats: TurnStats, files: dict[str, str | None]
    ) -> Verification:
        result = verify_changes(
            self.ws,
            files,
            tests=self.config.run_tests,
            test_command=self.config.test_command,
            sandbox=self.sandbox,
        )
        stats.verify_s += result.duration_s
        st.last_verification = result
        st.verified_key = (frozenset(files), st.changes) if result.passed else None
        self.emit("verification", turn=stats.turn, **result.to_dict())
        return result

    def _observe(self, observations: list[tuple[ToolCall, str]]) -> None:
        if self.native:
            for call, text in observations:
                self.add({"role": "tool", "tool_call_id": call.id, "content": text})
        elif observations:
            body = "\n\n".join(f"[{c.name} result]\n{t}" for c, t in observations)
            self.add({"role": "user", "content": body})

    def _finish(
        self, st: TaskState, stats: TurnStats, summary: str, call: ToolCall | None
    ) -> RunResult | None:
        """Accept ``done`` only if every change made in this task verifies."""
        fresh = st.verified_key == (frozenset(st.before), st.changes)
        if st.before and not fresh:  # re-check only what changed since the last pass
            result = self._verify(st, stats, dict(st.before))
            if not result.passed:
                st.verify_failures += 1
                if st.verify_failures > self.config.verify_retries:
                    return RunResult("verification_failed", summary, False)
                note = render("verify_before_done.md", report=result.report())
                if call is not None and self.native:
                    self.add({"role": "tool", "tool_call_id": call.id, "content": note})
                else:
                    self.add({"role": "user", "content": note})
                return None
        if call is not None and self.native:
            self.add({"role": "tool", "tool_call_id": call.id, "content": "finished"})
        return RunResult("finished", summary, bool(st.before))
