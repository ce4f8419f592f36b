"""Parallel sub-agents: split a task, run the parts at once, merge them back one by one.

Why: a task with independent parts ("add the flag to cli.py", "document it in
the README") takes the time of its longest part instead of their sum when a
provider can answer several requests at once (a remote API, a router over
several backends). The local engine still answers one request at a time (its
continuous batching is not built yet), so there the parts share it in turns.

How, in order:

1. The plan: the sub-tasks given (``--task``), or one short request asking the
   model for a JSON list of them (:mod:`redline.agent.subagents.subtasks`); a reply that
   is not such a list runs the whole task as one sub-task, and says so.
2. Each sub-task runs as an ordinary :class:`~redline.agent.loop.Agent` (same
   provider, config, approval and sandbox) in its own git worktree on its own
   branch (:mod:`redline.agent.environment.worktrees`), up to ``parallel`` at once in
   threads. The user's files, index and HEAD are not written meanwhile. Every
   event of a sub-agent carries ``sub``: its index in the plan.
3. Merge back in plan order, each as soon as it and those before it are done
   (:mod:`redline.agent.subagents.mergeback`): checkpointed under one task id, so one
   ``redline undo`` restores the tree as it was before the run; then the
   checks and related tests run on the user's tree. A conflict or a failing
   check leaves the tree as it was before that merge and keeps the branch's
   changes as a patch file; nothing is forced.
4. Worktrees and branches are removed at the end, also on errors and Ctrl-C.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redline.agent.checks.checking import verify_changes
from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.environment.sandbox import Sandbox
from redline.agent.environment.workspace import Workspace
from redline.agent.environment.worktrees import Repo
from redline.agent.loop import Agent
from redline.agent.protocols.toolbox import Approve
from redline.agent.state import AgentConfig
from redline.agent.subagents.mergeback import apply, plan_merge, revert, save_patch
from redline.agent.subagents.subtasks import plan_subtasks
from redline.config import state_dir
from redline.errors import RedlineError
from redline.providers.base import Provider

Emit = Callable[[dict[str, Any]], None]
MERGED_OK = ("merged", "nothing")


@dataclass
class SubRun:
    """One sub-task: how its agent ended, what it cost, and what its merge did."""

    index: int
    task: str
    status: str = "pending"
    summary: str = ""
    seconds: float = 0.0
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    merge: str = "pending"
    """merged, nothing (no change), conflict, checks_failed or skipped."""
    files: list[str] = field(default_factory=list)
    detail: str = ""
    patch: str | None = None
    """Where an unmerged sub-task's changes were kept (``git apply`` replays them)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"seconds": round(self.seconds, 3)}


@dataclass
class ParallelResult:
    task: str
    plan: list[str]
    subs: list[SubRun]
    checkpoint_task: str
    """The checkpoint task id of every merge: ``redline undo`` undoes them together."""
    interrupted: bool = False

    @property
    def status(self) -> str:
        if self.interrupted:
            return "interrupted"
        good = all(s.status == "finished" and s.merge in MERGED_OK for s in self.subs)
        return "finished" if good else "partial"

    @property
    def exit_code(self) -> int:
        return {"finished": 0, "interrupted": 130}.get(self.status, 1)

    @property
    def summary(self) -> str:
        counts: dict[str, int] = {}
        for s in self.subs:
            counts[s.merge] = counts.get(s.merge, 0) + 1
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        return f"{len(self.subs)} sub-tasks: {parts}"


