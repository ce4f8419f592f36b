"""Latency estimates and the circuit breaker, on their own (no servers)."""

from __future__ import annotations

from redline.providers.health import CircuitBreaker, LatencyStats


def test_ewma_moves_towards_new_samples_and_percentile_sees_the_tail():
    stats = LatencyStats(alpha=0.5, window=4, warmup=0)
    assert stats.expected_s(100, 50.0) is None
    stats.observe(1.0, 100.0, now=0)
    stats.observe(0.0, None, now=1)
    assert stats.ttft_ewma == 0.5 and stats.tok_s_ewma == 100.0
    for value in (0.1, 0.1, 0.1, 2.0):
        stats.observe(value, None, now=2)
    assert list(stats.recent_ttft) == [0.1, 0.1, 0.1, 2.0]  # window kept at 4
    assert stats.percentile(1.0) == 2.0 and stats.percentile(0.5) == 0.1


def test_first_sample_is_warm_up_only():
    stats = LatencyStats()
    stats.observe(5.0, 10.0, now=0)  # connection set-up, model load ...
    assert stats.ttft_ewma is None and stats.expected_s(10, 50.0) is None
    stats.observe(0.2, 10.0, now=1)
    assert stats.ttft_ewma == 0.2 and stats.samples == 1 and stats.seen == 2


def test_censored_waits_only_count_when_they_say_slower():
    stats = LatencyStats(alpha=1.0, warmup=0)
    stats.observe(0.5, None, now=0)
    stats.observe_censored(0.2, now=1)  # cancelled early: says nothing
    assert stats.ttft_ewma == 0.5 and stats.samples == 1
    stats.observe_censored(0.9, now=2)  # waited longer than we thought: slower
    assert stats.ttft_ewma == 0.9


def test_breaker_states():
    now = [0.0]
    breaker = CircuitBreaker(threshold=2, cooldown_s=10, clock=lambda: now[0])
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow() and breaker.retry_in() == 10
    now[0] = 10
    assert breaker.state == "half-open"
    assert breaker.allow() and not breaker.allow()  # exactly one probe
    breaker.release()  # a cancelled probe frees the slot
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.failures == 0
