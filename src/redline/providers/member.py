"""A router's member, and how a member's failures are named.

Below the router, its hedge policy and its health store alike (all three use
them), so none of those imports another to reach a shared name.
:class:`Racer` is what the hedge policy asks of the router, as a protocol: the
policy runs on any router-like object without importing the router module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from redline.errors import ProviderError, RedlineError
from redline.providers.base import ChatRequest, Provider, TimingsEvent
from redline.providers.health import CircuitBreaker, LatencyStats


@dataclass
class Member:
    """A provider with what the router has learned about it."""

    provider: Provider
    breaker: CircuitBreaker
    stats: LatencyStats = field(default_factory=LatencyStats)
    in_flight: int = 0
    """Turns this member is streaming now (changed under the router's lock)."""

    @property
    def name(self) -> str:
        return self.provider.name


class Racer(Protocol):
    """What a policy that races members (``hedge.py``) needs from the router."""

    def candidates(
        self, request: ChatRequest, exclude: frozenset[str] = frozenset()
    ) -> Iterator[Member]: ...

    def busy(self, member: Member, change: int) -> None: ...

    def hedge_delay(self, member: Member) -> float: ...

    def record_success(
        self, member: Member, ttft_s: float, timings: TimingsEvent | None
    ) -> None: ...

    def record_failure(self, member: Member) -> None: ...

    def record_abandoned(self, member: Member, waited_s: float | None) -> None: ...

    def no_answer(self, errors: list[ProviderError]) -> ProviderError: ...


def as_provider_error(error: Exception, provider: str) -> ProviderError:
    """Any stream error as a ProviderError naming its provider."""
    if isinstance(error, ProviderError):
        return error
    message = error.message if isinstance(error, RedlineError) else str(error)
    return ProviderError(f"{provider}: {message}", provider=provider)


def after_start_error(error: ProviderError, provider: str) -> ProviderError:
    """The error shown when a reply dies after its first token: clear, never spliced."""
    if error.after_first_token and "partial reply" in error.message:
        return error
    return ProviderError(
        f"{error.message} (the reply from {provider} stopped part-way; it was not "
        "continued on another provider)",
        hint=error.hint or "retry the turn",
        retryable=False,
        after_first_token=True,
        provider=provider,
    )


def started_error(error: ProviderError, provider: str) -> ProviderError:
    """A reply that died part-way, to be restarted elsewhere (and named if none can)."""
    return ProviderError(
        error.message,
        hint=error.hint,
        retryable=True,
        after_first_token=True,
        provider=provider,
    )


def annotate(event: TimingsEvent, tried: list[str]) -> TimingsEvent:
    """The winner's timings, plus which providers were tried before it."""
    extra = dict(event.extra)
    extra["router_tried"] = list(tried)
    return dataclasses.replace(event, extra=extra)
