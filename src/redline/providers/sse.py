"""Server-sent events of an OpenAI chat stream, decoded into redline events.

Parsed by hand from the raw response lines (see ``openai_compat.py`` for why),
which also keeps redline working with servers whose chunks the SDK's strict
models would reject: only the fields redline uses are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from redline.providers.base import Event, TextDelta, ToolCallDelta, Usage


def sse_chunks(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """JSON objects of an SSE body's ``data:`` fields, up to ``[DONE]``."""
    buffer: list[str] = []
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, event names
        buffer.append(line[5:].removeprefix(" "))
        data = "\n".join(buffer)
        if data.strip() == "[DONE]":
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            continue  # a data field split over several lines: keep reading
        buffer.clear()
        if isinstance(chunk, dict):
            yield chunk


def delta_events(delta: dict[str, Any] | None, choice: int = 0) -> Iterator[Event]:
    """Text and tool-call pieces of one ``choices[i].delta`` (``choice`` is ``i``)."""
    if not delta:
        return
    if delta.get("content"):
        yield TextDelta(delta["content"], choice=choice)
    for call in delta.get("tool_calls") or ():
        function = call.get("function") or {}
        yield ToolCallDelta(
            index=int(call.get("index", 0)),
            id=call.get("id"),
            name=function.get("name"),
            arguments=function.get("arguments") or "",
            choice=choice,
        )


def usage_event(usage: dict[str, Any]) -> Usage:
    """The ``usage`` object, prediction and cache details included."""
    prompt_details = usage.get("prompt_tokens_details") or {}
    completion_details = usage.get("completion_tokens_details") or {}
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        accepted_prediction_tokens=int(completion_details.get("accepted_prediction_tokens") or 0),
        rejected_prediction_tokens=int(completion_details.get("rejected_prediction_tokens") or 0),
    )
