"""Showing agent events: rich text for people, one JSON object a line for programs.

Renderers are plain callables taking an event dict, so the loop knows nothing
about terminals; ``message`` events (the raw conversation) go only to the
session log, never to the screen.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

LOG_ONLY = {"message", "clear"}
PARALLEL_EVENTS = {"merge"}
"""Events about a sub-task from the parallel run itself: they print their own mark."""
SUB_SHOWN = {"tool_call", "edit_applied", "verification", "error", "done", "sandbox"}


class JsonRenderer:
    """``--json``: every event except the raw conversation, one per line, flushed."""

    def __init__(self, out: IO[str] | None = None):
        self.out = out or sys.stdout

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") in LOG_ONLY:
            return
        self.out.write(json.dumps(event, default=str) + "\n")
        self.out.flush()


class HumanRenderer:
    """Streaming text, tool calls in one dim line, coloured diffs, timings after each turn."""

    def __init__(self, console: Any = None, show_text: bool = True):
        from rich.console import Console

        self.console = console or Console(highlight=False)
        self.show_text = show_text
        self._mid_line = False

    def _end_text(self) -> None:
        if self._mid_line:
            self.console.print()
            self._mid_line = False

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        handler = getattr(self, f"on_{kind}", None)
        if handler is None:
            return
        if event.get("sub") is not None and kind not in PARALLEL_EVENTS:
            # A sub-agent of a parallel run: interleaved streams are unreadable, so only
            # its steps show, each marked with its sub-task (the log keeps everything).
            if kind not in SUB_SHOWN:
                return
            self._end_text()
            self.console.print(f"[magenta]\\[{event['sub']}][/]", end=" ")
        if kind != "text_delta":
            # A streamed reply may end mid-line (cut at its stop sequence): whatever
            # comes next (a diff, a check) starts on a line of its own.
            self._end_text()
        handler(event)

    # -- parallel runs -------------------------------------------------------
    def on_plan(self, e: dict[str, Any]) -> None:
        self._end_text()
        self.console.print(f"[bold]plan[/] [dim]({e['source']}, {e['parallel']} at once)[/]")
        for i, sub in enumerate(e["subtasks"]):
            self.console.print(f"  [magenta]\\[{i}][/] {_escape(sub)}")

    def on_plan_fallback(self, e: dict[str, Any]) -> None:
        self.console.print(
            f"[yellow]no plan from the model[/] [dim]({_escape(e['reason'])}): "
            "running the whole task as one sub-task[/]"
        )

    def on_merge(self, e: dict[str, Any]) -> None:
        self._end_text()
        ok = e["result"] in ("merged", "nothing")
        colour = "green" if ok else "red"
        detail = _escape(e["detail"].splitlines()[0] if e["detail"] else "")
        self.console.print(f"[magenta]\\[{e['sub']}][/] [{colour}]{e['result']}[/] {detail}")
        if e.get("patch"):
            self.console.print(f"    [dim]changes kept in {_escape(e['patch'])}[/]")

    def on_cleanup(self, e: dict[str, Any]) -> None:
        for problem in e.get("problems", []):
            self.console.print(f"[yellow]cleanup:[/] {_escape(problem)}")

    def on_parallel_done(self, e: dict[str, Any]) -> None:
        self._end_text()
        colour = "green" if e["exit_code"] == 0 else "red"
        self.console.print(f"[{colour}]■ {e['status']}[/] {_escape(e['summary'])}")
        for s in e["subtasks"]:
            tokens = s["prompt_tokens"] + s["completion_tokens"]
            self.console.print(
                f"  [magenta]\\[{s['index']}][/] {s['status']:<12} {s['merge']:<13} "
                f"{s['seconds']:6.1f}s {s['turns']:>3} turns {tokens:>6} tokens  "
                f"[dim]{_escape(s['task'][:60])}[/]"
            )

    # -- candidates ----------------------------------------------------------
    def on_candidates_start(self, e: dict[str, Any]) -> None:
        self._end_text()
        self.console.print(f"[bold]{e['n']} candidates[/] [dim]checked by {_escape(e['check'])}[/]")

    def on_candidates_skipped(self, e: dict[str, Any]) -> None:
        self._end_text()
        self.console.print(f"[dim]{e['asked']} candidates asked, {_escape(e['reason'])}[/]")

    def on_candidate(self, e: dict[str, Any]) -> None:
        if not e["applied"]:
            why = f": {_escape(e['problem'])}" if e.get("problem") else ""
            verdict = f"[yellow]unusable reply{why}[/]"
        elif e["static_errors"]:
            verdict = f"[red]{e['static_errors']} static errors[/]"
        elif e["tests_run"]:
            colour = "green" if e["passed"] else "red"
            verdict = f"[{colour}]{e['tests_passed']} passed, {e['tests_failed']} failed[/]"
        else:
            verdict = "[green]static checks pass[/]"
        origin = f" repairs #{e['parent']}" if e.get("parent") is not None else ""
        self.console.print(
            f"  [dim]#{e['index']}{origin}[/] {verdict} "
            f"[dim]({e['change_lines']} lines changed, {e['seconds']:.1f}s)[/]"
        )

    def on_candidates_done(self, e: dict[str, Any]) -> None:
        kept = f"kept #{e['kept']}" if e["kept"] is not None else "[red]none kept[/]"
        self.console.print(
            f"  [bold]{e['passed']}/{e['ran']} passed[/] · {kept}: {_escape(e['reason'])} "
            f"[dim]({e['rounds']} rounds, {e['seconds']:.1f}s)[/]"
        )

    def on_text_delta(self, e: dict[str, Any]) -> None:
        if self.show_text:
            self.console.print(e["text"], end="", markup=False, highlight=False, soft_wrap=True)
            self._mid_line = not e["text"].endswith("\n")

    def on_tool_call(self, e: dict[str, Any]) -> None:
        self._end_text()
        args = ", ".join(f"{k}={_short(v)}" for k, v in e["arguments"].items())
        self.console.print(f"[bold cyan]→ {e['name']}[/]([dim]{_escape(args)}[/])")

    def on_tool_result(self, e: dict[str, Any]) -> None:
        mark = "[green]✓[/]" if e["ok"] else "[red]✗[/]"
        first = (e["output"].strip().splitlines() or [""])[0]
        self.console.print(f"  {mark} [dim]{_escape(first[:160])}[/]")

    def on_edit_applied(self, e: dict[str, Any]) -> None:
        from rich.syntax import Syntax

        if e.get("diff"):
            self.console.print(
                Syntax(e["diff"], "diff", theme="ansi_dark", background_color="default")
            )

    def on_verification(self, e: dict[str, Any]) -> None:
        if e["passed"]:
            tests = e.get("tests")
            extra = f", tests passed ({tests['command'].split()[-1]})" if tests else ""
            self.console.print(f"  [green]verified[/][dim]{_escape(extra)}[/]")
            return
        self.console.print("  [red]verification failed[/]")
        for p in e.get("errors", [])[:8]:
            msg = f"{p['path']}:{p['line']}: {p['message']}"
            self.console.print(f"    [red]{_escape(msg)}[/]")
        if e.get("tests") and not e["tests"]["passed"]:
            tail = e["tests"]["output_tail"].strip().splitlines()[-3:]
            for line in tail:
                self.console.print(f"    [dim]{_escape(line)}[/]")

    def on_format_error(self, e: dict[str, Any]) -> None:
        self._end_text()
        self.console.print(f"  [yellow]malformed reply:[/] [dim]{_escape(e['problem'])}[/]")

    def on_reply_cut(self, e: dict[str, Any]) -> None:
        self._end_text()
        self.console.print(f"  [yellow]{e['name']} reached the token limit: not run[/]")

    def on_repeated_call(self, e: dict[str, Any]) -> None:
        self._end_text()
        self.console.print(f"  [yellow]repeated {e['name']} (x{e['count']}): not run again[/]")

    def on_turn_end(self, e: dict[str, Any]) -> None:
        self._end_text()
        t = e["timings"]
        bits = []
        if t.get("ttft_s") is not None:
            bits.append(f"ttft {t['ttft_s']:.2f}s")
        if t.get("tok_s"):
            bits.append(f"{t['tok_s']:.0f} tok/s")
        bits.append(f"model {t['model_s']:.2f}s · tools {t['tools_s']:.2f}s")
        bits.append(f"verify {t['verify_s']:.2f}s")
        if t.get("drafted_tokens"):
            bits.append(f"spec {t['accepted_tokens']}/{t['drafted_tokens']}")
        self.console.print(f"[dim]  turn {e['turn']}: {' · '.join(bits)}[/]")

    def on_retry(self, e: dict[str, Any]) -> None:
        """The text shown so far is void: say so plainly, the new reply starts below."""
        self._end_text()
        shown = len(e.get("abandoned_text") or "")
        self.console.print(
            f"[yellow]↺ abandoned the reply above[/] [dim]({shown} characters from "
            f"{_escape(e['failed'])}: {_escape(e.get('reason', '')[:120])}); "
            f"asking {_escape(e['provider'])} from scratch[/]"
        )

    def on_sandbox(self, e: dict[str, Any]) -> None:
        if e.get("note"):
            self._end_text()
            self.console.print(f"[yellow]sandbox:[/] [dim]{_escape(e['note'])}[/]")

    def on_error(self, e: dict[str, Any]) -> None:
        self._end_text()
        self.console.print(f"[red]error:[/] {_escape(e['message'])}")

    def on_done(self, e: dict[str, Any]) -> None:
        self._end_text()
        colour = "green" if e["exit_code"] == 0 else "red"
        files = ", ".join(e.get("files_changed", [])) or "no files changed"
        summary = _escape(e.get("summary") or "")
        self.console.print(f"[{colour}]■ {e['status']}[/] {summary} [dim]({files})[/]")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.replace("\n", "⏎")
    return text if len(text) <= 60 else text[:57] + "..."


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
