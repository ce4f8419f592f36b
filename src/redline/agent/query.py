"""One model turn on the wire: build the request, drain the stream, parse the reply.

Kept apart from the loop so the loop reads as control flow only. Native tool
calls arrive as ``ToolCallDelta`` pieces; otherwise the text is parsed and the
request asks for the tool-call JSON schema so grammar-backed engines comply.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from redline.agent.telemetry import TurnStats
from redline.agent.toolcalls import (
    ParsedReply,
    assemble_native,
    openai_tools,
    parse_text_reply,
    text_schema,
)
from redline.providers.base import (
    ChatRequest,
    Done,
    ErrorEvent,
    Provider,
    Restart,
    TextDelta,
    TimingsEvent,
    ToolCallDelta,
    Usage,
)


@dataclass
class Streamed:
    """What came back: text, tool-call pieces by index, finish reason, error."""

    text: str = ""
    pieces: dict[int, dict[str, str]] = field(default_factory=dict)
    finish: str = "stop"
    error: Exception | None = None
    looped: bool = False
    """A redline engine closed the reply early because it fell into a loop."""


def build_request(
    messages: list[dict[str, Any]],
    native: bool,
    max_tokens: int,
    tools: Collection[str] | None = None,
) -> ChatRequest:
    """The turn's request, offering ``tools`` (all when None)."""
    # Restartable: a reply whose provider dies part-way is thrown away whole and
    # asked again elsewhere (see stream_reply); nothing is ever spliced.
    request = ChatRequest(
        messages=list(messages),
        max_tokens=max_tokens,
        restartable=True,
        quotes=quotes_of(messages),
    )
    if native:
        request.tools = openai_tools(tools)
        # One call per turn: each result is seen before the next step (Codex does
        # the same), and a small model cannot run a list of calls to the limit.
        request.parallel_tool_calls = False
        # Every turn is a call; the task ends with `done`. Left to "auto", a small
        # model answers in prose (a file's code as text) and runs it to the limit,
        # where no grammar can close it into something the agent can use.
        request.tool_choice = "required"
    else:
        request.response_format = text_schema(tools)
    return request


LOOP_CHECK_CHARS = 128


class LinkedEvent(threading.Event):
    """Set on its own or when ``parent`` is: a reply's own stop beside the task's cancel."""

    def __init__(self, parent: threading.Event) -> None:
        super().__init__()
        self.parent = parent

    def is_set(self) -> bool:
        return super().is_set() or self.parent.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            super().wait(0.05 if left is None else min(0.05, left))
        return True


QUOTES_CHARS = 48_000
"""The most recent tool results kept as the draft source (~12k tokens to index)."""


def quotes_of(messages: list[dict[str, Any]]) -> str | None:
    """What a tool call will quote: the tool results so far (files read, search hits).

    An ``edit`` call's ``search`` text and most of a ``write`` are copies of them.
    Native calls get results as ``tool`` messages; the text protocol as user
    messages after the task (the first one)."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    first = users[0] if users else len(messages)
    parts = [
        m["content"]
        for i, m in enumerate(messages)
        if (m.get("role") == "tool" or (m.get("role") == "user" and i > first))
        and isinstance(m.get("content"), str)
    ]
    text = "\n".join(parts)
    return text[-QUOTES_CHARS:] or None


def stream_reply(
    provider: Provider,
    request: ChatRequest,
    stats: TurnStats,
    cancel: threading.Event,
    on_text: Callable[[str], None],
    on_retry: Callable[[dict[str, Any]], None] | None = None,
    looping: Callable[[str], bool] | None = None,
) -> Streamed:
    """Drain one stream (always closing it), timing it into ``stats``.

    On a :class:`Restart` the reply so far is discarded (text and tool-call
    pieces) and ``on_retry`` hears what was abandoned, so a screen can mark the
    text already shown as void; the new provider's reply starts from nothing.
    ``looping`` is asked about the text so far every ``LOOP_CHECK_CHARS``; when it
    says yes the stream is closed there (finish ``length``, ``looped``): the rest
    of the reply would only repeat itself, at the price of decoding it.
    """
    out = Streamed()
    text: list[str] = []
    unchecked = 0
    start = time.perf_counter()
    # The loop stop cancels the generation (not the task): the provider ends it and
    # still reports what it cost (an in-process engine's timings and usage).
    halt = LinkedEvent(cancel)
    stream = provider.stream(request, halt)
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                stats.first_token()
                text.append(event.text)
                on_text(event.text)
                unchecked += len(event.text)
                if looping is not None and unchecked >= LOOP_CHECK_CHARS and not out.looped:
                    unchecked = 0
                    if looping("".join(text)):
                        out.looped = True
                        halt.set()
            elif isinstance(event, ToolCallDelta):
                stats.first_token()
                piece = out.pieces.setdefault(event.index, {"id": "", "name": "", "arguments": ""})
                piece["id"] = event.id or piece["id"]
                piece["name"] = event.name or piece["name"]
                piece["arguments"] += event.arguments
            elif isinstance(event, TimingsEvent):
                stats.add_timings(event, primary=True)
                engine_looped = bool((event.extra.get("engine") or {}).get("looped"))
                out.looped = out.looped or engine_looped
            elif isinstance(event, Usage):
                stats.add_usage(event)
            elif isinstance(event, Restart):
                abandoned = "".join(text)
                text.clear()
                out.pieces.clear()
                if on_retry is not None:
                    on_retry(
                        {
                            "failed": event.failed,
                            "provider": event.provider,
                            "reason": event.reason,
                            "abandoned_text": abandoned,
                        }
                    )
            elif isinstance(event, Done):
                out.finish = event.finish_reason
            elif isinstance(event, ErrorEvent):
                out.error = event.error
            if cancel.is_set():
                out.finish = "cancelled"
                break
    finally:
        getattr(stream, "close", lambda: None)()
        stats.model_s += time.perf_counter() - start
    if out.looped and not cancel.is_set():
        out.finish, out.error = "length", None  # cut here on purpose, not failed
    out.text = "".join(text)
    return out


def parse_reply(native: bool, got: Streamed) -> ParsedReply:
    """Calls from a reply; ``well_formed`` is False for a cut-off or malformed one."""
    if native and got.pieces:
        parsed = assemble_native(got.text, got.pieces)
    elif native:
        has_text = bool(got.text.strip())
        parsed = ParsedReply(got.text, [], has_text, "" if has_text else "empty reply")
    else:
        parsed = parse_text_reply(got.text)
    if got.finish == "length" and parsed.calls and parsed.well_formed:
        # The engine closed the JSON at the limit: well formed, but cut short.
        parsed.cut = True
        parsed.looped = got.looped
    elif got.finish in ("length", "cancelled"):
        parsed.well_formed = False
        parsed.problem = parsed.problem or f"reply ended early ({got.finish})"
    return parsed


def assistant_message(native: bool, parsed: ParsedReply, got: Streamed) -> dict[str, Any]:
    """The reply as it goes into the conversation (partial replies are marked)."""
    if got.finish == "cancelled" or got.error is not None:
        note = "[interrupted by the user]" if got.error is None else "[reply failed]"
        return {"role": "assistant", "content": (parsed.text + "\n" + note).strip()}
    if native and parsed.calls:
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.raw or "{}"},
            }
            for c in parsed.calls
        ]
        return {"role": "assistant", "content": parsed.text or None, "tool_calls": calls}
    return {"role": "assistant", "content": parsed.text}
