"""The router: one Provider in front of several, sending each turn to the best.

Policies:

- ``fastest`` (default): rank providers by expected time (EWMA of time to first
  token plus ``typical_tokens`` at their EWMA decode speed). Providers without
  a warm estimate go first (the warm-up: a provider's first turn pays connection
  set-up, so it is not counted) and a provider whose estimate is older than
  ``explore_after_s`` is tried once more, so a backend that got faster is found
  again without a random coin deciding which request pays for it.
  A provider's expected time is multiplied by one plus the turns it is serving
  now (``in_flight``), so concurrent turns (parallel sub-agents, several
  clients) spread over the backends: the next turn goes where it would finish
  first if each backend served its turns one after another, and a much faster
  backend still takes several at once.
- ``ordered``: the configured order; the others are fail-over only.
- ``hedge``: like ``fastest``, but if the first choice has shown no token after a
  delay (its recent TTFT at ``hedge_quantile``), start the next one too, keep
  whichever shows a token first and cancel the other (see ``hedge.py``).

Every policy fails over when a stream dies before its first token. A stream
that dies after it is never continued elsewhere (two models' outputs are never
spliced into one reply): for a ``restartable`` request (the agent's turns) the
router sends :class:`~redline.providers.base.Restart`, so the caller drops the
partial reply, and asks the next healthy provider from scratch; otherwise the
failure is surfaced as an ``ErrorEvent``. Only when every provider has failed
does the turn fail. A circuit breaker per provider stops traffic after
repeated failures or a high failure rate over recent requests, and probes again
after a cooldown. Estimates come only from real traffic; with a
:class:`~redline.providers.health_store.HealthStore` they outlive the process
for a short while, so the next ``redline exec`` does not trust a dead backend.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from redline.errors import CancelledError, ProviderError
from redline.providers.base import (
    Capabilities,
    ChatRequest,
    Done,
    ErrorEvent,
    Event,
    Provider,
    Restart,
    TextDelta,
    TimingsEvent,
    ToolCallDelta,
)
from redline.providers.health import CircuitBreaker
from redline.providers.health_store import HealthStore
from redline.providers.hedge import stream_hedged
from redline.providers.member import (
    Member,
    after_start_error,
    annotate,
    as_provider_error,
    started_error,
)

POLICIES = ("fastest", "ordered", "hedge")


class Router:
    """A Provider that routes, hedges and fails over across ``providers``."""

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        name: str = "router",
        policy: str = "fastest",
        explore_after_s: float = 120.0,
        hedge_quantile: float = 0.9,
        hedge_min_delay_s: float = 0.05,
        hedge_default_delay_s: float = 1.0,
        failure_threshold: int = 3,
        failure_rate: float = 0.5,
        failure_window: int = 10,
        cooldown_s: float = 30.0,
        typical_tokens: int = 128,
        default_tok_s: float = 50.0,
        clock: Callable[[], float] = time.monotonic,
        health: HealthStore | None = None,
    ) -> None:
        if not providers:
            raise ProviderError("the router needs at least one provider")
        if policy not in POLICIES:
            raise ProviderError(f"unknown router policy {policy!r}; use one of {POLICIES}")
        names = [p.name for p in providers]
        if len(set(names)) != len(names):
            raise ProviderError(f"router providers must have distinct names, got {names}")
        self.name = name
        self.policy = policy
        self.explore_after_s = explore_after_s
        self.hedge_quantile = hedge_quantile
        self.hedge_min_delay_s = hedge_min_delay_s
        self.hedge_default_delay_s = hedge_default_delay_s
        self.typical_tokens = typical_tokens
        self.default_tok_s = default_tok_s
        self.clock = clock
        self.members = [
            Member(
                p,
                CircuitBreaker(
                    failure_threshold,
                    cooldown_s,
                    clock,
                    max_failure_rate=failure_rate,
                    window=failure_window,
                ),
            )
            for p in providers
        ]
        self._lock = threading.Lock()
        self.health = health
        if health is not None:
            with self._lock:
                health.restore(self.members, clock)

    def __repr__(self) -> str:
        names = ", ".join(m.name for m in self.members)
        return f"Router(name={self.name!r}, policy={self.policy!r}, providers=[{names}])"

    @property
    def capabilities(self) -> Capabilities:
        """What every member can do (a turn may land on any of them), for the
        first member's model: the one the ``ordered`` policy tries first."""
        caps = [m.provider.capabilities for m in self.members]
        fims = {c.fim for c in caps}
        return Capabilities(
            native_tools=all(c.native_tools for c in caps),
            fim=fims.pop() if len(fims) == 1 else False,
            prediction=all(c.prediction for c in caps),
            n=all(c.n for c in caps),
            local_engine=caps[0].local_engine,
            model=caps[0].model,
            candidates=min(c.candidates for c in caps),
            concurrent=all(c.concurrent for c in caps),
        )

    # -- ranking -------------------------------------------------------------------

    def ranked(self, request: ChatRequest | None = None) -> list[Member]:
        """Members in the order this policy would try them (breakers not applied)."""
        with self._lock:
            return self._rank(request)

    def _rank(self, request: ChatRequest | None) -> list[Member]:
        """``ranked`` with the lock held."""
        if self.policy == "ordered":
            return list(self.members)
        tokens = min(request.max_tokens if request else self.typical_tokens, self.typical_tokens)
        now = self.clock()
        keyed = []
        for position, member in enumerate(self.members):
            stats = member.stats
            expected = stats.expected_s(tokens, self.default_tok_s)
            stale = (
                stats.last_sample_at is not None
                and now - stats.last_sample_at > self.explore_after_s
            )
            probe = member.breaker.state == "half-open"
            if expected is None:
                group = 0  # untried: warm up, one turn at a time each
            elif probe or stale:
                group = 1  # probe a recovered breaker / refresh a stale estimate
            else:
                group = 2
            # busy members wait their turn: a new turn joins the shortest expected queue
            load = member.in_flight if expected is None else expected * (1 + member.in_flight)
            keyed.append((group, load, position, member))
        keyed.sort(key=lambda item: item[:3])
        return [item[3] for item in keyed]

    def busy(self, member: Member, change: int) -> None:
        """A turn on ``member`` starts (+1, done by ``candidates``) or ends (-1)."""
        with self._lock:
            member.in_flight += change

    def hedge_delay(self, member: Member) -> float:
        """How long to wait for ``member``'s first token before starting a backup."""
        with self._lock:
            tail = member.stats.percentile(self.hedge_quantile)
        if tail is None:
            return self.hedge_default_delay_s
        return max(self.hedge_min_delay_s, tail)

    def snapshot(self) -> list[dict[str, Any]]:
        """What the router believes, per provider (for `redline providers` and benchmarks)."""
        with self._lock:
            return [
                {
                    "name": m.name,
                    "ttft_s": m.stats.ttft_ewma,
                    "ttft_p90_s": m.stats.percentile(0.9),
                    "tok_s": m.stats.tok_s_ewma,
                    "samples": m.stats.samples,
                    "breaker": m.breaker.state,
                    "failures": m.breaker.failures,
                }
                for m in self.members
            ]

    # -- outcomes --------------------------------------------------------------------

    def record_success(self, member: Member, ttft_s: float, timings: TimingsEvent | None) -> None:
        member.breaker.success()
        with self._lock:
            member.stats.observe(ttft_s, timings.tok_s if timings else None, self.clock())
        self.persist()

    def record_failure(self, member: Member) -> None:
        member.breaker.failure()
        self.persist()

    def record_abandoned(self, member: Member, waited_s: float | None) -> None:
        """A request we cancelled (hedge loser, caller gave up): not a failure."""
        member.breaker.release()
        if waited_s is not None:
            with self._lock:
                member.stats.observe_censored(waited_s, self.clock())
            self.persist()

    def persist(self) -> None:
        """Write what was learned to the health store (if any) for the next process."""
        if self.health is None:
            return
        try:
            with self._lock:
                self.health.save(self.members, self.clock)
        except OSError as exc:  # a read-only state dir costs the memory, not the turn
            warnings.warn(f"router health not saved: {exc}", stacklevel=2)
            self.health = None

    # -- streaming -------------------------------------------------------------------

    def candidates(
        self, request: ChatRequest, exclude: frozenset[str] = frozenset()
    ) -> Iterator[Member]:
        """Members to try, best first, each admitted by its circuit breaker when reached.

        Each is ranked when it is needed and counted busy in the same step (under the
        lock), so turns that start together see each other and spread; the caller
        ends the count with ``busy(member, -1)`` when that member's stream is over."""
        seen = set(exclude)
        while True:
            with self._lock:
                pick = None
                for member in self._rank(request):
                    if member.name in seen:
                        continue
                    seen.add(member.name)
                    if member.breaker.allow():
                        pick = member
                        member.in_flight += 1
                        break
            if pick is None:
                return
            yield pick

    def stream(
        self, request: ChatRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        """Stream the turn from the best provider, failing over before the first token."""
        request = dataclasses.replace(request, model=None)  # each member asks for its own model
        if self.policy == "hedge":
            yield from stream_hedged(self, request, cancel)
            return
        errors: list[ProviderError] = []
        tried: list[str] = []
        broken: ProviderError | None = None  # a reply that died after it had started
        for member in self.candidates(request):
            if broken is not None:
                try:
                    yield Restart(str(broken.provider), member.name, broken.message)
                except GeneratorExit:  # closed here: the turn counted busy never ran
                    self.busy(member, -1)
                    raise
                broken = None
            tried.append(member.name)
            failure = yield from self.attempt(member, request, cancel, tried)
            if failure is None:
                return
            errors.append(failure)
            if failure.after_first_token:
                broken = failure
        if broken is not None:
            yield ErrorEvent(after_start_error(broken, str(broken.provider)))
            return
        yield ErrorEvent(self.no_answer(errors))

    def attempt(
        self,
        member: Member,
        request: ChatRequest,
        cancel: threading.Event | None,
        tried: list[str],
    ) -> Iterator[Event]:
        """Forward one member's stream (a turn ``candidates`` counted busy there);
        returns its error when the turn may go on elsewhere: it died before any
        token, or after one on a restartable request."""
        started = time.monotonic()
        first_at: float | None = None
        timings: TimingsEvent | None = None
        settled = False
        events = member.provider.stream(request, cancel)
        try:
            for event in events:
                if isinstance(event, TextDelta | ToolCallDelta) and first_at is None:
                    first_at = time.monotonic()
                if isinstance(event, ErrorEvent):
                    settled = True
                    if isinstance(event.error, CancelledError):
                        self.record_abandoned(member, None)
                        yield event
                        return None
                    self.record_failure(member)
                    error = as_provider_error(event.error, member.name)
                    if first_at is None:
                        return error
                    if request.restartable:
                        return started_error(error, member.name)
                    yield ErrorEvent(after_start_error(error, member.name))
                    return None
                if isinstance(event, TimingsEvent):
                    timings = event
                    event = annotate(event, tried)
                if isinstance(event, Done):
                    settled = True
                    if event.finish_reason == "cancelled":
                        self.record_abandoned(member, None)
                    else:
                        end = first_at or time.monotonic()
                        self.record_success(member, end - started, timings)
                yield event
            return None
        finally:
            self.busy(member, -1)
            close = getattr(events, "close", None)
            if close is not None:
                close()
            if not settled:
                self.record_abandoned(member, None)

    def no_answer(self, errors: list[ProviderError]) -> ProviderError:
        """The error for a turn that no provider answered."""
        if not errors:
            waits = ", ".join(
                f"{m.name} (retry in {m.breaker.retry_in():.0f}s)" for m in self.members
            )
            return ProviderError(
                f"{self.name}: no provider available: circuit open for {waits}",
                hint="the providers failed repeatedly; check them with `redline providers --check`",
                retryable=True,
                retry_after=min(m.breaker.retry_in() for m in self.members),
                provider=self.name,
            )
        detail = "; ".join(e.message for e in errors)
        retry_afters = [e.retry_after for e in errors if e.retry_after is not None]
        return ProviderError(
            f"{self.name}: every provider failed: {detail}",
            hint="check them with `redline providers --check`",
            retryable=any(e.retryable for e in errors),
            retry_after=min(retry_afters) if retry_afters else None,
            provider=self.name,
        )
