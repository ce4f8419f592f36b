"""Candidates: N replies, each applied and checked apart, the best kept and repaired.

A policy over one edit protocol, not a loop of its own: the protocol builds
the request and reads a reply into file texts (:class:`CandidateProtocol`);
this module decides how many replies to ask for, where each is tried (its own
scratch copy of the workspace, never the user's tree), which one wins
(:mod:`redline.agent.candidates.selection`), and whether the best failing ones
get their own failure back for another round, while the time ``budget`` lasts.
The caller applies the winner to the user's files (checkpointed); when no
candidate passes a check that exists, nothing is applied.

Rounds: round 1 asks N replies to the task message. If none passes, the
``keep`` best failing candidates each get their check's report as the next
user message and N // keep new replies, in the candidate's own conversation
(a repair sees only its own history, never a rival's). A round starts only if
the time spent plus the last round's time fits in the budget.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from redline.agent.candidates.checker import CheckPlan, check_one
from redline.agent.candidates.replies import Sampled, combined_stats, sample_replies
from redline.agent.candidates.selection import Choice, Outcome, change_size, choose
from redline.agent.environment.sandbox import Sandbox
from redline.agent.environment.workspace import Workspace
from redline.agent.query import LinkedEvent
from redline.errors import EditError
from redline.providers.base import ChatRequest, Provider

Emit = Callable[..., None]


class CandidateProtocol(Protocol):
    """What the policy needs from an edit protocol (one-reply formats today)."""

    def request(self, messages: list[dict[str, Any]], files: dict[str, str]) -> ChatRequest:
        """The request for a reply that edits ``files`` (their current texts)."""
        ...

    def read(self, reply: Sampled, files: dict[str, str]) -> dict[str, str]:
        """The files the reply changes, as new texts; :class:`EditError` if it cannot
        be used (malformed, cut, a refused path), with the reason the model reads."""
        ...

    def show(self, path: str, text: str) -> str:
        """A file as the model is shown it."""
        ...


@dataclass
class CandidateSettings:
    n: int = 4
    budget_s: float = 300.0
    """Seconds for all rounds together; a round starts only if it fits."""
    keep: int = 2
    """Failing candidates repaired per round."""
    rounds: int = 3
    """Rounds at most (the first included)."""


@dataclass
class Lineage:
    """A candidate's conversation and its files so far (what a repair continues)."""

    messages: list[dict[str, Any]]
    files: dict[str, str]
    """The files in play as this candidate left them."""
    outcome: Outcome | None = None


@dataclass
class CandidatesResult:
    choice: Choice
    lineage: Lineage | None
    """The kept candidate's conversation (its replies and the feedback they got)."""
    outcomes: list[Outcome] = field(default_factory=list)
    decoded: int = 0
    test_runs: int = 0
    rounds: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    """One turn-stats record per round (for telemetry and the benchmark)."""


