"""The router against real loopback servers: the issue's bar, measured and asserted.

Two fake OpenAI-compatible servers, one slowed by 500 ms to first token; the
router must learn which is faster from real traffic. Figures are printed
(run with ``-s``); the assertions are about where requests went, not how long
they took.
"""

from __future__ import annotations

import statistics
import time

import pytest
from conftest import ask, collect

from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.router import Router

HELLO = "Hello, world!"


def remote(name: str, server) -> OpenAICompatProvider:
    return OpenAICompatProvider(name, server.base_url, "fake", None, max_retries=0)


@pytest.mark.parametrize("policy", ["fastest", "hedge"])
def test_routes_over_90_percent_to_the_faster_server(fake_server, policy):
    slow = fake_server(first_token_delay_s=0.5)
    fast = fake_server()
    # The slow one is listed first, so only learning can put the fast one ahead.
    router = Router([remote("slow", slow), remote("fast", fast)], policy=policy)
    for _ in range(4):  # warm-up: two turns each (the first is not counted)
        assert collect(router.stream(ask())).ok
    winners = []
    started = time.monotonic()
    for _ in range(20):
        reply = collect(router.stream(ask()))
        assert reply.ok and reply.text == HELLO
        winners.append(reply.provider)
    share = winners.count("fast") / len(winners)
    print(f"\n{policy}: {share:.0%} of 20 to fast in {time.monotonic() - started:.2f}s")
    assert share > 0.9
    assert slow.stats.hits <= 2 + 2


def test_hedge_takes_the_backup_when_the_first_choice_stalls(fake_server):
    stalled = fake_server(first_token_delay_s=30.0)
    backup = fake_server()
    router = Router(
        [remote("stalled", stalled), remote("backup", backup)],
        policy="hedge",
        hedge_default_delay_s=0.2,
    )
    reply = collect(router.stream(ask()))
    assert reply.ok and reply.text == HELLO
    assert reply.provider == "backup"
    assert reply.timings.extra["router_tried"] == ["stalled", "backup"]
    _wait_for(lambda: stalled.stats.disconnected == 1)  # the loser was cancelled
    assert stalled.stats.completed == 0


def test_hedging_cuts_the_tail(fake_server):
    """Every 3rd request to the primary is 1.5 s late; hedging hands those to the backup."""
    primary = fake_server(slow_every=3, slow_delay_s=1.5)
    backup = fake_server(first_token_delay_s=0.05)
    for policy in ("ordered", "hedge"):
        primary.reset_stats()
        router = Router(
            [remote("primary", primary), remote("backup", backup)],
            policy=policy,
            hedge_default_delay_s=0.2,
            hedge_min_delay_s=0.1,
        )
        times, who = [], []
        for _ in range(9):
            t0 = time.monotonic()
            reply = collect(router.stream(ask()))
            times.append(time.monotonic() - t0)
            assert reply.ok and reply.text == HELLO
            who.append(reply.provider)
        _wait_for(
            lambda: primary.stats.completed + primary.stats.disconnected == primary.stats.hits
        )
        slowed = primary.stats.hits // 3
        print(
            f"\n{policy}: p50 {statistics.median(times) * 1000:.0f} ms, "
            f"max {max(times) * 1000:.0f} ms; primary slowed {slowed} of "
            f"{primary.stats.hits}, answers by {who}"
        )
        if policy == "ordered":  # without hedging the slow requests are simply waited for
            assert who == ["primary"] * 9 and slowed == 3
            assert primary.stats.disconnected == 0
        else:  # with hedging every slowed request is abandoned and answered by the backup
            assert slowed >= 1
            assert primary.stats.disconnected == slowed
            assert who.count("backup") >= slowed


def test_fails_over_when_a_stream_dies_before_its_first_token(fake_server):
    broken = fake_server(reset_after_tokens=0)
    good = fake_server()
    router = Router([remote("broken", broken), remote("good", good)], policy="ordered")
    reply = collect(router.stream(ask()))
    assert reply.ok and reply.text == HELLO and reply.provider == "good"
    assert reply.timings.extra["router_tried"] == ["broken", "good"]


def test_fails_over_on_http_errors_and_timeouts(fake_server):
    failing = fake_server(fail_status=500)
    hanging = fake_server(hang=True)
    good = fake_server()
    hang = OpenAICompatProvider(
        "hang", hanging.base_url, "m", None, max_retries=0, read_timeout=0.3
    )
    router = Router([remote("failing", failing), hang, remote("good", good)], policy="ordered")
    reply = collect(router.stream(ask()))
    assert reply.ok and reply.provider == "good"
    assert reply.timings.extra["router_tried"] == ["failing", "hang", "good"]


def test_error_after_the_first_token_is_surfaced_not_spliced(fake_server):
    dying = fake_server(reset_after_tokens=2)
    good = fake_server()
    router = Router([remote("dying", dying), remote("good", good)], policy="ordered")
    reply = collect(router.stream(ask()))
    assert reply.text == "Hello,"  # what was shown, and nothing from another model
    assert reply.error is not None and reply.error.after_first_token
    assert "dying" in reply.error.message and "partial" in reply.error.message
    assert good.stats.hits == 0


def test_when_all_fail_the_error_names_each(fake_server):
    a = fake_server(fail_status=500)
    b = fake_server(fail_status=503)
    router = Router([remote("a", a), remote("b", b)], policy="fastest")
    error = collect(router.stream(ask())).error
    assert error is not None and error.retryable
    assert "a:" in error.message and "b:" in error.message and "HTTP 503" in error.message


def _wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_concurrent_turns_spread_over_backends_of_equal_speed(fake_server):
    """Four turns at once (parallel sub-agents) do not all queue on the top-ranked
    backend: each new turn joins the shortest expected queue."""
    import threading

    a, b = fake_server(first_token_delay_s=0.3), fake_server(first_token_delay_s=0.3)
    router = Router([remote("a", a), remote("b", b)])
    for _ in range(4):  # warm-up: both get an estimate
        assert collect(router.stream(ask())).ok
    before = a.stats.hits, b.stats.hits
    go = threading.Barrier(4)
    winners: list[str] = []

    def turn() -> None:
        go.wait()
        reply = collect(router.stream(ask()))
        assert reply.ok
        winners.append(reply.provider)

    threads = [threading.Thread(target=turn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(winners) == ["a", "a", "b", "b"], winners
    assert (a.stats.hits - before[0], b.stats.hits - before[1]) == (2, 2)
    assert all(m.in_flight == 0 for m in router.members)


def test_a_much_faster_backend_still_takes_concurrent_turns(fake_server):
    slow, fast = fake_server(first_token_delay_s=1.5), fake_server()
    router = Router([remote("slow", slow), remote("fast", fast)])
    for _ in range(4):
        assert collect(router.stream(ask())).ok
    fast_member = next(m for m in router.members if m.name == "fast")
    fast_member.in_flight = 2  # two turns already streaming there
    assert router.ranked(ask())[0].name == "fast"  # 3x a few ms still beats 1.5 s
    fast_member.in_flight = 0
