"""Chat and text completions as sequences of OpenAI objects.

Both the SSE route and the WebSocket route stream the same objects from
:func:`chat_chunks`; the non-streaming route folds the engine chunks into one
response with :func:`chat_response`. With tools, the reply is grammar-forced
JSON that only means something whole, so it is buffered and sent as one
``tool_calls`` delta (or content) at the end.

A request with ``n`` > 1 streams the continuations' chunks interleaved as the
engine decodes them (one batch), each choice under its own ``index`` with its
own final chunk; ``usage`` counts the prompt once (it was evaluated once) and
the completion tokens of every choice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from redline.engine.turns import TurnPlan
from redline.engine.types import Chunk, Timings
from redline.server.openai_format import (
    ChatFormatter,
    TextFormatter,
    finish_reason,
    group_usage,
    timings_ext,
)
from redline.server.state import Started


def _tool_deltas(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"index": i, **call} for i, call in enumerate(calls)]


def _ext(started: Started, tm: Timings, reason: str | None) -> dict[str, Any]:
    return timings_ext(tm, queue_s=started.job.queue_s, cancelled=reason == "cancelled")


def _usage(started: Started, timings: list[Timings]) -> dict[str, Any]:
    job = started.job
    return group_usage(
        timings, predicted=bool(job.request.prediction), prediction_tokens=job.prediction_tokens
    )


def _group_ext(started: Started, ends: list[Chunk]) -> dict[str, Any]:
    """Choice 0's timings (the prompt's); with several choices, each one's beside them."""
    first = ends[0]
    ext = _ext(started, first.timings or Timings(), first.finish_reason)
    if len(ends) > 1:
        ext["choices"] = [_ext(started, c.timings or Timings(), c.finish_reason) for c in ends]
    return ext


def _ordered(ends: dict[int, Chunk], n: int) -> list[Chunk]:
    return [ends.get(i, Chunk("", finish_reason="cancelled", timings=Timings())) for i in range(n)]


async def chat_chunks(
    started: Started, plan: TurnPlan, model: str, *, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    """``chat.completion.chunk`` objects; each choice's last carries its finish_reason
    and timings."""
    n = plan.request.n
    f = ChatFormatter(model)
    parts: list[list[str]] = [[] for _ in range(n)]
    role_sent = [False] * n
    ends: dict[int, Chunk] = {}
    async for chunk in started.chunks():
        i = chunk.index
        if plan.tools:
            parts[i].append(chunk.text)
        elif chunk.text or not role_sent[i]:
            delta = {"content": chunk.text}
            if not role_sent[i]:
                delta = {"role": "assistant", **delta}
                role_sent[i] = True
            yield f.chunk(delta, index=i)
        if chunk.finish_reason is None:
            continue
        ends[i] = chunk
        calls: list[dict[str, Any]] = []
        if plan.tools:
            content, calls = plan.read("".join(parts[i]))
            delta: dict[str, Any] = {"role": "assistant"}
            if calls:
                delta.update(content=None, tool_calls=_tool_deltas(calls))
            else:
                delta["content"] = content or ""
            yield f.chunk(delta, index=i)
        ext = _ext(started, chunk.timings or Timings(), chunk.finish_reason)
        reason = finish_reason(chunk.finish_reason, bool(calls))
        yield f.chunk({}, reason, index=i, extra={"x_redline_timings": ext})
    if include_usage:
        done = _ordered(ends, n)
        use = _usage(started, [c.timings or Timings() for c in done])
        yield f.usage_chunk(use, _group_ext(started, done))


async def _collect(started: Started, n: int) -> tuple[list[str], list[Chunk]]:
    parts: list[list[str]] = [[] for _ in range(n)]
    ends: dict[int, Chunk] = {}
    async for chunk in started.chunks():
        parts[chunk.index].append(chunk.text)
        if chunk.finish_reason is not None:
            ends[chunk.index] = chunk
    return ["".join(p) for p in parts], _ordered(ends, n)


async def chat_response(started: Started, plan: TurnPlan, model: str) -> tuple[dict, Timings]:
    """One ``chat.completion`` object (and choice 0's timings, for response headers)."""
    texts, ends = await _collect(started, plan.request.n)
    choices = []
    for i, (text, end) in enumerate(zip(texts, ends, strict=True)):
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        calls: list[dict[str, Any]] = []
        if plan.tools:
            content, calls = plan.read(text)
            message["content"] = content
            if calls:
                message["tool_calls"] = calls
        choices.append((i, message, finish_reason(end.finish_reason, bool(calls))))
    use = _usage(started, [c.timings or Timings() for c in ends])
    body = ChatFormatter(model).response(choices, use, _group_ext(started, ends))
    return body, ends[0].timings or Timings()


async def completion_chunks(
    started: Started, model: str, *, echo: str | None, include_usage: bool
) -> AsyncIterator[dict[str, Any]]:
    """Streamed ``text_completion`` objects; with ``echo`` each choice's prompt comes first."""
    n = started.job.request.n
    f = TextFormatter(model)
    if echo:
        for i in range(n):
            yield f.obj(echo, None, index=i)
    ends: dict[int, Chunk] = {}
    async for chunk in started.chunks():
        if chunk.text:
            yield f.obj(chunk.text, None, index=chunk.index)
        if chunk.finish_reason is not None:
            ends[chunk.index] = chunk
            ext = _ext(started, chunk.timings or Timings(), chunk.finish_reason)
            reason = finish_reason(chunk.finish_reason)
            yield f.obj("", reason, index=chunk.index, extra={"x_redline_timings": ext})
    if include_usage:
        done = _ordered(ends, n)
        use = _usage(started, [c.timings or Timings() for c in done])
        obj = f.obj("", None, extra={"usage": use, "x_redline_timings": _group_ext(started, done)})
        obj["choices"] = []
        yield obj


async def completion_response(
    started: Started, model: str, *, echo: str | None
) -> tuple[dict, Timings]:
    texts, ends = await _collect(started, started.job.request.n)
    use = _usage(started, [c.timings or Timings() for c in ends])
    f = TextFormatter(model)
    body = f.obj("", None, extra={"usage": use, "x_redline_timings": _group_ext(started, ends)})
    body["choices"] = [
        f.choice((echo or "") + text, finish_reason(end.finish_reason), i)
        for i, (text, end) in enumerate(zip(texts, ends, strict=True))
    ]
    return body, ends[0].timings or Timings()
