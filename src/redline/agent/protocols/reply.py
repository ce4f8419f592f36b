"""The one-reply edit protocol: files in the prompt, edits in the reply, checks after.

What small models can drive (aider's protocol, measured on them): the task
message shows the files in play; the model answers once with whole files or
search/replace blocks (:mod:`redline.agent.editing.formats`); the edits are applied
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

from redline.agent.checks.checking import is_test_file
from redline.agent.checks.testreport import condense_test_output, failure_summary
from redline.agent.editing.edits import parses, repeating_lines, rewrite_budget
from redline.agent.editing.focus import (
    Focus,
    choose_files,
    is_question,
    tests_may_change,
    wants_failing_tests,
)
from redline.agent.editing.formats import EditFormat, fences_balanced, restore_fence
from redline.agent.editing.repomap import project_context
from redline.agent.protocols.base import Query
from redline.agent.query import Streamed
from redline.agent.state import Stop, TaskState
from redline.agent.telemetry import TurnStats
from redline.agent.templates import render
from redline.errors import EditError, WorkspaceError
from redline.providers.base import ChatRequest


class ReplyProtocol:
    """One task in the one-reply protocol, in the edit format ``fmt``."""

    keeps_history = False

    def __init__(self, fmt: EditFormat):
        self.fmt = fmt
        self.name = fmt.name
        self.focus = Focus()
        self.tests_failing = False
        """The task started with failing tests: an answer without an edit fixes nothing."""
        self.replies: set[str] = set()
        """This task's replies so far: the same reply again means the model is stuck."""
        self.reflections = 0
        self.files: dict[str, str] = {}
        """The files in play as this turn's request showed them."""
        self.stops: list[str] = []
        self.question = False
        self.tests_ok = False

    # -- the task message --------------------------------------------------
    def start(self, st: TaskState) -> None:
        self.question = is_question(st.task)
        self.tests_ok = tests_may_change(st.task)
        intro = not st.messages
        if intro:
            # A question is answered from the files shown: the edit format's prompt
            # (about changes) leads a small model to answer from the file's name alone.
            system = render("format_question.md") if self.question else self.fmt.system_prompt()
            st.add({"role": "system", "content": system})
        st.add({"role": "user", "content": self.first_message(st, intro)})

    def first_message(self, st: TaskState, intro: bool) -> str:
        task, ws = st.task, st.env.ws
        failing = None
        if (
            st.config.run_tests
            and wants_failing_tests(task)
            and st.env.sandbox.permit("test", "run the tests to see which fail")
        ):
            failing = st.env.run_tests()
            st.emit("tests_before", passed=failing.passed, output=failing.output[-1500:])
        self.focus = choose_files(ws, task, st.files, failing)
        self.tests_failing = failing is not None and not failing.passed
        parts = []
        if intro and not self.focus.editable:
            parts.append(project_context(ws, task, st.config.overview_budget).strip())
        elif intro and (ws.root / "AGENTS.md").is_file():
            parts.append(render("instructions.md", text=ws.read_text("AGENTS.md")[:2000]))
        summary = failure_summary(failing.output) if failing and not failing.passed else None
        if summary is None:  # the assertion could not be read: show the tests themselves
            for rel in self.focus.context:
                parts.append("Read-only (do not change):\n" + self._show(st, rel))
        for rel in self.focus.editable:
            if st.shown.get(rel) == ws.read_text(rel):
                parts.append(f"({rel} is as shown above.)")
            else:
                parts.append(self._show(st, rel))
        if summary:
            parts.append(summary)
        elif failing is not None and not failing.passed:
            parts.append("The tests fail now:\n" + condense_test_output(failing.output))
        if st.earlier:
            parts.append(st.earlier)
        parts.append(f"Task: {task}")
        if self.focus.editable and not self.question:
            names = ", ".join(self.focus.editable)
            parts.append(
                render(
                    "whole_reminder.md" if self.fmt.name == "whole" else "diff_reminder.md",
                    files=names,
                ).strip()
            )
        return "\n\n".join(p for p in parts if p)

    def _show(self, st: TaskState, rel: str) -> str:
        text = st.env.ws.read_text(rel)
        st.shown[rel] = text
        return self.fmt.show(rel, text)

    def _current(self, st: TaskState) -> dict[str, str]:
        out = {}
        for rel in self.focus.editable:
            try:
                out[rel] = st.env.ws.read_text(rel)
            except WorkspaceError:
                continue
        return out

    # -- one turn ------------------------------------------------------------
    def query(self, st: TaskState) -> Query:
        """One reply, watched for a run of same-shaped lines (``repeating_lines``)
        unless the task writes tests, whose many alike test functions are that
        shape for a reason."""
        files = self.files = self._current(st)
        question = self.question
        budget = rewrite_budget("".join(files.values()), st.config.max_tokens)
        stops = self.stops = [] if question else self.fmt.stops(files)
        prediction = None if question else self.fmt.prediction(files)
        request = ChatRequest(
            messages=list(st.messages),
            max_tokens=budget,
            temperature=0.0,
            prediction=prediction,
            # Edit blocks quote the files: an engine that drafts takes them from there.
            quotes=None if question or prediction else "".join(files.values()) or None,
            stop=stops,
        )
        watch = not self.tests_ok and not question
        return Query(request, repeating_lines if watch else None)

    def record(self, st: TaskState, stats: TurnStats, got: Streamed) -> None:
        if self.stops and got.finish == "stop" and got.error is None:
            got.text = restore_fence(got.text)
        content = got.text if got.error is None else got.text + "\n[reply failed]"
        st.add({"role": "assistant", "content": content})

    def observe(self, st: TaskState, stats: TurnStats, got: Streamed) -> None:
        note = self._handle(st, stats, got.text, got)
        self.reflections += 1
        if self.reflections > st.config.reflections:
            raise Stop("verification_failed", "checks still fail after the retries")
        st.add({"role": "user", "content": note + self._refresh(st)})

    def _handle(self, st: TaskState, stats: TurnStats, reply: str, got: Streamed) -> str:
        """What to tell the model next; raises Stop when the task is over."""
        files = self.files
        if got.finish == "length" and not closed_reply(reply):
            # Cut inside a file or block: nothing of it is applied (a truncated reply, as
            # aider counts it, not a malformed one). Cut in the prose after the last
            # block, it is used as it is.
            st.cut(stats, "reply", got.looped)
            return render("cut_reply_edit.md")
        try:
            parsed = self.fmt.parse(reply, files)
        except EditError as exc:
            st.malformed(stats, exc.message)
            return render("edit_error.md", problem=exc.message)
        st.format_errors = st.cut_replies = 0
        if not parsed.files:
            unfixed = st.last_verification is not None and not st.last_verification.passed
            if unfixed or (self.tests_failing and not st.changes):
                raise Stop("verification_failed", "the model made no edit")
            passed = bool(st.last_verification and st.last_verification.passed)
            raise Stop("finished", parsed.prose or reply.strip(), passed)
        if reply.strip() in self.replies:
            raise Stop("loop", "the model repeated an earlier reply")
        self.replies.add(reply.strip())
        problems, changed = self._apply(st, stats, parsed.files)
        if problems:
            return "\n".join(problems)
        if not changed:
            last = st.last_verification
            if (last is None or last.passed) and not self.tests_failing:
                # Nothing known to be wrong: the model says the files are right as they are.
                raise Stop("finished", "no change was needed", last is not None)
            report = "\n" + last.report() if last and not last.passed else ""
            return "Your reply did not change any file." + report
        verification = st.verify(stats, {p: st.before[p] for p in changed})
        if verification.passed:
            raise Stop("finished", _first_paragraph(parsed.prose) or "edited", True)
        return verification.report()

    def _apply(
        self, st: TaskState, stats: TurnStats, new: dict[str, str]
    ) -> tuple[list[str], list[str]]:
        """Apply every edit or none: (what was refused, the paths changed)."""
        problems = self.refusals(st, new)
        if problems:
            st.emit("edit_refused", turn=stats.turn, problems=problems)
            return [*problems, "Nothing was changed. Reply again with corrected files."], []
        changed = []
        for path, text in new.items():
            old = st.env.old(path)
            if old == text:
                continue
            written = st.env.write(path, old, text, task=st.task_id, label=f"reply edit {path}")
            if written is None:
                problems.append(f"the user declined the change to {path}")
                continue
            changed.append(path)
            st.record_edit(stats, path, {written.rel: old}, written.diff, written.checkpoint)
            if written.rel not in self.focus.editable:
                self.focus.editable.append(written.rel)
            st.shown[path] = text
        return problems, changed

    def refusals(self, st: TaskState, new: dict[str, str]) -> list[str]:
        """Why edits ``new`` (path -> text) must not be applied in ``st.env`` ([] : none)."""
        problems = []
        for path, text in new.items():
            if is_test_file(path) and not self.tests_ok and path not in self.focus.editable:
                problems.append(f"{path}: test files must not be changed for this task.")
                continue
            if not _inside(st, path):
                problems.append(f"{path}: outside the project; nothing applied.")
            elif path.endswith(".py") and parses(st.env.old(path)) and not parses(text):
                problems.append(f"{path}: your version does not parse: {_syntax_error(text)}")
        return problems

    def _refresh(self, st: TaskState) -> str:
        """Files whose current text the conversation has not shown yet."""
        out = []
        for rel, text in self._current(st).items():
            if st.shown.get(rel) != text:
                out.append("\n\nCurrent " + self._show(st, rel))
        return "".join(out)


def closed_reply(reply: str) -> bool:
    """Whether every fenced block and SEARCH/REPLACE block of ``reply`` is closed."""
    if not fences_balanced(reply):
        return False
    return reply.rfind("<<<<<<< SEARCH") <= reply.rfind(">>>>>>> REPLACE")


def _inside(st: TaskState, path: str) -> bool:
    try:
        st.env.ws.resolve(path)
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
