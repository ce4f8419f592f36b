"""The engine's small typed contract: what a caller asks for, what streams back.

Everything above the engine (server, providers, agent, LSP, benchmarks) speaks
in these types, so they stay free of llama.cpp details.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass
class GenerationRequest:
    """One generation. Exactly one of ``prompt`` or ``messages`` is set.

    ``prompt`` is raw completion text; with ``suffix`` it becomes
    fill-in-the-middle (the model must have FIM tokens). ``messages`` are chat
    turns rendered with the model's own chat template. ``prediction`` is text the
    output is expected to mostly repeat (the old file of an edit): it drives the
    speculative decoder and never changes a greedy output, only its speed.
    """

    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    suffix: str | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    prediction: str | None = None
    speculative: bool = False
    """Draft from n-grams of the prompt when there is no prediction (greedy only).

    Off by default: where measured it did not pay (a measured gate pauses it
    when it loses), and on this CPU a verify batch is not bit-identical to one-token
    decoding, so it can change a greedy output (``docs/engine.md``, *Exactness*)."""
    quotes: str | None = None
    """Text the output is likely to quote in pieces (the files an agent's reply edits):
    greedy drafts come from n-grams of this text and the output, not of the whole
    prompt. Unlike ``prediction`` it is not expected in order or in full."""
    grammar: str | None = None
    """A GBNF grammar that the output must match (plain decoding)."""
    add_generation_prompt: bool = True
    cancel: threading.Event | None = None
    n: int = 1
    """Continuations of this one prompt, decoded together (:mod:`redline.engine.group`):
    the prompt is evaluated once and its KV copied to the other sequences; continuation
    ``i`` samples with ``seed + i`` (each its own random seed without one)."""
    greedy_first: bool = False
    """With ``n`` > 1: continuation 0 stays greedy (temperature 0) while the others
    sample, so the model's own best answer is always among the candidates."""


@dataclass
class Timings:
    """What one call cost. Times in seconds; rates in tokens per second."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    restored_tokens: int = 0
    """Of the cached tokens, those copied back from the host-memory prompt cache."""
    completion_tokens: int = 0
    ttft_s: float = 0.0
    prompt_s: float = 0.0
    decode_s: float = 0.0
    total_s: float = 0.0
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    verify_batches: int = 0
    looped: bool = False
    """The grammar-constrained reply fell into a loop and was closed early."""

    @property
    def decode_tok_s(self) -> float:
        """Tokens after the first, per second of decoding (the usual definition)."""
        n = self.completion_tokens - 1
        return n / self.decode_s if n > 0 and self.decode_s > 0 else 0.0

    @property
    def prompt_tok_s(self) -> float:
        n = self.prompt_tokens - self.cached_tokens
        return n / self.prompt_s if n > 0 and self.prompt_s > 0 else 0.0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted_tokens / self.drafted_tokens if self.drafted_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["decode_tok_s"] = round(self.decode_tok_s, 2)
        out["prompt_tok_s"] = round(self.prompt_tok_s, 2)
        out["acceptance_rate"] = round(self.acceptance_rate, 4)
        return out


@dataclass
class Chunk:
    """A piece of output. The last chunk has ``finish_reason`` and ``timings``."""

    text: str
    tokens: list[int] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    timings: Timings | None = None
    index: int = 0
    """Which continuation of an ``n`` > 1 request this piece belongs to."""


@dataclass
class ModelInfo:
    """What ``redline models`` shows about one model."""

    name: str
    path: str
    size_bytes: int
    embedded: bool
    n_ctx_train: int | None = None
    chat_template: bool | None = None
    fim: bool | None = None
    description: str = ""
