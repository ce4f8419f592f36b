"""What the router knows about each provider: how fast it is, and whether it works.

``LatencyStats`` keeps an exponentially weighted moving average of time to
first token and decode speed (cheap, adapts to drift) plus a small window of
recent TTFTs for percentiles (the hedge delay needs a tail estimate, which an
average cannot give). ``CircuitBreaker`` stops traffic to a provider after
``threshold`` consecutive failures, or when at least half (``max_failure_rate``)
of its last ``window`` requests failed (a backend failing every second request
never has three failures in a row, yet costs a fail-over on every other turn),
and lets one probe through after ``cooldown_s``; a successful probe closes it,
a failed one re-opens it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LatencyStats:
    """Moving estimates of one provider's speed, fed from real traffic."""

    alpha: float = 0.3
    window: int = 32
    warmup: int = 1
    """Samples skipped at first: they pay connection set-up that later turns don't."""
    seen: int = 0
    ttft_ewma: float | None = None
    tok_s_ewma: float | None = None
    samples: int = 0
    last_sample_at: float | None = None
    recent_ttft: deque[float] = field(default_factory=deque)

    def observe(self, ttft_s: float, tok_s: float | None, now: float) -> None:
        """Record one finished (or first-token-reached) request."""
        self.seen += 1
        self.last_sample_at = now
        if self.seen <= self.warmup:
            return
        self.ttft_ewma = _ewma(self.ttft_ewma, ttft_s, self.alpha)
        if tok_s and tok_s > 0:
            self.tok_s_ewma = _ewma(self.tok_s_ewma, tok_s, self.alpha)
        self.recent_ttft.append(ttft_s)
        while len(self.recent_ttft) > self.window:
            self.recent_ttft.popleft()
        self.samples += 1

    def observe_censored(self, waited_s: float, now: float) -> None:
        """A request cancelled before its first token: TTFT was at least ``waited_s``.

        Only a wait longer than the estimate carries news (the provider is slower
        than we thought); a shorter one says nothing and is dropped.
        """
        if self.ttft_ewma is None or waited_s > self.ttft_ewma:
            self.observe(waited_s, None, now)

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile (0..1) of recent TTFTs, nearest-rank; None without data."""
        if not self.recent_ttft:
            return None
        ordered = sorted(self.recent_ttft)
        rank = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[rank]

    def expected_s(self, tokens: int, default_tok_s: float) -> float | None:
        """Expected seconds to deliver ``tokens`` tokens; None until warmed up."""
        if self.ttft_ewma is None:
            return None
        tok_s = self.tok_s_ewma or default_tok_s
        return self.ttft_ewma + tokens / tok_s


def _ewma(old: float | None, new: float, alpha: float) -> float:
    return new if old is None else alpha * new + (1.0 - alpha) * old


class CircuitBreaker:
    """closed -> (threshold failures) -> open -> (cooldown) -> half-open -> closed|open."""

    def __init__(
        self,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_failure_rate: float = 0.5,
        window: int = 10,
        min_samples: int = 4,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.max_failure_rate = max_failure_rate
        self.min_samples = min_samples
        self._clock = clock
        self._lock = threading.Lock()
        self.failures = 0
        self.outcomes: deque[bool] = deque(maxlen=window)
        """Recent requests, True for a failure (newest last)."""
        self.opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def failure_rate(self) -> float:
        """The share of failures among the recent requests (0 without any)."""
        with self._lock:
            return sum(self.outcomes) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self._clock() - self.opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a request go to this provider now? Claims the probe slot when half-open."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def retry_in(self) -> float:
        """Seconds until the next probe is allowed (0 when closed or half-open)."""
        with self._lock:
            if self.opened_at is None:
                return 0.0
            return max(0.0, self.opened_at + self.cooldown_s - self._clock())

    def success(self) -> None:
        with self._lock:
            self.failures = 0
            self.outcomes.append(False)
            self.opened_at = None
            self._probe_in_flight = False

    def failure(self) -> None:
        with self._lock:
            self.failures += 1
            self.outcomes.append(True)
            probing = self._probe_in_flight
            self._probe_in_flight = False
            rate = sum(self.outcomes) / len(self.outcomes)
            flaky = len(self.outcomes) >= self.min_samples and rate >= self.max_failure_rate
            if probing or flaky or self.failures >= self.threshold:
                self.opened_at = self._clock()

    def release(self) -> None:
        """A request that ended neither way (cancelled): free the probe slot."""
        with self._lock:
            self._probe_in_flight = False
