"""The tools the model calls: read, list, search, edit, write, run, test.

Each tool takes the validated arguments and returns a :class:`ToolOutcome` the
loop turns into an observation. Every tool acts through the
:class:`~redline.agent.environment.Environment`: files through its workspace
boundary, each change approved (per the approval mode), checkpointed, then
written atomically (``Environment.write``); commands and tests in its sandbox.
Errors a model can fix come back as text, not exceptions.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from redline.agent.editing.edits import (
    apply_blocks,
    parse_blocks,
    rewrite,
    rewrite_budget,
)
from redline.agent.environment import Environment
from redline.agent.environment.environment import Approve
from redline.agent.environment.shell import cap
from redline.agent.environment.workspace import Workspace
from redline.errors import EditError, ProviderError, WorkspaceError
from redline.providers.base import Provider, TimingsEvent

APPROVAL_MODES = ("suggest", "auto-edit", "full-auto")
READ_CAP = 12000

__all__ = ["APPROVAL_MODES", "READ_CAP", "Approve", "ToolBox", "ToolOutcome"]


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
    """The tools of one task, acting in one environment."""

    env: Environment
    task_id: str
    provider: Provider | None = None
    cancel: threading.Event | None = None
    reply_tokens: int = 1024
    """A model reply's token budget; a rewrite gets this at least (see ``rewrite_budget``)."""

    @property
    def ws(self) -> Workspace:
        return self.env.ws

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
    def commit(self, path: str, old: str | None, new: str, label: str) -> ToolOutcome:
        """Write ``new`` through the environment (approved, checkpointed, atomic)."""
        if new == old:
            return ToolOutcome(f"{path}: no change (the new text equals the old)", ok=False)
        written = self.env.write(path, old, new, task=self.task_id, label=label)
        if written is None:
            return ToolOutcome(f"the user declined the change to {path}", ok=False)
        verb = "created" if old is None else "edited"
        return ToolOutcome(
            f"{verb} {path}",
            changed={written.rel: old},
            diff=written.diff,
            checkpoint=written.checkpoint,
        )

    def tool_edit(self, path: str, edits: list[dict[str, str]]) -> ToolOutcome:
        old = self.env.old(path)
        if old is None:
            return ToolOutcome(f"error: {path}: no such file (use write to create it)", ok=False)
        new = apply_blocks(old, parse_blocks(edits), path)
        return self.commit(path, old, new, f"edit {path}")

    def tool_write(
        self, path: str, content: str | None = None, instruction: str | None = None
    ) -> ToolOutcome:
        old = self.env.old(path)
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
        outcome = self.commit(path, old, content, f"write {path}")
        outcome.model_timings = timings
        return outcome

    # -- running -----------------------------------------------------------
    def tool_run(self, command: str) -> ToolOutcome:
        if not self.env.sandbox.permit("run", command):
            return ToolOutcome(f"the user declined to run: {command}", ok=False)
        result = self.env.run_shell(command, cancel=self.cancel)
        return ToolOutcome(result.report(), ok=result.exit_code == 0)

    def tool_test(self, path: str = "") -> ToolOutcome:
        if path and not self.ws.resolve(path).exists():
            return ToolOutcome(f"error: {path}: no such file or folder", ok=False)
        targets = [self.ws.rel(self.ws.resolve(path))] if path else []
        if not self.env.sandbox.permit("test", "run the tests " + (path or "(all)")):
            return ToolOutcome("the user declined to run the tests", ok=False)
        run = self.env.run_tests(targets)
        state = "passed" if run.passed else f"FAILED (exit {run.exit_code})"
        return ToolOutcome(f"tests {state}\n{cap(run.output, 6000)}", ok=run.passed)

    def tool_done(self, summary: str = "") -> ToolOutcome:
        return ToolOutcome(summary or "done")
