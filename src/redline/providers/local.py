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
from redline.engine.structured import (
    parse_reply,
    response_format_grammar,
    tools_grammar,
    with_tools_prompt,
)
from redline.engine.types import GenerationRequest, Timings
from redline.errors import CancelledError, ProviderError, RedlineError
from redline.providers.base import (
    Capabilities,
    ChatRequest,
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
        return Capabilities(
            native_tools=True, fim=fim, prediction=True, local_engine=True, model=self.model
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

    def generation_request(
        self, request: ChatRequest, cancel: threading.Event | None
    ) -> tuple[GenerationRequest, bool]:
        """The engine request for a chat turn, and whether it is in tool mode."""
        messages = request.messages
        grammar = None
        tool_mode = bool(request.tools) and request.tool_choice != "none"
        if tool_mode:
            assert request.tools is not None
            grammar = tools_grammar(request.tools, request.tool_choice, request.parallel_tool_calls)
            messages = with_tools_prompt(messages, request.tools, request.tool_choice)
        elif request.response_format:
            grammar = response_format_grammar(request.response_format)
        gen = GenerationRequest(
            messages=messages,
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=list(request.stop),
            prediction=request.prediction if self.speculation else None,
            quotes=request.quotes if self.speculation else None,
            grammar=grammar,
            cancel=cancel,
        )
        return gen, tool_mode

    def stream(
        self, request: ChatRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Stream one turn from the engine; errors become one ``ErrorEvent``."""
        started = time.monotonic()
        first_at: float | None = None
        buffered: list[str] = []
        last = None
        chunks: Iterator[Any] | None = None
        try:
            gen, tool_mode = self.generation_request(request, cancel)
            chunks = self.engine().generate(gen)
            for chunk in chunks:
                if chunk.text:
                    if tool_mode:
                        buffered.append(chunk.text)
                    else:
                        first_at = first_at or time.monotonic()
                        yield TextDelta(chunk.text)
                if chunk.finish_reason is not None:
                    last = chunk
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
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        if last is None or last.timings is None:
            yield ErrorEvent(ProviderError(f"{self.name}: the engine stopped without finishing"))
            return
        finish = last.finish_reason
        if finish == "cancelled":
            # What was decoded before the stop was paid for: say so (an agent that
            # cut a looping reply still counts its tokens).
            yield from self._summary(last.timings, request, started, first_at)
            yield Done("cancelled")
            return
        if tool_mode:
            # The reply is buffered whole, but its first token was decoded (and
            # parsed by the grammar) at the engine's TTFT, not at the end.
            first_at = None
            calls = yield from _tool_events("".join(buffered))
            if calls and finish != "length":
                finish = "tool_calls"
        yield from self._summary(last.timings, request, started, first_at)
        yield Done(finish)

    def _summary(
        self, tm: Timings, request: ChatRequest, started: float, first_at: float | None
    ) -> Iterator[Event]:
        predicted = bool(request.prediction)
        yield Usage(
            prompt_tokens=tm.prompt_tokens,
            completion_tokens=tm.completion_tokens,
            cached_tokens=tm.cached_tokens,
            accepted_prediction_tokens=tm.accepted_tokens if predicted else 0,
            rejected_prediction_tokens=(tm.drafted_tokens - tm.accepted_tokens) if predicted else 0,
        )
        end = time.monotonic()
        yield TimingsEvent(
            provider=self.name,
            ttft_s=(first_at - started) if first_at is not None else tm.ttft_s,
            total_s=end - started,
            completion_tokens=tm.completion_tokens,
            tok_s=tm.decode_tok_s,
            drafted_tokens=tm.drafted_tokens,
            accepted_tokens=tm.accepted_tokens,
            extra={"engine": tm.to_dict()},
        )


def _tool_events(text: str) -> Iterator[Event]:
    """Events for a tool-mode reply; returns the number of tool calls."""
    content, calls = parse_reply(text)
    for index, call in enumerate(calls):
        yield ToolCallDelta(
            index=index,
            id=call["id"],
            name=call["function"]["name"],
            arguments=call["function"]["arguments"],
        )
    if not calls and content:
        yield TextDelta(content)
    return len(calls)
