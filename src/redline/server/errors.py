"""OpenAI error objects: every failure leaves the server as ``{"error": {...}}``.

Redline's exceptions already carry ``status``/``code``/``type``/``param``; this
module adds the few that only the HTTP front door raises (queue full, auth,
body too large) and the handlers that turn validation failures into 400s, so a
bad request is never a 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from redline.errors import InvalidRequestError, RedlineError

log = logging.getLogger("redline.server")


class QueueFullError(RedlineError):
    """The model's request queue is at its limit; retry after ``retry_after`` seconds."""

    status = 429
    code = "queue_full"
    type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(RedlineError):
    status = 401
    code = "invalid_api_key"
    type = "invalid_request_error"


class ShuttingDownError(RedlineError):
    status = 503
    code = "shutting_down"
    type = "server_error"


class UnsupportedError(InvalidRequestError):
    """A valid OpenAI parameter that this server cannot honour truthfully."""

    code = "unsupported_parameter"


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The OpenAI error envelope (documented in the OpenAPI schema for every error status)."""

    error: ErrorDetail


def error_body(
    message: str, *, type: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def redline_error_body(exc: RedlineError) -> dict[str, Any]:
    message = exc.message if not exc.hint else f"{exc.message} (hint: {exc.hint})"
    return error_body(message, type=exc.type, code=exc.code, param=exc.param)


def redline_error_response(exc: RedlineError) -> JSONResponse:
    headers = {}
    if isinstance(exc, QueueFullError):
        headers["Retry-After"] = str(exc.retry_after)
    status = exc.status if 400 <= exc.status <= 599 else 500
    return JSONResponse(redline_error_body(exc), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "invalid request body", None
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    if first.get("type") == "json_invalid":
        return f"malformed JSON body: {first.get('msg', '')}", None
    where = f"'{param}'" if param else "the body"
    return f"invalid value for {where}: {first.get('msg', 'invalid')}", param


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception a route can raise to an OpenAI error response."""

    @app.exception_handler(RedlineError)
    async def _redline(_: Request, exc: RedlineError) -> JSONResponse:
        return redline_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = _validation_message(exc)
        body = error_body(
            message, type="invalid_request_error", code="invalid_request", param=param
        )
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = error_body(str(exc.detail), type=kind, code=code)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        body = error_body(f"internal error: {exc}", type="server_error", code="internal_error")
        return JSONResponse(body, status_code=500)


def json_error_frame(exc: BaseException) -> str:
    """An error as one SSE/WebSocket payload (after a stream has started)."""
    if isinstance(exc, RedlineError):
        return json.dumps(redline_error_body(exc))
    return json.dumps(
        error_body(f"internal error: {exc}", type="server_error", code="internal_error")
    )