class ParallelRun:
    """One parallel run over the workspace ``root`` (which must be in a git repository)."""

    def __init__(
        self,
        provider: Provider,
        root: str | Path,
        *,
        parallel: int,
        config: AgentConfig | None = None,
        approval: str = "suggest",
        ask: Approve | None = None,
        emit: Emit | None = None,
        session_id: str = "session",
        checkpoints: Checkpoints | None = None,
        provider_for: Callable[[int], Provider] | None = None,
        files: Sequence[str] = (),
    ):
        self.provider = provider
        self.repo = Repo(root)  # first: outside a git repository nothing else happens
        self.root = self.repo.root
        self.parallel = max(1, parallel)
        self.config = config or AgentConfig()
        self.approval = approval
        self.ask = ask or (lambda kind, what: False)
        self._sink = emit or (lambda event: None)
        self.session_id = session_id
        self.checkpoints = checkpoints or Checkpoints(self.root)
        self.provider_for = provider_for
        """Tests give each sub-agent its own scripted provider; by default all share one."""
        self.files = list(files)
        self._emit_lock = threading.Lock()
        self._ask_lock = threading.Lock()
        token = secrets.token_hex(3)
        self.run_id = f"{session_id}-{token}"
        """Names this run's worktrees, branches and kept patches."""
        self.task_id = f"{session_id}/parallel-{token}"
        """The checkpoint task of every merge of this run: one undo takes all back."""
        self.workdir = state_dir() / "parallel" / self.run_id
        self.sandbox = Sandbox(
            self.root,
            self.config.sandbox,
            network=self.config.sandbox_network,
            approval=approval,
            ask=self._ask,
            notify=self._send,
        )

    # -- events and approvals, from several threads -------------------------
    def _send(self, event: dict[str, Any]) -> None:
        with self._emit_lock:
            self._sink(event)

    def emit(self, type_: str, **data: Any) -> None:
        self._send({"type": type_, **data})

    def _ask(self, kind: str, what: str) -> bool:
        with self._ask_lock:  # one question on the terminal at a time
            return self.ask(kind, what)

    # -- the run -------------------------------------------------------------
    def run(
        self, task: str, subtasks: Sequence[str] = (), cancel: threading.Event | None = None
    ) -> ParallelResult:
        """Plan, run the sub-agents, merge each back; never raises for a sub-agent's
        mistakes (a git failure or a bug does raise, after the cleanup)."""
        cancel = cancel or threading.Event()
        given = [s.strip() for s in subtasks if s.strip()]
        started = time.perf_counter()
        if given:
            plan, source = given, "given"
        else:
            plan, source = plan_subtasks(self.provider, task, self.parallel, self._send, cancel)
        self.emit("plan", task=task, subtasks=plan, source=source, parallel=self.parallel)
        result = ParallelResult(
            task, plan, [SubRun(i, t) for i, t in enumerate(plan)], self.task_id
        )
        if not cancel.is_set():  # Ctrl-C while planning: nothing to start
            self._run_all(result, cancel)
        result.interrupted = result.interrupted or cancel.is_set()
        self.emit(
            "parallel_done",
            status=result.status,
            exit_code=result.exit_code,
            summary=result.summary,
            seconds=round(time.perf_counter() - started, 3),
            checkpoint_task=result.checkpoint_task,
            subtasks=[s.to_dict() for s in result.subs],
        )
        return result

    def _run_all(self, result: ParallelResult, cancel: threading.Event) -> None:
        """Worktrees, sub-agents in threads, merges in plan order; cleanup whatever happens."""
        base = self.repo.snapshot()
        trees: list[tuple[Path, str]] = []
        pool = ThreadPoolExecutor(
            min(self.parallel, len(result.subs)), thread_name_prefix="redline-sub"
        )
        completed = False
        try:
            roots = []
            for sub in result.subs:
                path = self.workdir / f"sub-{sub.index}"
                branch = f"redline/sub-{self.run_id}-{sub.index}"
                roots.append(self.repo.add_worktree(path, branch, base))
                trees.append((path, branch))
                self.emit("worktree", sub=sub.index, path=str(path), branch=branch, base=base)
            futures = [
                pool.submit(self._run_sub, sub, root, cancel)
                for sub, root in zip(result.subs, roots, strict=True)
            ]
            for sub, future, (path, _) in zip(result.subs, futures, trees, strict=True):
                future.result()
                self._merge_back(sub, base, path, result.checkpoint_task, cancel)
            completed = True
        except KeyboardInterrupt:
            result.interrupted = completed = True
        finally:
            if not completed or result.interrupted:
                cancel.set()  # stop the sub-agents still running before the cleanup
            pool.shutdown(wait=True, cancel_futures=True)
            self._cleanup(trees)

    def _run_sub(self, sub: SubRun, root: Path, cancel: threading.Event) -> None:
        """One sub-agent in its worktree (a worker thread); the outcome goes into ``sub``."""
        if cancel.is_set():
            sub.status, sub.summary = "interrupted", "not started: the run was interrupted"
            return

        def tagged(event: dict[str, Any]) -> None:
            self._send({**event, "sub": sub.index})

        sub.status = "running"
        start = time.perf_counter()
        history: list[dict[str, Any]] = []
        try:
            agent = Agent(
                self.provider_for(sub.index) if self.provider_for else self.provider,
                root,
                config=self.config,
                approval=self.approval,
                ask=self._ask,
                emit=tagged,
                session_id=f"{self.session_id}-sub{sub.index}",
                checkpoints=Checkpoints(root, base=self.workdir / "checkpoints"),
            )
            history = agent.history
            outcome = agent.run(sub.task, cancel, files=self.files)
            sub.status, sub.summary = outcome.status, outcome.summary
        except RedlineError as exc:
            sub.status, sub.summary = "error", exc.message
            tagged({"type": "error", "message": exc.message})
        finally:
            sub.seconds = time.perf_counter() - start
            sub.turns = len(history)
            sub.prompt_tokens = sum(int(h.get("prompt_tokens") or 0) for h in history)
            sub.completion_tokens = sum(int(h.get("completion_tokens") or 0) for h in history)

    def _merge_back(
        self, sub: SubRun, base: str, path: Path, task_id: str, cancel: threading.Event
    ) -> None:
        """Commit the sub-agent's tree, then merge it into the user's tree, or keep it aside."""
        head = self.repo.commit_all(path, f"redline sub-task {sub.index}: {sub.task[:60]}")
        changes = self.repo.changes(base, head)
        if not changes:
            self._merged(sub, "nothing", "the sub-agent changed no file")
            return
        if sub.status != "finished" or cancel.is_set():
            why = "the run was interrupted" if cancel.is_set() else f"it ended {sub.status}"
            self._kept(sub, "skipped", f"not merged: {why}", base, head)
            return
        merge = plan_merge(self.repo, base, head, changes)
        if merge.conflicts:
            self._kept(sub, "conflict", "; ".join(merge.conflicts), base, head)
            return
        if not merge.writes:
            self._merged(sub, "nothing", "your tree already has these changes")
            return
        label = f"merge sub-task {sub.index}"
        previous = apply(merge, self.root, self.checkpoints, task_id, label)
        sub.files = sorted(merge.writes)
        before = {
            p: None if b is None else b.decode("utf-8", "replace") for p, b in previous.items()
        }
        check = verify_changes(
            Workspace(self.root),
            before,
            tests=self.config.run_tests,
            test_command=self.config.test_command,
            sandbox=self.sandbox,
        )
        self.emit("verification", sub=sub.index, stage="merge", **check.to_dict())
        if check.passed:
            self._merged(sub, "merged", f"merged {', '.join(sub.files)}")
            return
        kept = revert(self.root, merge, previous)
        detail = "the checks failed after the merge; it was taken back"
        if kept:
            detail += f" (except {', '.join(kept)}: changed again meanwhile; `redline undo`)"
        self._kept(sub, "checks_failed", detail + "\n" + check.report()[-1500:], base, head)

    def _merged(self, sub: SubRun, kind: str, detail: str) -> None:
        sub.merge, sub.detail = kind, detail
        self.emit("merge", sub=sub.index, result=kind, files=sub.files, detail=detail)

    def _kept(self, sub: SubRun, kind: str, detail: str, base: str, head: str) -> None:
        """Not merged: the branch's changes are saved as a patch so nothing is lost."""
        folder = state_dir() / "parallel" / "patches"
        patch = save_patch(self.repo, base, head, folder, f"{self.run_id}-sub{sub.index}")
        sub.merge, sub.detail = kind, detail
        sub.patch = str(patch) if patch else None
        sub.files = []
        self.emit("merge", sub=sub.index, result=kind, files=[], detail=detail, patch=sub.patch)

    def _cleanup(self, trees: list[tuple[Path, str]]) -> None:
        problems: list[str] = []
        for path, branch in trees:
            problems += self.repo.remove_worktree(path, branch)
        shutil.rmtree(self.workdir, ignore_errors=True)
        if self.workdir.exists():
            problems.append(f"could not remove {self.workdir}")
        self.emit("cleanup", removed=[b for _, b in trees], problems=problems)
