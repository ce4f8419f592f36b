"""Inline completion: debounced, newest-request-wins, cancellable mid-generation.

The engine runs one generation at a time, so every model call goes through one
worker thread (``ModelWorker``). A request waits ``debounce_ms`` first; if a
newer completion request arrives meanwhile, the older one is *superseded*: its
``threading.Event`` is set, it returns nothing, and if it was already decoding
the engine stops at its next step and frees the worker for the newer one.
``$/cancelRequest`` cancels the handler's asyncio task; the same event is then
set, so the worker thread stops too.

Backends: a local model (embedded name or ``.gguf``) is driven directly through
the engine with a raw continuation prompt (``prompting.build_prompt``), or a
true fill-in-the-middle request when the model has FIM tokens; any other
provider gets a chat request that asks for the text at the cursor.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from redline.engine.engine import Engine
from redline.engine.types import GenerationRequest
from redline.errors import CancelledError, ProviderError
from redline.ide.prompting import (
    Boundary,
    CompletionContext,
    build_prompt,
    prefix_window,
    strip_fence,
    suffix_window,
)
from redline.providers.base import ChatRequest, ErrorEvent, Provider, TextDelta

T = TypeVar("T")

CHAT_SYSTEM = (
    "You are a code completion engine. Reply with only the code to insert at <CURSOR>: "
    "no explanation, no Markdown fences, and do not repeat code before or after the cursor."
)


class ModelWorker:
    """One thread for all model work: the engine is single-threaded anyway."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redline-model")
        self._running = 0

    @property
    def busy(self) -> bool:
        """True while a model call is queued or running (a cancelled one included)."""
        return self._running > 0

    async def run(self, fn: Callable[..., T], *args: Any, cancel: threading.Event) -> T:
        """Run ``fn`` on the worker; if the awaiting task is cancelled, set ``cancel``."""
        future = asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        self._running += 1
        future.add_done_callback(self._done)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()
            raise

    def _done(self, _future: object) -> None:
        self._running -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Completion:
    """One finished completion and what it cost."""

    text: str
    elapsed_s: float
    finish: str
    prompt_tokens: int = 0
    cached_tokens: int = 0


class Supersede:
    """Hands out cancel events; taking a new one cancels the previous one."""

    def __init__(self) -> None:
        self._current: threading.Event | None = None
        self._lock = threading.Lock()

    def take(self) -> threading.Event:
        event = threading.Event()
        with self._lock:
            if self._current is not None:
                self._current.set()
            self._current = event
        return event


def complete_with_engine(
    engine: Engine,
    ctx: CompletionContext,
    *,
    max_tokens: int,
    context_lines: int,
    suffix_lines: int,
    cancel: threading.Event,
    deadline_at: float = 0.0,
) -> Completion:
    """Run one completion on the engine (worker thread); stops at the boundary.

    At ``deadline_at`` (a ``time.perf_counter()`` instant; 0: none) generation
    stops and only the complete lines written so far are offered: a late
    suggestion is a useless one.
    """
    start = time.perf_counter()
    if engine.has_fim:
        request = GenerationRequest(
            prompt=prefix_window(ctx.prefix, context_lines),
            suffix=suffix_window(ctx.suffix, suffix_lines * 4),
            max_tokens=max_tokens,
            cancel=cancel,
        )
    else:
        prompt = build_prompt(ctx, context_lines=context_lines, suffix_lines=suffix_lines)
        request = GenerationRequest(prompt=prompt, max_tokens=max_tokens, cancel=cancel)
    boundary = Boundary(ctx)
    finish = "length"
    timings = None
    chunks = engine.generate(request)
    try:
        for chunk in chunks:
            if boundary.feed(chunk.text):
                finish = "boundary"
                break
            if deadline_at and time.perf_counter() > deadline_at:
                finish = "deadline"
                boundary.keep_whole_lines()
                break
            if chunk.finish_reason is not None:
                finish, timings = chunk.finish_reason, chunk.timings
    except CancelledError:
        finish = "cancelled"
    finally:
        chunks.close()
    timings = timings or engine.last_timings
    return Completion(
        text="" if finish == "cancelled" else boundary.text,
        elapsed_s=time.perf_counter() - start,
        finish=finish,
        prompt_tokens=timings.prompt_tokens if timings else 0,
        cached_tokens=timings.cached_tokens if timings else 0,
    )


def chat_messages(ctx: CompletionContext, context_lines: int, suffix_lines: int) -> list[dict]:
    """The chat turn for a provider without raw completion: the file with a cursor mark."""
    body = prefix_window(ctx.prefix, context_lines) + "<CURSOR>"
    body += suffix_window(ctx.suffix, suffix_lines * 4)
    return [
        {"role": "system", "content": CHAT_SYSTEM},
        {"role": "user", "content": f"File {ctx.path}:\n{body}"},
    ]


def complete_with_provider(
    provider: Provider,
    ctx: CompletionContext,
    *,
    max_tokens: int,
    context_lines: int,
    suffix_lines: int,
    cancel: threading.Event,
    deadline_at: float = 0.0,
) -> Completion:
    """Run one completion through any provider (worker thread); no deadline (remote
    providers answer whole replies here)."""
    start = time.perf_counter()
    request = ChatRequest(
        messages=chat_messages(ctx, context_lines, suffix_lines),
        max_tokens=max_tokens,
        temperature=0.0,
    )
    parts: list[str] = []
    events: Iterator[Any] = provider.stream(request, cancel)
    try:
        for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, ErrorEvent):
                error = event.error
                raise error if isinstance(error, Exception) else ProviderError(str(error))
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    boundary = Boundary(ctx)
    boundary.feed(strip_fence("".join(parts)))
    finish = "cancelled" if cancel.is_set() else "stop"
    return Completion(
        text="" if cancel.is_set() else boundary.text,
        elapsed_s=time.perf_counter() - start,
        finish=finish,
    )
