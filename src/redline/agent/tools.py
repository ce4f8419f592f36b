"""The tools the model calls: read, list, search, edit, write, run, test.

Each tool takes the validated arguments and returns a :class:`ToolOutcome` the
loop turns into an observation. File tools go through the :class:`Workspace`
boundary; every change is approved (per the approval mode), checkpointed, then
written atomically. Errors a model can fix come back as text, not exceptions.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redline.agent.checking import run_tests
from redline.agent.checkpoints import Checkpoints
from redline.agent.edits import (
    apply_blocks,
    parse_blocks,
    rewrite,
    rewrite_budget,
    unified_diff,
)
from redline.agent.sandbox import Sandbox
from redline.agent.shell import cap, run_shell
from redline.agent.workspace import Workspace
from redline.errors import EditError, ProviderError, WorkspaceError
from redline.providers.base import Provider, TimingsEvent

APPROVAL_MODES = ("suggest", "auto-edit", "full-auto")
READ_CAP = 12000

Approve = Callable[[str, str], bool]
"""(kind "edit" or "run", what: a diff or a command) -> allowed?"""


@dataclass
class ToolOutcome:
    output: str
    ok: bool = True
    changed: dict[str, str | None] = field(default_factory=dict)
    diff: str = ""
    checkpoint: str = ""
    model_timings: TimingsEvent | None = None


@dataclass
class ToolBox:
    """Everything a tool may touch, and the policy for asking first."""

    ws: Workspace
    checkpoints: Checkpoints
    task_id: str
    approval: str = "suggest"
    ask: Approve = lambda kind, what: False
    provider: Provider | None = None
    cancel: threading.Event | None = None
    run_timeout: float = 60.0
    test_timeout: float = 120.0
    test_command: list[str] | None = None
    reply_tokens: int = 1024
    """A model reply's token budget; a rewrite gets this at least (see ``rewrite_budget``)."""
    sandbox: Sandbox | None = None
    """Where commands run and when they ask (default: workspace-write for this approval)."""

    def __post_init__(self) -> None:
        if self.sandbox is None:
            self.sandbox = Sandbox(self.ws.root, approval=self.approval, ask=self.ask)

    def allowed(self, kind: str, what: str) -> bool:
        if self.approval == "full-auto" or (self.approval == "auto-edit" and kind == "edit"):
            return True
        return self.ask(kind, what)

    def call(self, name: str, args: dict[str, Any]) -> ToolOutcome:
        """Run one tool; failures the model can act on become ``ok=False`` outcomes."""
        handler = getattr(self, f"tool_{name}", None)
        if handler is None:
            return ToolOutcome(f"unknown tool {name!r}", ok=False)
        try:
            note = ""
            if name in ("read", "edit", "test") and args.get("path"):
                found = self.ws.locate(args["path"])
                if found != args["path"]:
                    note = f"(no {args['path']}; using {found})\n"
                    args = {**args, "path": found}
            outcome = handler(**args)
        except (WorkspaceError, EditError) as exc:
            return ToolOutcome(f"error: {exc.message}", ok=False)
        outcome.output = note + outcome.output
        return outcome

    # -- reading -----------------------------------------------------------
    def tool_read(self, path: str, start: int | None = None, end: int | None = None) -> ToolOutcome:
        lines = self.ws.read_text(path).splitlines()
        lo = max(1, start or 1)
        hi = min(len(lines), end or len(lines))
        body = "\n".join(f"{i:>5}| {lines[i - 1]}" for i in range(lo, hi + 1))
        head = f"{path} (lines {lo}-{hi} of {len(lines)})"
        return ToolOutcome(cap(f"{head}\n{body}", READ_CAP))

    def tool_list(self, path: str = "") -> ToolOutcome:
        files = self.ws.list_files(path)
        return ToolOutcome(cap("\n".join(files) or "(no files)", READ_CAP))

    def tool_search(self, pattern: str, path: str = "") -> ToolOutcome:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            return ToolOutcome(f"error: bad regular expression: {exc}", ok=False)
        hits: list[str] = []
        for rel in self.ws.list_files(path):
            try:
                text = self.ws.read_text(rel)  # the workspace boundary, symlinks resolved
            except (WorkspaceError, OSError):
                continue
            hits += [
                f"{rel}:{n}: {ln.strip()}"
                for n, ln in enumerate(text.splitlines(), 1)
                if rx.search(ln)
            ]
            if len(hits) > 200:
                break
        return ToolOutcome(cap("\n".join(hits[:200]) or "no matches", READ_CAP))

    # -- changing ----------------------------------------------------------
    def _old(self, path: str) -> str | None:
        return self.ws.read_text(path) if self.ws.resolve(path).is_file() else None

    def _commit(self, path: str, old: str | None, new: str, label: str) -> ToolOutcome:
        """Approve, checkpoint, write atomically; the one way any file changes."""
        if new == old:
            return ToolOutcome(f"{path}: no change (the new text equals the old)", ok=False)
        real = Path(os.path.realpath(self.ws.resolve(path)))
        rel = real.relative_to(self.ws.root).as_posix()
        diff = unified_diff(old or "", new, rel)
        if not self.allowed("edit", diff):
            return ToolOutcome(f"the user declined the change to {path}", ok=False)
        sha = self.checkpoints.snapshot([rel], task=self.task_id, label=label)
        self.ws.write_text(path, new)
        verb = "created" if old is None else "edited"
        return ToolOutcome(f"{verb} {path}", changed={rel: old}, diff=diff, checkpoint=sha)

    def tool_edit(self, path: str, edits: list[dict[str, str]]) -> ToolOutcome:
        old = self._old(path)
        if old is None:
            return ToolOutcome(f"error: {path}: no such file (use write to create it)", ok=False)
        new = apply_blocks(old, parse_blocks(edits), path)
        return self._commit(path, old, new, f"edit {path}")

    def tool_write(
        self, path: str, content: str | None = None, instruction: str | None = None
    ) -> ToolOutcome:
        old = self._old(path)
        timings = None
        if content is None:
            if not instruction or self.provider is None:
                return ToolOutcome("error: write needs 'content' or an 'instruction'", ok=False)
            try:
                result = rewrite(
                    self.provider,
                    instruction,
                    old or "",
                    path=path,
                    max_tokens=rewrite_budget(old or "", self.reply_tokens),
                    cancel=self.cancel,
                )
            except ProviderError as exc:
                return ToolOutcome(f"error: the rewrite failed: {exc.message}", ok=False)
            if result.finish_reason == "length":
                return ToolOutcome("error: the rewrite was cut off; nothing written", ok=False)
            if result.finish_reason == "loop":
                return ToolOutcome(
                    "error: the rewrite kept repeating itself; nothing written", ok=False
                )
            if result.finish_reason != "stop":
                return ToolOutcome("error: the rewrite was interrupted; nothing written", ok=False)
            content, timings = result.text, result.timings
        outcome = self._commit(path, old, content, f"write {path}")
        outcome.model_timings = timings
        return outcome

    # -- running -----------------------------------------------------------
    def tool_run(self, command: str) -> ToolOutcome:
        assert self.sandbox is not None
        if not self.sandbox.permit("run", command):
            return ToolOutcome(f"the user declined to run: {command}", ok=False)
        result = run_shell(
            command,
            self.ws.root,
            timeout=self.run_timeout,
            cancel=self.cancel,
            sandbox=self.sandbox,
        )
        return ToolOutcome(result.report(), ok=result.exit_code == 0)

    def tool_test(self, path: str = "") -> ToolOutcome:
        if path and not self.ws.resolve(path).exists():
            return ToolOutcome(f"error: {path}: no such file or folder", ok=False)
        targets = [self.ws.rel(self.ws.resolve(path))] if path else []
        assert self.sandbox is not None
        if not self.sandbox.permit("test", "run the tests " + (path or "(all)")):
            return ToolOutcome("the user declined to run the tests", ok=False)
        run = run_tests(
            self.ws.root,
            targets,
            timeout=self.test_timeout,
            command=self.test_command,
            sandbox=self.sandbox,
        )
        state = "passed" if run.passed else f"FAILED (exit {run.exit_code})"
        return ToolOutcome(f"tests {state}\n{cap(run.output, 6000)}", ok=run.passed)

    def tool_done(self, summary: str = "") -> ToolOutcome:
        return ToolOutcome(summary or "done")
