"""The HTTP routes: chat and text completions (JSON or SSE), models, health, metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from redline.server.chat import chat_chunks, chat_response, completion_chunks, completion_response
from redline.server.convert import chat_plan, completion_request
from redline.server.errors import ErrorResponse, ShuttingDownError, json_error_frame
from redline.server.openai_format import timing_headers
from redline.server.schemas import ChatCompletionRequest, CompletionRequest
from redline.server.state import ServerState

T = TypeVar("T")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 401, 404, 413, 429, 503)
}
router = APIRouter(responses=_ERRORS)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.redline
    if state.draining.is_set():
        raise ShuttingDownError("server is shutting down")
    return state


async def sse(objects: AsyncIterator[dict[str, Any]], cancel: Any) -> AsyncIterator[bytes]:
    """Server-sent events ending with ``data: [DONE]``; an error mid-stream is one
    ``data: {"error": ...}`` event. Leaving early (disconnect) cancels the job."""
    try:
        async for obj in objects:
            yield f"data: {json.dumps(obj, separators=(',', ':'))}\n\n".encode()
    except Exception as exc:  # after the 200 header an error can only be an event
        yield f"data: {json_error_frame(exc)}\n\n".encode()
    finally:
        cancel()
    yield b"data: [DONE]\n\n"


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it if the client hangs up first (non-streaming)."""
    task = asyncio.ensure_future(work)

    async def watch() -> None:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                task.cancel()
                return

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    finally:
        watcher.cancel()


@router.post("/v1/chat/completions")
async def create_chat_completion(body: ChatCompletionRequest, request: Request) -> Response:
    """OpenAI chat completions, with ``prediction``, ``tools`` and ``response_format``."""
    state = _state(request)
    plan = chat_plan(body, state.settings)
    started = await unless_disconnected(request, state.start(body.model, plan.request))
    if body.stream:
        include = bool(body.stream_options and body.stream_options.include_usage)
        objects = chat_chunks(started, plan, body.model, include_usage=include)
        return StreamingResponse(
            sse(objects, started.cancel), media_type="text/event-stream", headers=SSE_HEADERS
        )
    try:
        result, tm = await unless_disconnected(request, chat_response(started, plan, body.model))
    finally:
        started.cancel()
    return JSONResponse(result, headers=timing_headers(tm))


@router.post("/v1/completions")
async def create_completion(body: CompletionRequest, request: Request) -> Response:
    """Text completions; ``suffix`` is fill-in-the-middle for models with FIM tokens."""
    state = _state(request)
    gen = completion_request(body, state.settings)
    started = await unless_disconnected(request, state.start(body.model, gen))
    echo = gen.prompt if body.echo else None
    if body.stream:
        include = bool(body.stream_options and body.stream_options.include_usage)
        objects = completion_chunks(started, body.model, echo=echo, include_usage=include)
        return StreamingResponse(
            sse(objects, started.cancel), media_type="text/event-stream", headers=SSE_HEADERS
        )
    try:
        result, tm = await unless_disconnected(
            request, completion_response(started, body.model, echo=echo)
        )
    finally:
        started.cancel()
    return JSONResponse(result, headers=timing_headers(tm))


@router.get("/v1/models")
async def list_models(request: Request) -> dict[str, Any]:
    state: ServerState = request.app.state.redline
    data = []
    for name, worker in state.workers.items():
        info = worker.engine.info()
        data.append(
            {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": "redline",
                "x_redline": {"n_ctx": worker.engine.n_ctx, "fim": info.fim, "path": info.path},
            }
        )
    return {"object": "list", "data": data}


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Liveness and load: 503 while shutting down, so a balancer stops sending work."""
    state: ServerState = request.app.state.redline
    body = {
        "status": "draining" if state.draining.is_set() else "ok",
        "models": {n: {"waiting": w.waiting} for n, w in state.workers.items()},
    }
    return JSONResponse(body, status_code=503 if state.draining.is_set() else 200)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    state: ServerState = request.app.state.redline
    for name, worker in state.workers.items():
        state.metrics.observe_engine(name, worker.engine)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
