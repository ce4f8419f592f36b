"""``/v1/ws``: many chat turns over one WebSocket, no per-turn HTTP handshake.

Protocol: the client sends a text frame holding a chat completion request body
(the JSON of ``POST /v1/chat/completions``; ``stream`` is implied). The server
answers with the same ``chat.completion.chunk`` objects the SSE stream carries,
one per text frame, then a frame ``[DONE]``. An error is one ``{"error": ...}``
frame followed by ``[DONE]``; the connection stays open for the next turn. A
frame ``{"type": "cancel"}`` during a turn stops it; closing the socket
cancels the generation too.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from redline.errors import InvalidRequestError
from redline.server.chat import chat_chunks
from redline.server.convert import chat_plan
from redline.server.errors import json_error_frame
from redline.server.schemas import ChatCompletionRequest
from redline.server.state import ServerState

router = APIRouter()


def _parse(text: str) -> ChatCompletionRequest:
    try:
        return ChatCompletionRequest.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first.get("loc", ())) or None
        if first.get("type") == "json_invalid":
            raise InvalidRequestError(f"malformed JSON: {first.get('msg')}") from None
        raise InvalidRequestError(
            f"invalid value for '{param}': {first.get('msg')}", param=param
        ) from None


class _Socket:
    """One connection: a reader task feeds an inbox, turns run one at a time."""

    def __init__(self, ws: WebSocket, state: ServerState) -> None:
        self.ws = ws
        self.state = state
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.early: deque[str | None] = deque()
        """Frames that arrived during a turn: the next turns (or the close)."""

    async def read(self) -> None:
        try:
            while True:
                await self.inbox.put(await self.ws.receive_text())
        except (WebSocketDisconnect, OSError, RuntimeError):
            await self.inbox.put(None)

    async def next_frame(self) -> str | None:
        return self.early.popleft() if self.early else await self.inbox.get()

    async def turn(self, text: str) -> None:
        """Run one turn, streaming frames; a cancel frame or a disconnect stops it."""
        body = _parse(text)
        plan = chat_plan(body, self.state.settings)
        started = await self.state.start(body.model, plan.request)
        include = bool(body.stream_options and body.stream_options.include_usage)

        async def watch() -> None:
            while True:
                msg = await self.inbox.get()
                if msg is None or _is_cancel(msg):
                    started.cancel()
                    if msg is None:
                        self.early.append(None)
                        return
                else:
                    self.early.append(msg)

        watcher = asyncio.ensure_future(watch())
        try:
            async for obj in chat_chunks(started, plan, body.model, include_usage=include):
                await self.ws.send_text(json.dumps(obj, separators=(",", ":")))
        finally:
            watcher.cancel()
            started.cancel()


def _is_cancel(text: str) -> bool:
    try:
        return json.loads(text) == {"type": "cancel"}
    except json.JSONDecodeError:
        return False


_GONE = (WebSocketDisconnect, OSError, RuntimeError)


@router.websocket("/v1/ws")
async def chat_socket(ws: WebSocket) -> None:
    await ws.accept()
    sock = _Socket(ws, ws.app.state.redline)
    reader = asyncio.ensure_future(sock.read())
    try:
        while True:
            text = await sock.next_frame()
            if text is None:
                return
            if _is_cancel(text):
                continue
            try:
                await sock.turn(text)
            except _GONE:
                return
            except Exception as exc:  # one bad turn must not end the session
                await ws.send_text(json_error_frame(exc))
            await ws.send_text("[DONE]")
    except _GONE:
        return
    finally:
        reader.cancel()
