"""The one-reply edit protocol: files in the prompt, edits in the reply, checks after.

What small models can drive (aider's protocol, measured on them): the task
message shows the files in play; the model answers once with whole files or
search/replace blocks (:mod:`redline.agent.formats`); the edits are applied
all-or-nothing, each checkpointed and written atomically; then verification
(syntax, names, lint, the related tests) runs and its failures go back as the
next message, up to ``AgentConfig.reflections`` times. A reply with no edits
is an answer and ends the task. A whole-file reply goes out with the old files
as its predicted output, so a speculative engine verifies the copied lines in
batches instead of decoding them one by one.

Guards: an edit that makes a parsing Python file unparseable is not applied (the
model is shown the syntax error); an edit to a test file is refused unless the
task asks for test changes.
"""

from __future__ import annotations

import ast
import threading
import time
from typing import TYPE_CHECKING, Any

from redline.agent.candidates.onereply import run_candidates, wanted
from redline.agent.checking import is_test_file, run_tests
from redline.agent.edits import parses, repeating_lines, rewrite_budget
from redline.agent.focus import (
    Focus,
    choose_files,
    is_question,
    tests_may_change,
    wants_failing_tests,
)
from redline.agent.formats import EditFormat, fences_balanced, restore_fence
from redline.agent.query import stream_reply
from redline.agent.state import RunResult, TaskState
from redline.agent.telemetry import TurnStats
from redline.agent.templates import render
from redline.agent.testreport import condense_test_output, failure_summary
from redline.agent.tools import ToolBox
from redline.errors import EditError, WorkspaceError
from redline.providers.base import ChatRequest

if TYPE_CHECKING:
    from redline.agent.loop import Agent


