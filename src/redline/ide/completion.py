"""Inline completion: debounced, newest-request-wins, cancellable mid-generation.

The engine runs one generation at a time, so every model call goes through one
worker thread (``ModelWorker``). A request waits ``debounce_ms`` first; if a
newer completion request arrives meanwhile, the older one is *superseded*: its
``threading.Event`` is set, it returns nothing, and if it was already decoding
the engine stops at its next step and frees the worker for the newer one.
``$/cancelRequest`` cancels the handler's asyncio task; the same event is then
set, so the worker thread stops too.

Backends: every provider with a raw-completion path (the in-process engine,
any OpenAI-compatible server's ``/v1/completions``) goes through one function,
``complete_text``: fill-in-the-middle when the model has FIM tokens, else a raw
continuation prompt (``prompting.build_prompt``); a provider without one (the
router) gets a chat request that asks for the text at the cursor.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from redline.ide.prompting import (
    Boundary,
    CompletionContext,
    build_prompt,
    prefix_window,
    strip_fence,
    suffix_window,
)
from redline.providers.base import (
    ChatRequest,
    CompletionRequest,
    Event,
    Provider,
    TextCompleter,
    TextDelta,
)
from redline.providers.drain import Drained, drain

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


NO_FIM: set[str] = set()
"""Providers that refused a ``suffix`` once: asked with a plain prompt from then on."""


def complete_text(
    provider: TextCompleter,
    ctx: CompletionContext,
    *,
    max_tokens: int,
    context_lines: int,
    suffix_lines: int,
    cancel: threading.Event,
    deadline_at: float = 0.0,
) -> Completion:
    """One completion through a provider's raw-completion path (worker thread).

    The one path for local and remote models: fill-in-the-middle when the model
    has FIM tokens (or a remote server accepts ``suffix``), otherwise a raw
    continuation prompt that shows the code after the cursor as a comment. It
    stops at the syntactic boundary; at ``deadline_at`` (a ``perf_counter``
    instant, 0: none) only the complete lines written so far are offered.
    """
    start = time.perf_counter()
    fim = provider.supports_fim is not False and provider.name not in NO_FIM
    if fim:
        prompt = prefix_window(ctx.prefix, context_lines)
    else:
        prompt = build_prompt(ctx, context_lines=context_lines, suffix_lines=suffix_lines)
    # A prompt ending in indentation makes BPE models write " return" after it (one
    # space too many): the indentation is left to the model and taken off its text.
    indent = ctx.current_line if not ctx.current_line.strip() else ""
    prompt = prompt[: len(prompt) - len(indent)]
    request = CompletionRequest(
        prompt=prompt,
        suffix=suffix_window(ctx.suffix, suffix_lines * 4) if fim else None,
        max_tokens=max_tokens,
    )
    boundary = Boundary(ctx)
    ended = "length"
    head = ""  # text held back until the model's own indentation is known

    def feed(event: Event, so_far: Drained) -> bool:
        nonlocal indent, head, ended
        if not isinstance(event, TextDelta):
            return False
        piece = event.text
        if indent is not None:
            head += piece
            if not head.strip(" \t"):
                return False
            piece, indent = _drop_indent(head, indent), None
        if boundary.feed(piece):
            ended = "boundary"
            return True
        if deadline_at and time.perf_counter() > deadline_at:
            ended = "deadline"
            boundary.keep_whole_lines()
            return True
        return False

    got = drain(provider.complete(request, cancel), feed)
    if got.error is not None:
        if fim and provider.supports_fim is None and _refused_suffix(got.error):
            NO_FIM.add(provider.name)  # e.g. a server whose model has no FIM tokens
            return complete_text(
                provider,
                ctx,
                max_tokens=max_tokens,
                context_lines=context_lines,
                suffix_lines=suffix_lines,
                cancel=cancel,
                deadline_at=deadline_at,
            )
        got.raise_error()
    finish = ended if got.stopped else got.finish
    cancelled = finish == "cancelled" or cancel.is_set()
    return Completion(
        text="" if cancelled else boundary.text,
        elapsed_s=time.perf_counter() - start,
        finish="cancelled" if cancelled else finish,
    )


def _drop_indent(text: str, indent: str) -> str:
    """``text`` without the cursor's indentation, which the editor already has."""
    if text.startswith(indent):
        return text[len(indent) :]
    return text.lstrip(" \t") if len(text) - len(text.lstrip(" \t")) <= len(indent) else text


def _refused_suffix(error: object) -> bool:
    text = str(getattr(error, "message", error)).lower()
    return "suffix" in text or "fill-in-the-middle" in text or "fim" in text


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
    got = drain(provider.stream(request, cancel))
    got.raise_error()
    boundary = Boundary(ctx)
    boundary.feed(strip_fence(got.text))
    finish = "cancelled" if cancel.is_set() else "stop"
    return Completion(
        text="" if cancel.is_set() else boundary.text,
        elapsed_s=time.perf_counter() - start,
        finish=finish,
    )
