"""Turn what the ``openai`` client and ``httpx`` raise into ``ProviderError``.

One place decides which failures are safe to retry and how long a server asked
us to wait, and every message passes through :func:`redact` so that an API key
echoed back by a misbehaving server never reaches a log, a terminal or an
error object.
"""

from __future__ import annotations

import email.utils
import importlib
import json
import time
from types import ModuleType
from typing import Any

import openai

from redline.errors import ProviderError


def _transport_module() -> ModuleType:
    """The HTTP library the installed ``openai`` is built on (``httpx``, or ``httpx2``
    in openai 3), so that timeouts, limits and exception classes match its own."""
    for cls in openai.DefaultHttpxClient.__mro__:
        root = cls.__module__.split(".")[0]
        if root.startswith("httpx"):
            return importlib.import_module(root)
    return importlib.import_module("httpx")


http = _transport_module()

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
"""Statuses after which another attempt (here or on another provider) may succeed."""

MAX_MESSAGE = 300


class StreamError(Exception):
    """An error object that a server sent inside an event stream."""

    def __init__(self, body: Any) -> None:
        super().__init__("error in stream")
        self.body = body


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every non-trivial secret replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or an HTTP date), or None."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _body_message(body: Any) -> str | None:
    """The ``error.message`` of an OpenAI error body, however it arrived."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return body.strip() or None
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return None


def _status_error(exc: openai.APIStatusError, where: str) -> tuple[str, bool, float | None]:
    status = exc.status_code
    detail = _body_message(exc.body) or exc.response.reason_phrase or ""
    retry_after = parse_retry_after(exc.response.headers)
    message = f"{where} answered HTTP {status}: {detail}".rstrip(": ")
    return message, status in RETRYABLE_STATUS, retry_after


def _transport_error(exc: BaseException, where: str) -> tuple[str, bool]:
    """Connection-level failures: all retryable as long as no token was shown."""
    cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) else exc
    if isinstance(exc, openai.APITimeoutError) or isinstance(cause, http.TimeoutException):
        return f"{where} timed out", True
    if isinstance(cause, http.ConnectError):
        return f"cannot connect to {where} (connection refused or unreachable)", True
    if isinstance(cause, http.RemoteProtocolError | http.ReadError | http.WriteError):
        return f"{where} dropped the connection", True
    return f"connection to {where} failed", True


def map_error(
    exc: BaseException,
    *,
    provider: str,
    where: str,
    after_first_token: bool,
    secrets: tuple[str | None, ...] = (),
) -> ProviderError:
    """A ``ProviderError`` for ``exc``; ``where`` names the backend (its base URL)."""
    retry_after: float | None = None
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        message, retryable, retry_after = _status_error(exc, where)
        hint = _status_hint(exc.status_code)
    elif isinstance(exc, openai.APIConnectionError | http.TransportError):
        message, retryable = _transport_error(exc, where)
        hint = None
    elif isinstance(exc, StreamError | openai.APIError):
        detail = _body_message(exc.body) or str(exc)
        message = f"{where} reported an error: {detail}"
        retryable, hint = True, None
    else:
        message = f"{where} failed: {type(exc).__name__}: {exc}"
        retryable, hint = False, None
    if after_first_token:
        message += " (after the reply had started; the partial reply is incomplete)"
        retryable = False
    message = redact(message, *secrets)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return ProviderError(
        f"{provider}: {message}",
        hint=hint,
        retryable=retryable,
        retry_after=retry_after,
        after_first_token=after_first_token,
        provider=provider,
    )


def _status_hint(status: int) -> str | None:
    if status in (401, 403):
        return "check the API key in the provider's key environment variable"
    if status == 404:
        return "check the provider's base URL and model name (`redline providers`)"
    if status == 429:
        return "rate limited: wait, or add another provider and use the router"
    return None