class ReplyLoop:
    """One task carried out in the one-reply protocol by ``agent``."""

    def __init__(self, agent: Agent, fmt: EditFormat, box: ToolBox, cancel: threading.Event):
        self.agent = agent
        self.fmt = fmt
        self.box = box
        self.cancel = cancel
        self.focus = Focus()
        self.shown = agent.shown
        """What the conversation last showed of each file (so unchanged ones are not resent)."""
        self.tests_failing = False
        """The task started with failing tests: an answer without an edit fixes nothing."""
        self.replies: set[str] = set()
        """This task's replies so far: the same reply again means the model is stuck."""

    # -- the task message --------------------------------------------------
    def first_message(self, task: str, attached: list[str], intro: bool) -> str:
        agent = self.agent
        failing = None
        sandbox = self.box.sandbox
        if (
            agent.config.run_tests
            and wants_failing_tests(task)
            and sandbox is not None
            and sandbox.permit("test", "run the tests to see which fail")
        ):
            failing = run_tests(
                agent.ws.root,
                [],
                timeout=self.box.test_timeout,
                command=agent.config.test_command,
                sandbox=sandbox,
            )
            agent.emit("tests_before", passed=failing.passed, output=failing.output[-1500:])
        self.focus = choose_files(agent.ws, task, attached, failing)
        self.tests_failing = failing is not None and not failing.passed
        parts = []
        if intro and not self.focus.editable:
            parts.append(agent.project_context(task).strip())
        elif intro and (agent.ws.root / "AGENTS.md").is_file():
            parts.append(render("instructions.md", text=agent.ws.read_text("AGENTS.md")[:2000]))
        summary = failure_summary(failing.output) if failing and not failing.passed else None
        if summary is None:  # the assertion could not be read: show the tests themselves
            for rel in self.focus.context:
                parts.append("Read-only (do not change):\n" + self._show(rel))
        for rel in self.focus.editable:
            if self.shown.get(rel) == agent.ws.read_text(rel):
                parts.append(f"({rel} is as shown above.)")
            else:
                parts.append(self._show(rel))
        if summary:
            parts.append(summary)
        elif failing is not None and not failing.passed:
            parts.append("The tests fail now:\n" + condense_test_output(failing.output))
        parts.append(f"Task: {task}")
        if self.focus.editable and not is_question(task):
            names = ", ".join(self.focus.editable)
            parts.append(
                render(
                    "whole_reminder.md" if self.fmt.name == "whole" else "diff_reminder.md",
                    files=names,
                ).strip()
            )
        return "\n\n".join(p for p in parts if p)

    def _show(self, rel: str) -> str:
        text = self.agent.ws.read_text(rel)
        self.shown[rel] = text
        return self.fmt.show(rel, text)

    def _current(self) -> dict[str, str]:
        out = {}
        for rel in self.focus.editable:
            try:
                out[rel] = self.agent.ws.read_text(rel)
            except WorkspaceError:
                continue
        return out

    # -- the loop ----------------------------------------------------------
    def run(self, task: str, st: TaskState) -> RunResult:
        n, plan = wanted(self, task)
        if n > 1:  # a policy over this protocol: N replies, checked apart, one kept
            return run_candidates(self, task, st, n, plan)
        agent, config = self.agent, self.agent.config
        question = is_question(task)
        tests_ok = tests_may_change(task)
        reflections = 0
        while True:
            if st.turns >= config.max_steps:
                return self.agent._stop(st, "step_limit", f"stopped after {st.turns} turns")
            if time.perf_counter() - st.started > config.max_seconds:
                return self.agent._stop(st, "time_limit", "time limit reached")
            st.turns += 1
            stats = TurnStats(st.turns)
            agent.emit("turn_start", turn=st.turns)
            files = self._current()
            reply, got = self._query(stats, files, question, watch=not tests_ok)
            note, result = self._handle(st, stats, reply, got, files, tests_ok)
            agent.emit(
                "turn_end",
                turn=st.turns,
                well_formed=stats.well_formed,
                finish_reason=got.finish,
                timings=stats.to_dict(),
            )
            agent.history.append(
                stats.to_dict() | {"turn": st.turns, "well_formed": stats.well_formed}
            )
            if result is not None:
                return result
            reflections += 1
            if reflections > config.reflections:
                return self.agent._stop(
                    st, "verification_failed", "checks still fail after the retries"
                )
            agent.add({"role": "user", "content": note + self._refresh()})

    def _query(
        self, stats: TurnStats, files: dict[str, str], question: bool, *, watch: bool = True
    ) -> tuple[str, Any]:
        """One reply. ``watch``: stop it where it falls into a run of same-shaped lines
        (``repeating_lines``); off when the task writes tests, whose many alike test
        functions are that shape for a reason."""
        agent = self.agent
        budget = rewrite_budget("".join(files.values()), agent.config.max_tokens)
        stops = [] if question else self.fmt.stops(files)
        prediction = None if question else self.fmt.prediction(files)
        request = ChatRequest(
            messages=list(agent.messages),
            max_tokens=budget,
            temperature=0.0,
            prediction=prediction,
            # Edit blocks quote the files: an engine that drafts takes them from there.
            quotes=None if question or prediction else "".join(files.values()) or None,
            stop=stops,
        )
        got = stream_reply(
            agent.provider,
            request,
            stats,
            self.cancel,
            lambda text: agent.emit("text_delta", turn=stats.turn, text=text),
            looping=repeating_lines if watch and not question else None,
        )
        if stops and got.finish == "stop" and got.error is None:
            got.text = restore_fence(got.text)
        content = got.text if got.error is None else got.text + "\n[reply failed]"
        agent.add({"role": "assistant", "content": content})
        return got.text, got

    def _handle(
        self,
        st: TaskState,
        stats: TurnStats,
        reply: str,
        got: Any,
        files: dict[str, str],
        tests_ok: bool,
    ) -> tuple[str, RunResult | None]:
        """What to tell the model next, or the task's result."""
        agent = self.agent
        if got.error is not None:
            stats.well_formed = False
            agent.emit("error", message=str(getattr(got.error, "message", got.error)))
            return "", self.agent._stop(st, "error", f"provider error: {got.error}")
        if self.cancel.is_set() or got.finish == "cancelled":
            return "", self.agent._stop(st, "interrupted", "interrupted by the user")
        if got.finish == "length" and not closed_reply(reply):
            # Cut inside a file or block: nothing of it is applied (a truncated reply, as
            # aider counts it, not a malformed one). Cut in the prose after the last
            # block, it is used as it is.
            st.cut_replies += 1
            agent.emit("reply_cut", turn=stats.turn, name="reply", looped=got.looped)
            if got.looped or st.cut_replies >= agent.config.max_cut_replies:
                if got.looped:
                    return "", self.agent._stop(st, "loop", "the reply kept repeating itself")
                return "", self.agent._stop(st, "token_limit", "the reply ran to the token limit")
            return render("cut_reply_edit.md"), None
        try:
            parsed = self.fmt.parse(reply, files)
        except EditError as exc:
            stats.well_formed = False
            st.format_errors += 1
            agent.emit("format_error", turn=stats.turn, problem=exc.message)
            if st.format_errors >= agent.config.max_format_errors:
                return "", self.agent._stop(
                    st, "format_errors", f"malformed replies: {exc.message}"
                )
            return render("edit_error.md", problem=exc.message), None
        st.format_errors = st.cut_replies = 0
        if not parsed.files:
            unfixed = st.last_verification is not None and not st.last_verification.passed
            if unfixed or (self.tests_failing and not st.changes):
                return "", agent._stop(st, "verification_failed", "the model made no edit")
            passed = bool(st.last_verification and st.last_verification.passed)
            return "", RunResult("finished", parsed.prose or reply.strip(), passed)
        if reply.strip() in self.replies:
            return "", agent._stop(st, "loop", "the model repeated an earlier reply")
        self.replies.add(reply.strip())
        problems, changed = self._apply(st, stats, parsed.files, tests_ok)
        if problems:
            return "\n".join(problems), None
        if not changed:
            last = st.last_verification
            if (last is None or last.passed) and not self.tests_failing:
                # Nothing known to be wrong: the model says the files are right as they are.
                return "", RunResult("finished", "no change was needed", last is not None)
            report = "\n" + last.report() if last and not last.passed else ""
            return "Your reply did not change any file." + report, None
        verification = agent._verify(st, stats, {p: st.before[p] for p in changed})
        if verification.passed:
            return "", RunResult("finished", _first_paragraph(parsed.prose) or "edited", True)
        return verification.report(), None

    def _apply(
        self, st: TaskState, stats: TurnStats, new: dict[str, str], tests_ok: bool
    ) -> tuple[list[str], list[str]]:
        """Apply every edit or none: (what was refused, the paths changed)."""
        problems = []
        for path, text in new.items():
            if is_test_file(path) and not tests_ok and path not in self.focus.editable:
                problems.append(f"{path}: test files must not be changed for this task.")
                continue
            if not _inside(self.box, path):
                problems.append(f"{path}: outside the project; nothing applied.")
            elif path.endswith(".py") and parses(self.box._old(path)) and not parses(text):
                problems.append(f"{path}: your version does not parse: {_syntax_error(text)}")
        if problems:
            self.agent.emit("edit_refused", turn=stats.turn, problems=problems)
            return [*problems, "Nothing was changed. Reply again with corrected files."], []
        changed = []
        for path, text in new.items():
            old = self.box._old(path)
            if old == text:
                continue
            outcome = self.box._commit(path, old, text, f"reply edit {path}")
            if not outcome.changed:
                problems.append(outcome.output)  # declined by the user
                continue
            changed.append(path)
            for rel, before in outcome.changed.items():
                st.before.setdefault(rel, before)
                if rel not in self.focus.editable:
                    self.focus.editable.append(rel)
            st.changes += 1
            self.shown[path] = text
            self.agent.emit(
                "edit_applied",
                turn=stats.turn,
                path=path,
                diff=outcome.diff,
                checkpoint=outcome.checkpoint,
            )
        return problems, changed

    def _refresh(self) -> str:
        """Files whose current text the conversation has not shown yet."""
        out = []
        for rel, text in self._current().items():
            if self.shown.get(rel) != text:
                out.append("\n\nCurrent " + self._show(rel))
        return "".join(out)


def closed_reply(reply: str) -> bool:
    """Whether every fenced block and SEARCH/REPLACE block of ``reply`` is closed."""
    if not fences_balanced(reply):
        return False
    return reply.rfind("<<<<<<< SEARCH") <= reply.rfind(">>>>>>> REPLACE")


def _inside(box: ToolBox, path: str) -> bool:
    try:
        box.ws.resolve(path)
        return True
    except WorkspaceError:
        return False


def _syntax_error(text: str) -> str:
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return f"line {exc.lineno}: {exc.msg}"
    return "invalid"


def _first_paragraph(text: str, cap: int = 300) -> str:
    return text.strip().split("\n\n", 1)[0][:cap]
