"""The interactive session: type a task, watch it stream, Ctrl-C to steer.

While the model works, SIGINT only sets the turn's cancel event: the provider
stops between tokens, the partial reply stays in the conversation marked as
interrupted, and the prompt comes back so the user can redirect ("real-time
steering"). No KeyboardInterrupt is raised mid-tool, so a write is never cut.
At the prompt, Ctrl-C clears the line and Ctrl-D (or /exit) leaves.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from redline.agent.loop import Agent
from redline.errors import RedlineError

HELP = """/undo      undo the last task's edits      /diff    show this session's changes
/model M   switch model (or provider:model) /tokens  timings of the last turns
/clear     forget the conversation          /exit    leave (also Ctrl-D)
/parallel N TASK   split TASK into sub-agents in git worktrees, N at once, merged back"""


class InteractiveSession:
    """A read-eval loop over one :class:`Agent` and a rich console."""

    def __init__(
        self,
        agent: Agent,
        console: Any,
        switch_model: Callable[[str], Any] | None = None,
        read_line: Callable[[str], str] = input,
    ):
        self.agent = agent
        self.console = console
        self.switch_model = switch_model
        self.read_line = read_line
        self.continues = bool(agent.messages)
        """The next line goes on in the conversation: the last task was interrupted (the
        line steers it), or the session was resumed with its conversation."""

    def loop(self) -> None:
        self.console.print(
            f"[bold]redline[/] · {self.agent.provider.name} · {self.agent.ws.root}\n"
            "[dim]Ctrl-C interrupts the model · /help for commands[/]"
        )
        while True:
            try:
                line = self.read_line("redline> ").strip()
            except KeyboardInterrupt:
                self.console.print("\n[dim](Ctrl-C) /exit or Ctrl-D to leave[/]")
                continue
            except EOFError:
                self.console.print()
                return
            if not line:
                continue
            if line.startswith("/"):
                if self.command(line) == "exit":
                    return
                continue
            self.task(line)

    @contextmanager
    def _interruptible(self) -> Iterator[threading.Event]:
        """While the block runs, Ctrl-C sets the returned event instead of raising."""
        cancel = threading.Event()

        def on_sigint(signum: int, frame: Any) -> None:
            cancel.set()

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield cancel
        finally:
            signal.signal(signal.SIGINT, previous)

    def task(self, text: str) -> None:
        try:
            with self._interruptible() as cancel:
                result = self.agent.run(text, cancel, follow_up=self.continues)
        except RedlineError as exc:
            self.console.print(f"[red]error:[/] {exc.message}")
            return
        self.continues = result.status == "interrupted"
        if self.continues:
            self.console.print("[yellow]interrupted[/] [dim]- context kept; type to steer[/]")

    def command(self, line: str) -> str | None:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        try:
            if name in ("/exit", "/quit"):
                return "exit"
            if name == "/help":
                self.console.print(HELP, markup=False)
            elif name == "/undo":
                done = self.agent.checkpoints.undo(int(arg) if arg else 1)
                for path, action in done:
                    self.console.print(f"[green]{action}[/] {path}")
            elif name == "/diff":
                self._diff()
            elif name == "/tokens":
                self._tokens()
            elif name == "/clear":
                self.agent.clear()
                self.console.print("[dim]conversation cleared[/]")
            elif name == "/model":
                self._model(arg)
            elif name == "/parallel":
                self._parallel(arg)
            else:
                self.console.print(f"unknown command {name}; /help lists them", markup=False)
        except (RedlineError, ValueError) as exc:
            self.console.print(f"[red]error:[/] {getattr(exc, 'message', exc)}")
        return None

    def _parallel(self, arg: str) -> None:
        """``/parallel N TASK``: the same run as ``redline exec --parallel N TASK``."""
        from redline.agent.subagents.parallel import ParallelRun

        count, _, task = arg.partition(" ")
        if not count.isdigit() or int(count) < 1 or not task.strip():
            self.console.print("usage: /parallel N TASK  (N sub-agents at once)", markup=False)
            return
        agent = self.agent
        run = ParallelRun(
            agent.provider,
            agent.ws.root,
            parallel=int(count),
            config=agent.config,
            approval=agent.approval,
            ask=agent.ask,
            emit=agent.sink,
            session_id=agent.session_id,
            checkpoints=agent.checkpoints,
        )
        with self._interruptible() as cancel:
            result = run.run(task.strip(), cancel=cancel)
        if result.status != "finished":
            self.console.print(f"[yellow]{result.status}:[/] {result.summary}", markup=True)

    def _diff(self) -> None:
        from rich.syntax import Syntax

        prefix = f"{self.agent.session_id}/"
        tasks = [t for t in self.agent.checkpoints.tasks() if t.startswith(prefix)]
        text = self.agent.checkpoints.diff(tasks)
        if text:
            self.console.print(Syntax(text, "diff", theme="ansi_dark", background_color="default"))
        else:
            self.console.print("[dim]no changes in this session[/]")

    def _tokens(self) -> None:
        if not self.agent.history:
            self.console.print("[dim]no turns yet[/]")
            return
        for t in self.agent.history[-10:]:
            ttft = f"{t['ttft_s']:.2f}s" if t.get("ttft_s") is not None else "-"
            tok_s = f"{t['tok_s']:.0f}" if t.get("tok_s") else "-"
            self.console.print(
                f"turn {t['turn']}: ttft {ttft} · {tok_s} tok/s · {t['completion_tokens']} tokens"
                f" · model {t['model_s']:.2f}s · tools {t['tools_s']:.2f}s"
                f" · verify {t['verify_s']:.2f}s"
                f" · spec {t['accepted_tokens']}/{t['drafted_tokens']}",
                markup=False,
            )

    def _model(self, arg: str) -> None:
        if not arg:
            self.console.print(f"model: {self.agent.provider.name}", markup=False)
            return
        if self.switch_model is None:
            self.console.print("switching models is not available here", markup=False)
            return
        was_native = self.agent.native
        self.agent.provider = self.switch_model(arg)
        self.console.print(f"now using {self.agent.provider.name}", markup=False)
        if self.agent.native != was_native:  # the tool-call format changes: start afresh
            self.agent.clear()
            self.console.print("[dim]conversation cleared (different tool format)[/]")
