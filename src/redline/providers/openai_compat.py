"""Any OpenAI-compatible endpoint as a :class:`~redline.providers.base.Provider`.

Uses the official ``openai`` client with one pooled keep-alive HTTP client per
(base URL, key), shared by every provider object in the process, so an agent's
turns reuse a warm TLS connection instead of paying a handshake per turn.

Retries are deliberately narrow: only failures where the server cannot have
started work (connection refused, 429/503 with ``Retry-After``), only before
the first token, with jittered backoff. Everything else is surfaced at once as
a ``ProviderError`` so that the router can fail over to another backend instead
of waiting here. The API key is kept out of ``repr``, logs and error messages.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import openai

from redline.errors import ProviderError
from redline.providers.base import (
    Capabilities,
    ChatRequest,
    ChoiceDone,
    CompletionRequest,
    Done,
    ErrorEvent,
    Event,
    TextDelta,
    TimingsEvent,
)
from redline.providers.cancel import (
    abort_response,
    abort_thread,
    forget_thread,
    track_sockets,
    watch_cancel,
)
from redline.providers.http_errors import StreamError, http, map_error
from redline.providers.sse import delta_events, sse_chunks, usage_event

_CLIENTS: dict[tuple[str, str], openai.OpenAI] = {}
_CLIENTS_LOCK = threading.Lock()


def _key_id(api_key: str | None) -> str:
    """A stable, non-reversible id of a key, for the client cache."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:16] if api_key else "-"


def shared_client(base_url: str, api_key: str | None) -> openai.OpenAI:
    """The process-wide pooled client for ``base_url`` and this key."""
    cache_key = (base_url.rstrip("/"), _key_id(api_key))
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(cache_key)
        if client is None:
            http_client = openai.DefaultHttpxClient(
                limits=http.Limits(
                    max_connections=64, max_keepalive_connections=16, keepalive_expiry=90.0
                ),
            )
            # A placeholder (never None) keeps the client from reading OPENAI_API_KEY
            # and sending it to some other vendor's URL; local servers ignore it.
            client = openai.OpenAI(
                base_url=cache_key[0],
                api_key=api_key or "no-key",
                max_retries=0,
                http_client=http_client,
            )
            if not track_sockets(http_client):
                warnings.warn("cannot cancel requests before their headers", stacklevel=2)
            _CLIENTS[cache_key] = client
        return client