class CandidateRun:
    """One task's candidates against one workspace."""

    def __init__(
        self,
        provider: Provider,
        ws: Workspace,
        protocol: CandidateProtocol,
        plan: CheckPlan,
        sandbox: Sandbox,
        settings: CandidateSettings,
        *,
        emit: Emit,
        cancel: threading.Event,
        watch: bool = True,
    ):
        self.provider = provider
        self.ws = ws
        self.protocol = protocol
        self.plan = plan
        self.sandbox = sandbox
        self.settings = settings
        self.emit = emit
        self.cancel = cancel
        self.watch = watch

    def run(self, messages: list[dict[str, Any]], files: dict[str, str]) -> CandidatesResult:
        """Rounds until a candidate passes, the budget or the rounds run out."""
        start = time.perf_counter()
        s = self.settings
        self.emit(
            "candidates_start",
            n=s.n,
            check=self.plan.describe(),
            budget_s=s.budget_s,
        )
        original: dict[str, str | None] = dict(files)
        result = CandidatesResult(Choice(None, "no candidates", []), None)
        parents = [(Lineage(list(messages), dict(files)), s.n)]
        lineages: dict[int, Lineage] = {}
        last_round = 0.0
        while parents and not self.cancel.is_set():
            spent = time.perf_counter() - start
            if result.rounds and spent + last_round > s.budget_s:
                break
            round_start = time.perf_counter()
            result.rounds += 1
            fresh = self._round(result, parents, original, lineages)
            result.outcomes += fresh
            result.choice = choose(result.outcomes, require_pass=self.plan.has_check)
            last_round = time.perf_counter() - round_start
            if result.choice.kept is not None or result.rounds >= s.rounds:
                break
            parents = self._to_repair(result, fresh, lineages)
        kept = result.choice.kept
        result.lineage = lineages.get(kept.index) if kept is not None else None
        self.emit(
            "candidates_done",
            ran=len(result.outcomes),
            passed=sum(o.passed for o in result.outcomes),
            kept=kept.index if kept is not None else None,
            reason=result.choice.reason,
            rounds=result.rounds,
            decoded=result.decoded,
            test_runs=result.test_runs,
            seconds=round(time.perf_counter() - start, 3),
        )
        return result

    def _round(
        self,
        result: CandidatesResult,
        parents: list[tuple[Lineage, int]],
        original: dict[str, str | None],
        lineages: dict[int, Lineage],
    ) -> list[Outcome]:
        """One round, pipelined: each reply is read and checked as soon as it ends,
        while the others still decode. Once a candidate passes a real check (tests
        or the task's examples), the replies still decoding are stopped: their
        tokens could only break a tie among passing candidates."""
        turn = result.rounds
        self.emit("turn_start", turn=turn)
        fresh: list[Outcome] = []
        sampled_all: list[Sampled] = []
        halt = LinkedEvent(self.cancel)
        lock = threading.Lock()
        checks = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="cand")
        pending: list[Future[None]] = []
        wall = time.perf_counter()

        def check(outcome: Outcome) -> None:
            check_one(self.ws, outcome, self.plan, self.sandbox)
            self._tell(outcome)
            if outcome.passed and self.plan.has_check:
                halt.set()

        def arrived(parent: Lineage, got: Sampled) -> None:
            with lock:
                sampled_all.append(got)
                if got.got.finish == "cancelled" and not self.cancel.is_set():
                    return  # stopped because another candidate passed: not a candidate
                index = len(lineages)
                outcome, lineages[index] = self._read(index, got, parent, original)
                fresh.append(outcome)
                if outcome.applied:
                    pending.append(checks.submit(check, outcome))
                    return
            self._tell(outcome)

        try:
            for parent, count in parents:
                if halt.is_set():
                    break
                sample_replies(
                    self.provider,
                    self.protocol.request(parent.messages, parent.files),
                    count,
                    halt,
                    seed=1234 + 1000 * len(lineages),
                    turn=turn,
                    watch=self.watch,
                    on_reply=lambda got, parent=parent: arrived(parent, got),
                )
            for future in pending:
                future.result()
        finally:
            checks.shutdown(wait=True)
        fresh.sort(key=lambda o: o.index)
        stats = combined_stats(turn, sampled_all, time.perf_counter() - wall)
        result.decoded += len(sampled_all)
        result.test_runs += sum(o.tests_run for o in fresh)
        stats.verify_s = sum(o.seconds for o in fresh)
        # Well formed as aider means it, for the answer the user would see: some
        # reply of the round could be read (an unusable one is dropped like a
        # failing one, never applied); how many could not is said beside it.
        unusable = sum(not o.applied for o in fresh)
        record = stats.to_dict() | {
            "turn": turn,
            "well_formed": unusable < len(fresh),
            "unusable": unusable,
        }
        result.history.append(record)
        self.emit(
            "turn_end",
            turn=turn,
            well_formed=record["well_formed"],
            unusable=unusable,
            finish_reason="stop",
            timings=stats.to_dict(),
        )
        return fresh

    def _read(
        self, index: int, got: Sampled, parent: Lineage, original: dict[str, str | None]
    ) -> tuple[Outcome, Lineage]:
        """The candidate a reply makes: its files on top of its parent's."""
        messages = [*parent.messages, {"role": "assistant", "content": got.text}]
        outcome = Outcome(index, {}, {}, parent=parent.outcome.index if parent.outcome else None)
        try:
            if got.got.error is not None:
                raise EditError(f"the reply failed: {got.got.error}")
            new = self.protocol.read(got, parent.files)
        except EditError as exc:
            outcome.applied, outcome.report = False, exc.message
            lineage = Lineage(messages, dict(parent.files), outcome)
            return outcome, lineage
        files = {**parent.files, **new}
        changed = {p: t for p, t in files.items() if original.get(p) != t}
        outcome.files = changed
        outcome.original = {p: original.get(p) for p in changed}
        outcome.applied = bool(changed)
        if not changed:
            outcome.report = "Your reply did not change any file."
        return outcome, Lineage(messages, files, outcome)

    def _tell(self, o: Outcome) -> None:
        self.emit(
            "candidate",
            index=o.index,
            parent=o.parent,
            applied=o.applied,
            static_errors=o.static_errors,
            tests_run=o.tests_run,
            tests_passed=o.tests_passed,
            tests_failed=o.tests_failed,
            passed=o.passed,
            change_lines=change_size(o) if o.applied else 0,
            seconds=round(o.seconds, 3),
            problem="" if o.applied else o.report.partition("\n")[0][:200],
        )

    def _to_repair(
        self, result: CandidatesResult, fresh: list[Outcome], lineages: dict[int, Lineage]
    ) -> list[tuple[Lineage, int]]:
        """The best failing candidates of the last round, each with its own report
        (a malformed reply's problem counts too: it is what the model must fix)."""
        place = {i: n for n, i in enumerate(result.choice.ranking)}
        ordered = sorted((o for o in fresh if o.report), key=lambda o: place[o.index])
        chosen = ordered[: self.settings.keep]
        if not chosen:
            return []
        each = max(1, self.settings.n // len(chosen))
        out = []
        for o in chosen:
            lineage = lineages[o.index]
            shown = "".join(
                "\n\nCurrent " + self.protocol.show(p, t) for p, t in sorted(o.files.items())
            )
            messages = [*lineage.messages, {"role": "user", "content": o.report + shown}]
            out.append((Lineage(messages, lineage.files, o), each))
        return out
