"""The tool protocol: a dialogue of tool calls until ``done`` verifies.

Each turn the model calls one tool (native OpenAI tools, or one JSON object in
text under a grammar); the result is the next message. File tools act through
the environment (:mod:`.toolbox`); an edit is checked at once and the report
rides along with the tool's result. ``done`` is accepted only when every change
the task made verifies (at most ``verify_retries`` refusals). Small models loop:
a call that already ran with no edit or command since is not run again, and
``max_repeats`` of them in a row end the task.
"""

from __future__ import annotations

import json
import time

from redline.agent.editing.repomap import project_context
from redline.agent.protocols.base import Query
from redline.agent.protocols.toolbox import ToolBox, ToolOutcome
from redline.agent.protocols.toolcalls import TOOL_SPECS, ParsedReply, ToolCall, tools_description
from redline.agent.protocols.toolturn import assistant_message, build_request, parse_reply
from redline.agent.query import Streamed
from redline.agent.state import AgentConfig, Stop, TaskState
from redline.agent.telemetry import TurnStats
from redline.agent.templates import render


def tool_names(config: AgentConfig) -> tuple[str, ...]:
    """The tools the model is offered (no ``test`` when tests are off)."""
    return tuple(s["name"] for s in TOOL_SPECS if config.run_tests or s["name"] != "test")


def system_prompt(native: bool, config: AgentConfig) -> str:
    """The same for every task and project (the tool format only), so a server's
    KV cache keeps it, and the tools after it, from one task to the next."""
    fmt = (
        render("native_format.md")
        if native
        else render("text_format.md", tools=tools_description(tool_names(config)))
    )
    return render("system.md", format=fmt)


class ToolsProtocol:
    """One task's tool dialogue."""

    name = "tools"
    keeps_history = True

    def __init__(self) -> None:
        self.native = False
        self.box: ToolBox | None = None
        self.reply: ParsedReply | None = None

    def start(self, st: TaskState) -> None:
        self.native = st.provider.capabilities.native_tools
        self.box = ToolBox(
            st.env, st.task_id, st.provider, st.cancel, reply_tokens=st.config.max_tokens
        )
        intro = ""
        if not st.messages:
            st.add({"role": "system", "content": system_prompt(self.native, st.config)})
            intro = project_context(st.env.ws, st.task, st.config.overview_budget).strip()
            intro += "\n\n"
        message = intro + render("task.md", task=st.task, files=st.attached)
        st.add({"role": "user", "content": message})

    def query(self, st: TaskState) -> Query:
        names = tool_names(st.config)
        return Query(build_request(st.messages, self.native, st.config.max_tokens, names))

    def record(self, st: TaskState, stats: TurnStats, got: Streamed) -> None:
        self.reply = parse_reply(self.native, got)
        stats.well_formed = self.reply.well_formed
        st.add(assistant_message(self.native, self.reply, got))

    def observe(self, st: TaskState, stats: TurnStats, got: Streamed) -> None:
        reply = self.reply
        assert reply is not None
        if not reply.calls:
            # A plain answer ends a native turn, unless it was cut off.
            if self.native and reply.text.strip() and reply.well_formed:
                self._finish(st, stats, reply.text.strip(), None)
                return
            st.malformed(stats, reply.problem)
            st.add({"role": "user", "content": render("format_error.md", problem=reply.problem)})
            return
        if reply.cut:
            # Never run a call whose arguments the limit may have cut (half a file).
            st.cut(stats, reply.calls[0].name, reply.looped)
            note = render("cut_reply.md", limit=str(st.config.max_tokens))
            self._observe(st, [(call, note) for call in reply.calls])
            return
        st.format_errors = st.cut_replies = 0
        observations: list[tuple[ToolCall, str]] = []
        for call in reply.calls:
            if st.cancel.is_set():
                break
            st.emit(
                "tool_call", turn=stats.turn, id=call.id, name=call.name, arguments=call.arguments
            )
            if call.name == "done":
                self._finish(st, stats, str(call.arguments.get("summary", "")), call)
                continue
            # A call that already ran with no edit or command since cannot give a new
            # result, so it is not run again; after `max_repeats` in a row the task stops.
            key = call.name + json.dumps(call.arguments, sort_keys=True, default=str)
            if st.seen_calls.get(key) == st.changes + st.runs:
                st.repeats += 1
                st.emit("repeated_call", turn=stats.turn, name=call.name, count=st.repeats)
                if st.repeats >= st.config.max_repeats:
                    raise Stop("loop", f"the model repeated {call.name} with no progress")
                observations.append((call, render("repeated_call.md", tool=call.name)))
                continue
            st.repeats = 0
            observations.append((call, self._execute(st, stats, call)))
            if call.name == "run":  # a shell command may have changed the tree
                st.runs += 1
            st.seen_calls[key] = st.changes + st.runs
        self._observe(st, observations)

    def _execute(self, st: TaskState, stats: TurnStats, call: ToolCall) -> str:
        assert self.box is not None
        start = time.perf_counter()
        names = tool_names(st.config)
        if call.name in names:
            outcome = self.box.call(call.name, call.arguments)
        else:  # a provider without grammars may still name a tool it was not offered
            outcome = ToolOutcome(
                f"error: no tool {call.name!r} here; use one of {', '.join(names)}", ok=False
            )
        if outcome.model_timings is not None:
            stats.add_timings(outcome.model_timings, primary=False)
            stats.model_s += outcome.model_timings.total_s
            start += outcome.model_timings.total_s
        stats.tools_s += time.perf_counter() - start
        st.emit(
            "tool_result",
            turn=stats.turn,
            id=call.id,
            name=call.name,
            ok=outcome.ok,
            output=outcome.output[:4000],
        )
        text = outcome.output
        if outcome.changed:
            path = next(iter(outcome.changed))
            st.record_edit(stats, path, outcome.changed, outcome.diff, outcome.checkpoint)
            baseline = {p: st.before[p] for p in outcome.changed}  # vs. the task's start
            text += "\n" + st.verify(stats, baseline).report()
        return text

    def _observe(self, st: TaskState, observations: list[tuple[ToolCall, str]]) -> None:
        if self.native:
            for call, text in observations:
                st.add({"role": "tool", "tool_call_id": call.id, "content": text})
        elif observations:
            body = "\n\n".join(f"[{c.name} result]\n{t}" for c, t in observations)
            st.add({"role": "user", "content": body})

    def _finish(self, st: TaskState, stats: TurnStats, summary: str, call: ToolCall | None) -> None:
        """Accept ``done`` only if every change made in this task verifies; a refusal
        goes back to the model (and the turn goes on)."""
        if st.before and not st.verified_all():  # re-check only what changed since
            result = st.verify(stats, dict(st.before))
            if not result.passed:
                st.verify_failures += 1
                if st.verify_failures > st.config.verify_retries:
                    raise Stop("verification_failed", summary, False)
                note = render("verify_before_done.md", report=result.report())
                if call is not None and self.native:
                    st.add({"role": "tool", "tool_call_id": call.id, "content": note})
                else:
                    st.add({"role": "user", "content": note})
                return
        if call is not None and self.native:
            st.add({"role": "tool", "tool_call_id": call.id, "content": "finished"})
        raise Stop("finished", summary, bool(st.before))


PROTOCOL = ToolsProtocol
