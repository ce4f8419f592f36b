"""The in-process engine as a Provider: no HTTP hop, no serialisation.

Small models cannot be trusted to write a well-formed tool call or JSON on
their own, so tools and ``response_format`` are enforced by a grammar (see
``redline.engine.structured``). With tools the model answers one JSON object
(either tool calls or ``{"content": ...}``); that object is only meaningful
whole, so in tool mode the reply is buffered and emitted at the end as
``ToolCallDelta`` events (or as text), while plain turns stream token by token.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

from redline.engine.engine import DEFAULT_N_CTX, Engine, get_engine
from redline.engine.models import FIM_UNRELIABLE
from redline.engine.profile import profile_for
from redline.engine.structured import parse_reply
from redline.engine.turns import TurnPlan, plan_turn
from redline.engine.types import Chunk, GenerationRequest, Timings
from redline.errors import CancelledError, ProviderError, RedlineError
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
    ToolCallDelta,
    Usage,
)


class LocalProvider:
    """A GGUF model (embedded short name or path) run by this process's engine."""

    def __init__(
        self,
        model: str = "smollm2-135m",
        *,
        name: str | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        engine: Engine | None = None,
        speculation: bool = True,
        parallel: int = 1,
    ) -> None:
        self.model = model
        self.name = name or model
        self.n_ctx = n_ctx
        self._engine = engine
        self.speculation = speculation
        """False: no drafts at all (``prediction`` and ``quotes`` dropped), the
        one-token decoder only; how the benchmarks measure what drafts buy."""
        self.parallel = parallel
        """Requests the engine decodes together (continuous batching): set at
        construction (``redline exec --parallel N`` asks for N)."""

    def __repr__(self) -> str:
        return f"LocalProvider(name={self.name!r}, model={self.model!r})"

    @property
    def capabilities(self) -> Capabilities:
        """Tools by grammar, drafts from ``prediction``, and FIM once the model is
        known to have good FIM tokens (None until it is loaded)."""
        fim = self.supports_fim if self.loaded else None
        profile = self._engine.profile if self._engine is not None else profile_for(self.model)
        return Capabilities(
            native_tools=True,
            fim=fim,
            prediction=True,
            n=True,
            local_engine=True,
            model=self.model,
            candidates=profile.candidates if profile is not None else 1,
        )

    @property
    def loaded(self) -> bool:
        """Whether the engine is loaded (its settings are fixed from then on)."""
        return self._engine is not None

    def engine(self) -> Engine:
        """The engine, loaded on first use (one per model per process)."""
        if self._engine is None:
            self._engine = get_engine(self.model, n_ctx=self.n_ctx, parallel=self.parallel)
        return self._engine

    @property
    def supports_fim(self) -> bool:
        """FIM tokens that give good fill-ins (see ``engine.models.FIM_UNRELIABLE``)."""
        return self.engine().has_fim and self.model not in FIM_UNRELIABLE

    def complete(
        self, request: CompletionRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """A raw (or FIM, with ``suffix``) completion, streamed token by token."""
        gen = GenerationRequest(
            prompt=request.prompt,
            suffix=request.suffix,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            stop=list(request.stop),
            cancel=cancel,
        )
        chunks: Iterator[Any] | None = None
        finish = "stop"
        try:
            chunks = self.engine().generate(gen)
            for chunk in chunks:
                if chunk.text:
                    yield TextDelta(chunk.text)
                if chunk.finish_reason is not None:
                    finish = chunk.finish_reason
        except CancelledError:
            finish = "cancelled"
        except RedlineError as exc:
            yield ErrorEvent(exc)
            return
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        yield Done(finish)

    def plan(self, request: ChatRequest, cancel: threading.Event | None) -> TurnPlan:
        """The engine request for a chat turn (the adapter the server uses too)."""
        return plan_turn(
            request.messages,
            tools=request.tools,
            tool_choice=request.tool_choice,
            parallel_tool_calls=request.parallel_tool_calls,
            response_format=request.response_format,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=list(request.stop),
            prediction=request.prediction if self.speculation else None,
            quotes=request.quotes if self.speculation else None,
            cancel=cancel,
            n=request.n,
            greedy_first=request.greedy_first,
        )

    def stream(
        self, request: ChatRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Stream one turn from the engine; errors become one ``ErrorEvent``.

        With ``request.n`` > 1 the replies' events are interleaved, each tagged with
        its ``choice`` and closed by a ``ChoiceDone``; one ``Usage`` (the prompt counted
        once), one ``TimingsEvent`` (reply 0's) and one ``Done`` (reply 0's) end it."""
        started = time.monotonic()
        first_at: float | None = None
        n = request.n
        buffered: list[list[str]] = [[] for _ in range(n)]
        ends: dict[int, Chunk] = {}
        finishes: dict[int, str] = {}
        chunks: Iterator[Chunk] | None = None
        try:
            plan = self.plan(request, cancel)
            chunks = self.engine().generate(plan.request)
            for chunk in chunks:
                i = chunk.index
                if chunk.text:
                    if plan.tools:
                        buffered[i].append(chunk.text)
                    else:
                        first_at = first_at or time.monotonic()
                        yield TextDelta(chunk.text, choice=i)
                if chunk.finish_reason is not None:
                    ends[i] = chunk
                    if n > 1:
                        finishes[i] = yield from _reply_end(plan, chunk, "".join(buffered[i]))
                        yield ChoiceDone(i, finishes[i])
        except CancelledError:
            yield Done("cancelled")
            return
        except RedlineError as exc:
            yield ErrorEvent(exc)
            return
        except Exception as exc:  # an engine bug: reported as this provider's failure
            yield ErrorEvent(ProviderError(f"{self.name}: local engine failed: {exc}"))
            return
        finally:
            if chunks is not None:
                chunks.close()
        last = ends.get(0)
        if last is None or last.timings is None or len(ends) < n:
            yield ErrorEvent(ProviderError(f"{self.name}: the engine stopped without finishing"))
            return
        finish = last.finish_reason or "stop"
        timings = [ends[i].timings or Timings() for i in range(n)]
        if finish == "cancelled":
            # What was decoded before the stop was paid for: say so (an agent that
            # cut a looping reply still counts its tokens).
            yield from self._summary(timings, request, started, first_at)
            yield Done("cancelled")
            return
        if plan.tools:
            # The reply is buffered whole, but its first token was decoded (and
            # parsed by the grammar) at the engine's TTFT, not at the end.
            first_at = None
        if n == 1:
            finish = yield from _reply_end(plan, last, "".join(buffered[0]))
        else:
            finish = finishes[0]
        yield from self._summary(timings, request, started, first_at)
        yield Done(finish)

    def _summary(
        self, timings: list[Timings], request: ChatRequest, started: float, first_at: float | None
    ) -> Iterator[Event]:
        """One ``Usage`` for every reply (the prompt once: it was evaluated once) and
        reply 0's ``TimingsEvent``."""
        tm = timings[0]
        predicted = bool(request.prediction)
        accepted = sum(t.accepted_tokens for t in timings)
        drafted = sum(t.drafted_tokens for t in timings)
        yield Usage(
            prompt_tokens=tm.prompt_tokens,
            completion_tokens=sum(t.completion_tokens for t in timings),
            cached_tokens=tm.cached_tokens,
            accepted_prediction_tokens=accepted if predicted else 0,
            rejected_prediction_tokens=(drafted - accepted) if predicted else 0,
        )
        end = time.monotonic()
        extra: dict[str, Any] = {"engine": tm.to_dict()}
        if len(timings) > 1:
            extra["choices"] = [t.to_dict() for t in timings]
        yield TimingsEvent(
            provider=self.name,
            ttft_s=(first_at - started) if first_at is not None else tm.ttft_s,
            total_s=end - started,
            completion_tokens=tm.completion_tokens,
            tok_s=tm.decode_tok_s,
            drafted_tokens=tm.drafted_tokens,
            accepted_tokens=tm.accepted_tokens,
            extra=extra,
        )


def _reply_end(plan: TurnPlan, end: Chunk, text: str) -> Iterator[Event]:
    """A finished reply's buffered tool events (tool mode); returns its finish reason."""
    finish = end.finish_reason or "stop"
    if not plan.tools or finish == "cancelled":
        return finish
    calls = yield from _tool_events(text, end.index)
    if calls and finish != "length":
        finish = "tool_calls"
    return finish


def _tool_events(text: str, choice: int = 0) -> Iterator[Event]:
    """Events for a tool-mode reply; returns the number of tool calls."""
    content, calls = parse_reply(text)
    for index, call in enumerate(calls):
        yield ToolCallDelta(
            index=index,
            id=call["id"],
            name=call["function"]["name"],
            arguments=call["function"]["arguments"],
            choice=choice,
        )
    if not calls and content:
        yield TextDelta(content, choice=choice)
    return len(calls)
