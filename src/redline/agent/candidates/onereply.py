"""Candidates in the one-reply protocol: when to use them, and the winner applied.

:class:`ReplyProtocol` lets the policy ask and read replies the way
:class:`~redline.agent.replyloop.ReplyLoop` does (same request: token budget,
stop sequences, predicted output; same parser and the same guards: no test
file edits unless the task asks, nothing outside the project). After the
policy has chosen, :func:`run_candidates` puts the kept candidate's
conversation into the agent's, applies its files through the loop's own
``_apply`` (approved, checkpointed under the task: one ``redline undo``
restores the tree byte for byte) and verifies them on the user's tree.
When no candidate passes, nothing reaches the user's files and the result
says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redline.agent.candidates.checker import CheckPlan
from redline.agent.candidates.defaults import batches, candidates_for
from redline.agent.candidates.examples import module_names, task_examples
from redline.agent.candidates.policy import CandidateRun, CandidateSettings
from redline.agent.candidates.replies import Sampled
from redline.agent.checking import is_test_file, related_tests
from redline.agent.edits import rewrite_budget
from redline.agent.focus import is_question, tests_may_change
from redline.agent.formats import restore_fence
from redline.agent.state import RunResult, TaskState
from redline.agent.telemetry import TurnStats
from redline.errors import EditError, WorkspaceError
from redline.providers.base import ChatRequest

if TYPE_CHECKING:
    from redline.agent.replyloop import ReplyLoop


class ReplyProtocol:
    """The one-reply formats (whole, diff) as the policy sees them."""

    def __init__(self, loop: ReplyLoop, task: str):
        self.loop = loop
        self.fmt = loop.fmt
        self.tests_ok = tests_may_change(task)
        self.max_tokens = loop.agent.config.max_tokens

    def request(self, messages: list[dict[str, Any]], files: dict[str, str]) -> ChatRequest:
        prediction = self.fmt.prediction(files)
        return ChatRequest(
            messages=list(messages),
            max_tokens=rewrite_budget("".join(files.values()), self.max_tokens),
            temperature=0.0,
            prediction=prediction,
            quotes=None if prediction else "".join(files.values()) or None,
            stop=self.fmt.stops(files),
        )

    def read(self, reply: Sampled, files: dict[str, str]) -> dict[str, str]:
        from redline.agent.replyloop import closed_reply

        got = reply.got
        text = got.text
        if got.finish == "length" and not closed_reply(text):
            raise EditError("the reply was cut at the token limit")
        if got.finish == "stop" and self.fmt.stops(files):
            text = restore_fence(text)
        parsed = self.fmt.parse(text, files)
        if not parsed.files:
            raise EditError("the reply changed no file")
        for path in parsed.files:
            if is_test_file(path) and not self.tests_ok and path not in files:
                raise EditError(f"{path}: test files must not be changed for this task.")
            try:
                self.loop.agent.ws.resolve(path)
            except WorkspaceError as exc:
                raise EditError(f"{path}: {exc.message}") from exc
        return parsed.files

    def show(self, path: str, text: str) -> str:
        return self.fmt.show(path, text)


def check_plan(loop: ReplyLoop, task: str) -> CheckPlan:
    """What judges this task's candidates: the tests the failing run named (shown
    read-only) and those beside the files in play (unless tests are off), and
    the assertions the task itself quotes."""
    agent = loop.agent
    plan = CheckPlan(
        examples=task_examples(task),
        modules=module_names(list(loop.focus.editable)),
        command=agent.config.test_command,
        timeout=loop.box.test_timeout,
    )
    if agent.config.run_tests:
        named = [c for c in loop.focus.context if is_test_file(c)]
        beside = related_tests(agent.ws, list(loop.focus.editable))
        plan.tests = sorted({*named, *beside})
    return plan


def wanted(loop: ReplyLoop, task: str) -> tuple[int, CheckPlan]:
    """How many candidates this task gets (1: the ordinary single reply)."""
    config = loop.agent.config
    if is_question(task) or not loop.focus.editable:
        return 1, CheckPlan()
    if config.candidates is not None and config.candidates <= 1:
        return 1, CheckPlan()
    if config.candidates is None and not batches(loop.agent.provider):
        return 1, CheckPlan()  # one request at a time: N replies would cost N times
    plan = check_plan(loop, task)
    n = candidates_for(loop.agent.provider, plan.has_check, config.candidates)
    return n, plan


def run_candidates(loop: ReplyLoop, task: str, st: TaskState, n: int, plan: CheckPlan) -> RunResult:
    """Carry out ``task`` with ``n`` candidates; the winner (if any) is applied."""
    agent = loop.agent
    if plan.has_check and not agent.sandbox.permit(
        "test", f"run the checks of {n} candidates, each in a scratch copy of the project"
    ):
        plan.tests, plan.examples = [], []  # declined: the candidates vote instead
    budget = agent.config.candidate_budget or agent.config.max_seconds
    run = CandidateRun(
        agent.provider,
        agent.ws,
        ReplyProtocol(loop, task),
        plan,
        agent.sandbox,
        CandidateSettings(n=n, budget_s=budget, rounds=1 + agent.config.reflections),
        emit=agent.emit,
        cancel=loop.cancel,
        watch=not tests_may_change(task),
    )
    base = len(agent.messages)
    result = run.run(list(agent.messages), loop._current())
    st.turns += result.rounds
    agent.history += result.history
    kept = result.choice.kept
    if loop.cancel.is_set():
        return agent._stop(st, "interrupted", "interrupted by the user")
    if kept is None or result.lineage is None:
        status = "format_errors" if not any(o.applied for o in result.outcomes) else None
        summary = f"{result.choice.reason}; nothing was applied"
        return agent._stop(st, status or "verification_failed", summary)
    for message in result.lineage.messages[base:]:
        agent.add(message)
    stats = TurnStats(st.turns)
    problems, changed = loop._apply(st, stats, dict(kept.files), True)
    if problems or not changed:
        return agent._stop(st, "verification_failed", "; ".join(problems) or "nothing changed")
    verification = agent._verify(st, stats, {p: st.before[p] for p in changed})
    summary = f"candidate {kept.index} of {len(result.outcomes)} kept: {result.choice.reason}"
    status = "finished" if verification.passed else "verification_failed"
    return RunResult(status, summary, verification.passed)