class OpenAICompatProvider:
    """One model behind one OpenAI-compatible base URL.

    ``read_timeout`` bounds the wait for each piece of the stream, the first
    token included; ``max_retries`` counts only the safe retries described in
    the module docstring (the router sets it to 0 and fails over instead).
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        send_prediction: bool = True,
        send_n: bool = True,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        max_retry_wait_s: float = 10.0,
        include_usage: bool = True,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.send_prediction = send_prediction
        self.send_n = send_n
        """The backend returns several choices for one request; else one per request."""
        self.timeout = http.Timeout(read_timeout, connect=connect_timeout)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_retry_wait_s = max_retry_wait_s
        self.include_usage = include_usage

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return (
            f"OpenAICompatProvider(name={self.name!r}, base_url={self.base_url!r}, "
            f"model={self.model!r}, api_key={key})"
        )

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            native_tools=True,
            fim=self.supports_fim,
            prediction=self.send_prediction,
            n=self.send_n,
            model=self.model,
            concurrent=True,
        )

    @property
    def has_key(self) -> bool:
        return bool(self._api_key)

    def request_kwargs(self, request: ChatRequest) -> dict[str, Any]:
        """The ``chat.completions.create`` arguments for ``request``."""
        kwargs: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": request.messages,
            "stream": True,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        }
        if self.include_usage:
            kwargs["stream_options"] = {"include_usage": True}
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.n > 1:
            kwargs["n"] = request.n
        if request.stop:
            kwargs["stop"] = request.stop
        if request.tools:
            kwargs["tools"] = request.tools
            if request.tool_choice is not None:
                kwargs["tool_choice"] = request.tool_choice
            if request.parallel_tool_calls is not None:
                kwargs["parallel_tool_calls"] = request.parallel_tool_calls
        if request.response_format:
            kwargs["response_format"] = request.response_format
        if request.prediction and self.send_prediction:
            kwargs["prediction"] = {"type": "content", "content": request.prediction}
        return kwargs

    def stream(
        self, request: ChatRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Stream one turn; see the module docstring for what is retried."""
        started = time.monotonic()
        client = shared_client(self.base_url, self._api_key)
        kwargs = self.request_kwargs(request)
        attempt = 0
        while True:
            if cancel is not None and cancel.is_set():
                yield Done("cancelled")
                return
            try:
                # The raw streaming response, not the SDK's Stream: that one closes the
                # connection at [DONE] without reading the body's end, which throws the
                # keep-alive connection away after every turn.
                manager = client.chat.completions.with_streaming_response.create(
                    **kwargs, timeout=self.timeout
                )
                raw = self._open(manager, cancel)
            except Exception as exc:  # mapped below; nothing is swallowed
                if cancel is not None and cancel.is_set():
                    yield Done("cancelled")  # we closed it ourselves
                    return
                error = self._error(exc, after_first_token=False)
                delay = self._retry_delay(exc, error, attempt)
                if delay is None:
                    yield ErrorEvent(error)
                    return
                attempt += 1
                if cancel is not None and cancel.wait(delay):
                    yield Done("cancelled")
                    return
                if cancel is None:
                    time.sleep(delay)
                continue
            try:
                yield from self._consume(raw, started, cancel, request.n)
            finally:
                manager.__exit__(None, None, None)
            return

    @property
    def supports_fim(self) -> bool | None:
        return None  # a server says so only by answering (or refusing) a suffix

    def complete(
        self, request: CompletionRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """``/v1/completions`` (with ``suffix`` for FIM), streamed as ``TextDelta``."""
        client = shared_client(self.base_url, self._api_key)
        kwargs: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": True,
            "timeout": self.timeout,
        }
        if request.suffix is not None:
            kwargs["suffix"] = request.suffix
        if request.stop:
            kwargs["stop"] = request.stop
        started = False
        finish = "stop"
        try:
            stream = client.completions.create(**kwargs)
            try:
                for chunk in stream:
                    if cancel is not None and cancel.is_set():
                        yield Done("cancelled")
                        return
                    for choice in chunk.choices[:1]:
                        if choice.text:
                            started = True
                            yield TextDelta(choice.text)
                        finish = choice.finish_reason or finish
            finally:
                stream.close()
        except Exception as exc:  # mapped to one ErrorEvent, as in stream()
            yield ErrorEvent(self._error(exc, after_first_token=started))
            return
        yield Done(finish)

    @staticmethod
    def _open(manager: Any, cancel: threading.Event | None) -> Any:
        """Send the request and wait for the headers; ``cancel`` closes the connection
        even now (many servers send headers only with the first token)."""
        me = threading.get_ident()
        unwatch = watch_cancel(cancel, lambda: abort_thread(me))
        try:
            return manager.__enter__()
        finally:
            unwatch()
            forget_thread(me)

    def _consume(
        self, raw: Any, started: float, cancel: threading.Event | None, n: int = 1
    ) -> Iterator[Event]:
        """Turn the SSE chunks into events; ``cancel`` aborts even a blocked read.

        With ``n`` > 1 every choice's pieces are events tagged with its ``index`` and
        each choice's finish a ``ChoiceDone``; the stream's ``Done`` is choice 0's."""
        first_at: float | None = None
        pieces = 0
        finish: str | None = None
        usage: dict[str, Any] | None = None
        engine: dict[str, Any] | None = None
        unwatch = watch_cancel(cancel, lambda: abort_response(raw.http_response))
        try:
            lines = raw.iter_lines()
            for chunk in sse_chunks(lines):
                if cancel is not None and cancel.is_set():
                    break
                if chunk.get("error"):
                    yield ErrorEvent(self._stream_error(chunk["error"], first_at is not None))
                    return
                usage = chunk.get("usage") or usage
                engine = chunk.get("x_redline_timings") or engine  # a redline server's
                for choice in (chunk.get("choices") or [])[:n]:
                    index = int(choice.get("index") or 0) if n > 1 else 0
                    for event in delta_events(choice.get("delta"), index):
                        if first_at is None:
                            first_at = time.monotonic()
                        pieces += 1
                        yield event
                    if n > 1 and choice.get("finish_reason"):
                        yield ChoiceDone(index, choice["finish_reason"])
                    if index == 0:
                        finish = choice.get("finish_reason") or finish
            for _ in lines:
                pass  # read the body to its end so the connection goes back to the pool
        except Exception as exc:  # mapped to an ErrorEvent unless we cancelled it
            if cancel is None or not cancel.is_set():
                yield ErrorEvent(self._error(exc, after_first_token=first_at is not None))
                return
        finally:
            unwatch()
        if cancel is not None and cancel.is_set():
            yield Done("cancelled")
            return
        yield from self._summary(usage, started, first_at, pieces, engine)
        yield Done(finish or "stop")

    def _summary(
        self,
        usage: dict[str, Any] | None,
        started: float,
        first_at: float | None,
        pieces: int,
        engine: dict[str, Any] | None = None,
    ) -> Iterator[Event]:
        end = time.monotonic()
        completion = pieces
        if usage is not None:
            completion = int(usage.get("completion_tokens") or pieces)
            yield usage_event(usage)
        ttft = (first_at or end) - started
        decode_s = end - (first_at or end)
        tok_s = (completion - 1) / decode_s if completion > 1 and decode_s > 0 else 0.0
        yield TimingsEvent(
            provider=self.name,
            ttft_s=ttft,
            total_s=end - started,
            completion_tokens=completion,
            tok_s=tok_s,
            extra={"engine": engine} if engine else {},
        )

    def _stream_error(self, body: Any, after_first_token: bool) -> ProviderError:
        """An error object sent inside the event stream."""
        return self._error(StreamError(body), after_first_token=after_first_token)

    def _error(self, exc: BaseException, *, after_first_token: bool) -> ProviderError:
        return map_error(
            exc,
            provider=self.name,
            where=self.base_url,
            after_first_token=after_first_token,
            secrets=(self._api_key,),
        )

    def _retry_delay(self, exc: BaseException, error: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when this failure is not retried here."""
        if attempt >= self.max_retries:
            return None
        refused = isinstance(exc, openai.APIConnectionError) and isinstance(
            exc.__cause__, http.ConnectError
        )
        throttled = (
            isinstance(exc, openai.APIStatusError)
            and exc.status_code in (429, 503)
            and error.retry_after is not None
        )
        if refused:
            return self.backoff_s * (2**attempt) * random.uniform(0.5, 1.5)
        if throttled and error.retry_after is not None:
            if error.retry_after > self.max_retry_wait_s:
                return None
            return error.retry_after + random.uniform(0.0, 0.1 + 0.1 * error.retry_after)
        return None
