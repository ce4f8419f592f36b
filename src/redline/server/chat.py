"""Chat and text completions as sequences of OpenAI objects.

Both the SSE route and the WebSocket route stream the same objects from
:func:`chat_chunks`; the non-streaming route folds the engine chunks into one
response with :func:`chat_response`. With tools, the reply is grammar-forced
JSON that only means something whole, so it is buffered and sent as one
``tool_calls`` delta (or content) at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redline.engine.structured import parse_reply
from redline.engine.types import Chunk, Timings
from redline.server.convert import ChatPlan
from redline.server.openai_format import (
    ChatFormatter,
    TextFormatter,
    finish_reason,
    timings_ext,
    usage,
)
from redline.server.state import Started


def _tool_deltas(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"index": i, **call} for i, call in enumerate(calls)]


def _accounting(started: Started, tm: Timings, reason: str | None) -> tuple[dict, dict]:
    job = started.job
    predicted = bool(job.request.prediction)
    use = usage(tm, predicted=predicted, prediction_tokens=job.prediction_tokens)
    ext = timings_ext(tm, queue_s=job.queue_s, cancelled=reason == "cancelled")
    return use, ext


async def chat_chunks(
    started: Started, plan: ChatPlan, model: str, *, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    """``chat.completion.chunk`` objects; the last carries finish_reason and timings."""
    f = ChatFormatter(model)
    parts: list[str] = []
    role_sent = False
    last = Chunk("")
    async for chunk in started.chunks():
        last = chunk
        if plan.tools:
            parts.append(chunk.text)
        elif chunk.text or not role_sent:
            delta = {"content": chunk.text}
            if not role_sent:
                delta = {"role": "assistant", **delta}
                role_sent = True
            yield f.chunk(delta)
    tm = last.timings or Timings()
    calls: list[dict[str, Any]] = []
    if plan.tools:
        content, calls = parse_reply("".join(parts))
        delta: dict[str, Any] = {"role": "assistant"}
        if calls:
            delta.update(content=None, tool_calls=_tool_deltas(calls))
        else:
            delta["content"] = content or ""
        yield f.chunk(delta)
    use, ext = _accounting(started, tm, last.finish_reason)
    yield f.chunk(
        {}, finish_reason(last.finish_reason, bool(calls)), extra={"x_redline_timings": ext}
    )
    if include_usage:
        yield f.usage_chunk(use, ext)


async def _collect(started: Started) -> tuple[str, Chunk]:
    parts: list[str] = []
    last = Chunk("")
    async for chunk in started.chunks():
        parts.append(chunk.text)
        last = chunk
    return "".join(parts), last


async def chat_response(started: Started, plan: ChatPlan, model: str) -> tuple[dict, Timings]:
    """One ``chat.completion`` object (and the timings, for response headers)."""
    text, last = await _collect(started)
    tm = last.timings or Timings()
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    calls: list[dict[str, Any]] = []
    if plan.tools:
        content, calls = parse_reply(text)
        message["content"] = content
        if calls:
            message["tool_calls"] = calls
    use, ext = _accounting(started, tm, last.finish_reason)
    reason = finish_reason(last.finish_reason, bool(calls))
    return ChatFormatter(model).response(message, reason, use, ext), tm


async def completion_chunks(
    started: Started, model: str, *, echo: str | None, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    """Streamed ``text_completion`` objects; with ``echo`` the prompt comes first."""
    f = TextFormatter(model)
    if echo:
        yield f.obj(echo, None)
    last = Chunk("")
    async for chunk in started.chunks():
        last = chunk
        if chunk.text:
            yield f.obj(chunk.text, None)
    tm = last.timings or Timings()
    use, ext = _accounting(started, tm, last.finish_reason)
    yield f.obj("", finish_reason(last.finish_reason), extra={"x_redline_timings": ext})
    if include_usage:
        obj = f.obj("", None, extra={"usage": use, "x_redline_timings": ext})
        obj["choices"] = []
        yield obj


async def completion_response(
    started: Started, model: str, *, echo: str | None
) -> tuple[dict, Timings]:
    text, last = await _collect(started)
    tm = last.timings or Timings()
    use, ext = _accounting(started, tm, last.finish_reason)
    body = TextFormatter(model).obj(
        (echo or "") + text,
        finish_reason(last.finish_reason),
        extra={"usage": use, "x_redline_timings": ext},
    )
    return body, tm
