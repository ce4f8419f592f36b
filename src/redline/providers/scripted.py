"""A provider that replays recorded replies: deterministic agent tests and benchmarks.

Like mini-swe-agent's ``DeterministicModel``: each ``stream`` call consumes the
next scripted reply and streams it as real :mod:`redline.providers.base` events
(text in small chunks, tool-call deltas, usage, timings, ``Done``), honouring
``cancel`` between chunks. Requests are kept in ``requests`` for assertions.

Script format (JSON file or Python list)::

    {"native_tools": false,
     "replies": [
        "raw text reply",
        {"calls": [{"name": "read", "arguments": {"path": "a.py"}}]},
        {"text": "...", "calls": [...], "delay_s": 0.01, "chunk": 8,
         "finish_reason": "stop", "error": "message if this turn fails"}
     ]}

``calls`` become ``ToolCallDelta`` events when ``native_tools`` is true, and the
text format ``{"tool": name, "args": {...}}`` otherwise, so one script drives
both modes. A bare list is the same as ``{"replies": [...]}``.
"""

from __future__ import annotations

import difflib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from redline.errors import ProviderError
from redline.providers.base import (
    Capabilities,
    ChatRequest,
    Done,
    ErrorEvent,
    Event,
    TextDelta,
    TimingsEvent,
    ToolCallDelta,
    Usage,
)


class ScriptedProvider:
    """Replays ``replies`` in order; an exhausted script is a provider error."""

    name = "scripted"

    def __init__(
        self,
        replies: list[Any],
        *,
        native_tools: bool = False,
        delay_s: float = 0.0,
        chunk: int = 16,
    ):
        self.replies = list(replies)
        self.native_tools = native_tools
        self.delay_s = delay_s
        self.chunk = chunk
        self.requests: list[ChatRequest] = []

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> ScriptedProvider:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if isinstance(data, list):
            data = {"replies": data}
        options = {k: data[k] for k in ("native_tools", "delay_s", "chunk") if k in data}
        return cls(data.get("replies", []), **(options | overrides))

    @property
    def capabilities(self) -> Capabilities:
        """Native tools as the script says; no model name, so the agent drives it
        with the tool protocol unless an edit format is given."""
        return Capabilities(native_tools=self.native_tools)

    @property
    def remaining(self) -> int:
        return len(self.replies)

    def _text_of(self, reply: dict[str, Any]) -> str:
        text = reply.get("text", "")
        calls = reply.get("calls") or []
        if calls and not self.native_tools:
            shaped = [{"tool": c["name"], "args": c.get("arguments", {})} for c in calls]
            text += json.dumps(shaped[0] if len(shaped) == 1 else shaped)
        return text

    def stream(
        self, request: ChatRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        self.requests.append(request)
        if not self.replies:
            yield ErrorEvent(ProviderError("the script has no more replies", provider=self.name))
            return
        reply = self.replies.pop(0)
        reply = {"text": reply} if isinstance(reply, str) else dict(reply)
        if reply.get("error"):
            yield ErrorEvent(ProviderError(str(reply["error"]), provider=self.name))
            return
        delay = float(reply.get("delay_s", self.delay_s))
        size = max(1, int(reply.get("chunk", self.chunk)))
        start = time.perf_counter()
        first: float | None = None
        text = self._text_of(reply)
        for at in range(0, len(text), size):
            if cancel is not None and cancel.is_set():
                yield Done("cancelled")
                return
            if delay:
                time.sleep(delay)
            first = first or time.perf_counter()
            yield TextDelta(text[at : at + size])
        if self.native_tools:
            for i, call in enumerate(reply.get("calls") or []):
                first = first or time.perf_counter()
                args = json.dumps(call.get("arguments", {}))
                yield ToolCallDelta(i, id=call.get("id", f"call_{i}"), name=call["name"])
                yield ToolCallDelta(i, arguments=args[: len(args) // 2])
                yield ToolCallDelta(i, arguments=args[len(args) // 2 :])
        if cancel is not None and cancel.is_set():
            yield Done("cancelled")
            return
        total = time.perf_counter() - start
        out_tokens = max(1, len(text) // 4)
        drafted, accepted = _simulated_speculation(request.prediction, text)
        yield Usage(
            prompt_tokens=sum(len(str(m.get("content") or "")) for m in request.messages) // 4,
            completion_tokens=out_tokens,
            accepted_prediction_tokens=accepted,
            rejected_prediction_tokens=drafted - accepted,
        )
        yield TimingsEvent(
            provider=self.name,
            ttft_s=(first or time.perf_counter()) - start,
            total_s=total,
            completion_tokens=out_tokens,
            tok_s=out_tokens / total if total > 0 else 0.0,
            drafted_tokens=drafted,
            accepted_tokens=accepted,
            # A recorded reply may say the engine closed it for looping, as redline's does.
            extra={
                "simulated": True,
                **({"engine": {"looped": True}} if reply.get("looped") else {}),
            },
        )
        yield Done(str(reply.get("finish_reason", "stop")))


def _simulated_speculation(prediction: str | None, output: str) -> tuple[int, int]:
    """Rough drafted/accepted token counts (4 chars a token) for a predicted output."""
    if not prediction:
        return 0, 0
    matcher = difflib.SequenceMatcher(None, prediction, output, autojunk=False)
    same = sum(block.size for block in matcher.get_matching_blocks())
    return len(prediction) // 4, same // 4
