"""Candidates over the one-reply protocols: when to use them, and the winner applied.

The loop calls :func:`wanted` once a task has started; with N > 1 the task's
turns are the policy's rounds instead of single replies. :class:`ReplyAdapter`
lets the policy ask and read replies the way
:class:`~redline.agent.protocols.reply.ReplyProtocol` does (same request: token
budget, stop sequences, predicted output; same parser and the same refusals: no
test file edits unless the task asks, nothing outside the project). After the
policy has chosen, :func:`run_candidates` puts the kept candidate's
conversation into the task's, applies its files through the protocol's own
``_apply`` (approved, checkpointed under the task: one ``redline undo``
restores the tree byte for byte) and verifies them on the user's tree.
When no candidate passes, nothing reaches the user's files and the result
says so.
"""

from __future__ import annotations

from typing import Any

from redline.agent.candidates.checker import CheckPlan
from redline.agent.candidates.defaults import candidates_for, measured_default
from redline.agent.candidates.examples import module_names, task_examples
from redline.agent.candidates.policy import CandidateRun, CandidateSettings
from redline.agent.candidates.replies import Sampled
from redline.agent.checks.checking import is_test_file, related_tests
from redline.agent.editing.edits import rewrite_budget
from redline.agent.editing.formats import restore_fence
from redline.agent.protocols.base import EditProtocol
from redline.agent.protocols.reply import ReplyProtocol, closed_reply
from redline.agent.state import Stop, TaskState
from redline.agent.telemetry import TurnStats
from redline.errors import EditError
from redline.providers.base import ChatRequest


class ReplyAdapter:
    """A one-reply protocol's task as the policy sees it."""

    def __init__(self, proto: ReplyProtocol, st: TaskState):
        self.proto = proto
        self.st = st
        self.fmt = proto.fmt

    def request(self, messages: list[dict[str, Any]], files: dict[str, str]) -> ChatRequest:
        prediction = self.fmt.prediction(files)
        return ChatRequest(
            messages=list(messages),
            max_tokens=rewrite_budget("".join(files.values()), self.st.config.max_tokens),
            temperature=0.0,
            prediction=prediction,
            quotes=None if prediction else "".join(files.values()) or None,
            stop=self.fmt.stops(files),
        )

    def read(self, reply: Sampled, files: dict[str, str]) -> dict[str, str]:
        got = reply.got
        text = got.text
        if got.finish == "length" and not closed_reply(text):
            raise EditError("the reply was cut at the token limit")
        if got.finish == "stop" and self.fmt.stops(files):
            text = restore_fence(text)
        parsed = self.fmt.parse(text, files)
        if not parsed.files:
            raise EditError("the reply changed no file")
        problems = self.proto.refusals(self.st, parsed.files)
        if problems:
            raise EditError(" ".join(problems))
        return parsed.files

    def show(self, path: str, text: str) -> str:
        return self.fmt.show(path, text)


def check_plan(proto: ReplyProtocol, st: TaskState) -> CheckPlan:
    """What judges this task's candidates: the tests the failing run named (shown
    read-only) and those beside the files in play (unless tests are off), and
    the assertions the task itself quotes."""
    plan = CheckPlan(
        examples=task_examples(st.task),
        modules=module_names(list(proto.focus.editable)),
        command=st.config.test_command,
        timeout=st.env.test_timeout,
    )
    if st.config.run_tests:
        named = [c for c in proto.focus.context if is_test_file(c)]
        beside = related_tests(st.env.ws, list(proto.focus.editable))
        plan.tests = sorted({*named, *beside})
    return plan


def wanted(protocol: EditProtocol, st: TaskState) -> tuple[int, CheckPlan]:
    """How many candidates this task gets (1: the loop's ordinary single reply)."""
    configured = st.config.candidates
    if not isinstance(protocol, ReplyProtocol) or protocol.question:
        return 1, CheckPlan()
    if not protocol.focus.editable or (configured is not None and configured <= 1):
        return 1, CheckPlan()
    measured = measured_default(st.provider)
    if configured is None and measured <= 1:
        return 1, CheckPlan()  # N replies are not cheap here: only --candidates asks for them
    plan = check_plan(protocol, st)
    n = candidates_for(measured, plan.has_check, configured, st.config.candidate_vote)
    if configured is not None and configured > 1 and n == 1:
        st.emit(
            "candidates_skipped",
            asked=configured,
            reason="nothing to check candidates by (no tests, no examples in the task): "
            "one reply; --vote lets N replies vote",
        )
    return n, plan


def run_candidates(
    proto: EditProtocol,
    st: TaskState,
    n: int,
    plan: CheckPlan,
    history: list[dict[str, Any]],
) -> Stop:
    """Carry out the task with ``n`` candidates; the winner (if any) is applied.
    Returns the :class:`Stop` that ends the task (the loop raises it)."""
    assert isinstance(proto, ReplyProtocol), "wanted() offers candidates to one-reply protocols"
    if plan.has_check and not st.env.sandbox.permit(
        "test", f"run the checks of {n} candidates, each in a scratch copy of the project"
    ):
        plan.tests, plan.examples = [], []  # declined: the candidates vote instead
    run = CandidateRun(
        st.provider,
        st.env.ws,
        ReplyAdapter(proto, st),
        plan,
        st.env.sandbox,
        CandidateSettings(
            n=n,
            budget_s=st.config.candidate_budget or st.config.max_seconds,
            rounds=1 + st.config.reflections,
        ),
        emit=st.emit,
        cancel=st.cancel,
        watch=not proto.tests_ok,
    )
    base = len(st.messages)
    result = run.run(list(st.messages), proto._current(st))
    st.turns += result.rounds
    history += result.history
    kept = result.choice.kept
    if st.cancel.is_set():
        return Stop("interrupted", "interrupted by the user")
    if kept is None or result.lineage is None:
        unread = not any(o.applied for o in result.outcomes)
        status = "format_errors" if unread else "verification_failed"
        return Stop(status, f"{result.choice.reason}; nothing was applied", False)
    for message in result.lineage.messages[base:]:
        st.add(message)
    stats = TurnStats(st.turns)
    problems, changed = proto._apply(st, stats, dict(kept.files))
    if problems or not changed:
        return Stop("verification_failed", " ".join(problems) or "nothing changed", False)
    verification = st.verify(stats, {p: st.before[p] for p in changed})
    summary = f"candidate {kept.index} of {len(result.outcomes)} kept: {result.choice.reason}"
    status = "finished" if verification.passed else "verification_failed"
    return Stop(status, summary, verification.passed)
