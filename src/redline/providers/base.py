"""The Provider protocol: one way to stream a chat turn from any backend.

The in-process engine, any OpenAI-compatible URL and the router all implement
it, so the agent is written once and runs on Cerebras, vLLM or the embedded
model alike. Events are small dataclasses; a stream always ends with exactly one
``Done`` or one ``ErrorEvent``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass
class ChatRequest:
    """A chat turn in OpenAI terms, plus ``prediction`` (the expected output)."""

    messages: list[dict[str, Any]]
    model: str | None = None
    max_tokens: int = 1024
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    prediction: str | None = None
    quotes: str | None = None
    """Text the reply will quote in pieces (the files in play); an engine that drafts
    may draft from it. Not on the OpenAI wire: remote providers ignore it."""
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    """False: at most one tool call per reply (OpenAI's parameter of the same name)."""
    response_format: dict[str, Any] | None = None
    restartable: bool = False
    """The caller can drop a partial reply: a router may then answer a stream that
    died part-way with :class:`Restart` and a whole new reply from another provider."""
    n: int = 1
    """Replies to this one turn (OpenAI ``n``): events of reply ``i`` carry ``choice=i``
    and each reply ends with a :class:`ChoiceDone`; one ``Usage`` (the prompt once)
    and one ``Done`` close the stream. A local engine decodes them in one batch."""
    greedy_first: bool = False
    """With ``n`` > 1: reply 0 is greedy (temperature 0), the others sampled."""


@dataclass
class TextDelta:
    text: str
    choice: int = 0
    """Which reply of an ``n`` > 1 request this piece belongs to."""


@dataclass
class ToolCallDelta:
    """A piece of a tool call; ``arguments`` pieces concatenate into JSON."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    choice: int = 0
    """Which reply of an ``n`` > 1 request this call belongs to (``index`` is the
    call's place among that reply's calls)."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    accepted_prediction_tokens: int = 0
    rejected_prediction_tokens: int = 0


@dataclass
class TimingsEvent:
    """Measured latency of this turn, as seen by the caller of ``stream``."""

    provider: str
    ttft_s: float
    total_s: float
    completion_tokens: int
    tok_s: float
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChoiceDone:
    """Reply ``choice`` of an ``n`` > 1 request has ended (only sent when ``n`` > 1;
    the stream's own ``Done`` still comes last)."""

    choice: int
    finish_reason: str = "stop"


@dataclass
class Done:
    finish_reason: str = "stop"


@dataclass
class Restart:
    """Everything this stream sent so far is abandoned: ``failed`` stopped part-way
    (``reason``) and a fresh reply from ``provider`` follows. Only requests marked
    ``restartable`` get one; the two replies are never to be joined."""

    failed: str
    provider: str
    reason: str = ""


@dataclass
class ErrorEvent:
    """The stream failed; ``error`` is a :class:`redline.errors.RedlineError`."""

    error: Exception


Event = TextDelta | ToolCallDelta | Usage | TimingsEvent | Restart | ChoiceDone | Done | ErrorEvent


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do, declared by the provider itself.

    The agent chooses its edit protocol and local-only behaviour from this (and
    a router reports its members' combined record), never from class names."""

    native_tools: bool = False
    """OpenAI ``tools`` are honoured, with well-formed calls."""
    fim: bool | None = False
    """Fill-in-the-middle (``suffix``) completions; None: unknown until tried."""
    prediction: bool = False
    """``prediction`` (the expected output) is used to speed the reply up."""
    n: bool = False
    """Several choices for one request (OpenAI ``n``)."""
    local_engine: bool = False
    """The model runs in this process (no network; one engine per model)."""
    model: str = ""
    """The model these describe (a router: its first member's)."""
    concurrent: bool = False
    """Requests may run at the same time (a server queues or batches them): N
    replies to one prompt go as N parallel requests where ``n`` is not offered."""
    candidates: int = 1
    """Replies a task with a check gets by default: measured for a local model
    (``redline tune``: rows that decode together at no more than 1.5x one reply's
    time); 1 where nothing measured what N costs."""


@runtime_checkable
class Provider(Protocol):
    """Anything that can stream a chat turn."""

    name: str

    def stream(
        self, request: ChatRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Yield events for one turn; stop early when ``cancel`` is set."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What this provider can do (see :class:`Capabilities`)."""
        ...


@dataclass
class CompletionRequest:
    """A raw text completion; ``suffix`` makes it fill-in-the-middle (FIM)."""

    prompt: str
    suffix: str | None = None
    max_tokens: int = 64
    temperature: float = 0.0
    stop: list[str] = field(default_factory=list)


@runtime_checkable
class TextCompleter(Protocol):
    """A provider that also completes raw text (``/v1/completions``): what inline
    completion uses, for the in-process engine and remote servers alike."""

    name: str

    def complete(
        self, request: CompletionRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Yield ``TextDelta`` events, then ``Done`` (or one ``ErrorEvent``)."""
        ...

    @property
    def supports_fim(self) -> bool | None:
        """Whether ``suffix`` is honoured: True/False when known, None to find out."""
        ...
