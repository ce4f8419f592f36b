"""Pure ASGI middleware: API key, request body limit, request metrics.

Pure ASGI (not ``BaseHTTPMiddleware``) so streamed responses pass through
untouched and a client disconnect still reaches the route.
"""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from redline.server.errors import AuthError, error_body, redline_error_body
from redline.server.metrics import ServerMetrics

OPEN_PATHS = frozenset({"/health"})
KNOWN = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/models",
    "/v1/ws",
    "/health",
    "/metrics",
    "/openapi.json",
)


class _TooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, body: dict, headers: list | None = None) -> None:
    raw = json.dumps(body).encode()
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": hdrs + (headers or [])})
    await send({"type": "http.response.body", "body": raw})


class GuardMiddleware:
    """Checks the bearer key, caps the body size and counts every response by status."""

    def __init__(
        self, app: ASGIApp, *, api_key: str | None, max_body_bytes: int, metrics: ServerMetrics
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body = max_body_bytes
        self.metrics = metrics

    def _authorised(self, scope: Scope) -> bool:
        if not self.api_key or scope["path"] in OPEN_PATHS:
            return True
        headers = dict(scope.get("headers") or [])
        value = headers.get(b"authorization", b"").decode("latin-1")
        scheme, _, token = value.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        endpoint = scope["path"] if scope["path"] in KNOWN else "other"
        if not self._authorised(scope):
            self.metrics.observe_request(endpoint, 401)
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": "invalid api key"})
                return
            body = redline_error_body(
                AuthError("missing or invalid API key (Authorization: Bearer)")
            )
            await _send_json(send, 401, body, [(b"www-authenticate", b"Bearer")])
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        await self._http(scope, receive, send, endpoint)

    async def _http(self, scope: Scope, receive: Receive, send: Send, endpoint: str) -> None:
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_body:
            await self._too_large(send, endpoint)
            return
        seen = 0
        started = overflow = False

        async def limited_receive() -> Message:
            nonlocal seen, overflow
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    overflow = True
                    raise _TooLarge()
            return message

        async def counting_send(message: Message) -> None:
            nonlocal started
            if overflow:  # the app answered a body it could not read: answer 413 instead
                if not started:
                    started = True
                    await self._too_large(send, endpoint)
                return
            if message["type"] == "http.response.start":
                started = True
                self.metrics.observe_request(endpoint, message["status"])
            await send(message)

        try:
            await self.app(scope, limited_receive, counting_send)
        except _TooLarge:
            if not started:
                await self._too_large(send, endpoint)

    async def _too_large(self, send: Send, endpoint: str) -> None:
        self.metrics.observe_request(endpoint, 413)
        body = error_body(
            f"request body exceeds {self.max_body} bytes",
            type="invalid_request_error",
            code="request_too_large",
        )
        await _send_json(send, 413, body)
