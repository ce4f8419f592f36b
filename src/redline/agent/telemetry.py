"""Per-turn telemetry: where the time went and how well speculation paid off.

A turn is one model reply plus the tools it called. Model time includes any
rewrite requests made by the ``write`` tool (they are model work too), so the
speculative drafted/accepted counts of those rewrites show up here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from redline.providers.base import TimingsEvent, Usage


@dataclass
class TurnStats:
    turn: int
    started: float = field(default_factory=time.perf_counter)
    first_token_at: float | None = None
    model_s: float = 0.0
    tools_s: float = 0.0
    verify_s: float = 0.0
    completion_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    drafted_tokens: int = 0
    accepted_tokens: int = 0
    provider_ttft_s: float | None = None
    provider_tok_s: float | None = None
    provider: str = ""
    well_formed: bool = True

    def first_token(self) -> None:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()

    def add_timings(self, t: TimingsEvent, *, primary: bool) -> None:
        """Fold in a provider's measurement; ``primary`` is the turn's own reply."""
        self.drafted_tokens += t.drafted_tokens
        self.accepted_tokens += t.accepted_tokens
        if primary:
            self.provider_ttft_s, self.provider_tok_s = t.ttft_s, t.tok_s
            self.provider = t.provider
            self.completion_tokens = max(self.completion_tokens, t.completion_tokens)

    def add_usage(self, u: Usage) -> None:
        self.prompt_tokens += u.prompt_tokens
        self.cached_tokens += u.cached_tokens
        self.completion_tokens = max(self.completion_tokens, u.completion_tokens)

    def to_dict(self) -> dict[str, Any]:
        ttft = self.provider_ttft_s
        if ttft is None and self.first_token_at is not None:
            ttft = self.first_token_at - self.started
        tok_s = self.provider_tok_s
        if tok_s is None and self.completion_tokens and self.model_s:
            tok_s = self.completion_tokens / self.model_s
        return {
            "ttft_s": round(ttft, 4) if ttft is not None else None,
            "tok_s": round(tok_s, 2) if tok_s is not None else None,
            "completion_tokens": self.completion_tokens,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "model_s": round(self.model_s, 4),
            "tools_s": round(self.tools_s, 4),
            "verify_s": round(self.verify_s, 4),
            "total_s": round(time.perf_counter() - self.started, 4),
            "drafted_tokens": self.drafted_tokens,
            "accepted_tokens": self.accepted_tokens,
            "acceptance_rate": round(self.accepted_tokens / self.drafted_tokens, 4)
            if self.drafted_tokens
            else None,
            "provider": self.provider,
        }

    def compact(self) -> str:
        """One line for humans: ``ttft 0.21s · 95 tok/s · model 1.2s tools 0.3s verify 0.8s``."""
        d = self.to_dict()
        parts = []
        if d["ttft_s"] is not None:
            parts.append(f"ttft {d['ttft_s']:.2f}s")
        if d["tok_s"]:
            parts.append(f"{d['tok_s']:.0f} tok/s")
        parts.append(
            f"model {d['model_s']:.2f}s tools {d['tools_s']:.2f}s verify {d['verify_s']:.2f}s"
        )
        if d["drafted_tokens"]:
            parts.append(f"spec {d['accepted_tokens']}/{d['drafted_tokens']}")
        return " · ".join(parts)
