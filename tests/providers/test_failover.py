"""Killing a server mid-run loses no request; the circuit breaker opens and closes."""

from __future__ import annotations

import json
import threading
import time
import urllib.request

from conftest import Reply, ask, collect

from redline.providers.base import Done
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.router import Router

HELLO = "Hello, world!"


def _hits(url: str) -> int:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/_stats", timeout=5) as response:
        return json.load(response)["hits"]


def test_killing_a_server_mid_run_loses_no_request(fake_process):
    # "ordered" sends all traffic to the victim until it dies (this test is about
    # fail-over, not learning); its 0.3 s first-token delay means the SIGKILL lands
    # while requests wait on it, before any token.
    victim, victim_url = fake_process(first_token_delay_s=0.3)
    _, survivor_url = fake_process(first_token_delay_s=0.6)
    router = Router(
        [
            OpenAICompatProvider("victim", victim_url, "m", None, max_retries=0),
            OpenAICompatProvider("survivor", survivor_url, "m", None, max_retries=0),
        ],
        policy="ordered",
    )
    replies: list[Reply] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            reply = collect(router.stream(ask()))
            with lock:
                replies.append(reply)

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + 30
    while _hits(victim_url) < 4:  # a few requests in, then kill it mid-run
        assert time.monotonic() < deadline
        time.sleep(0.01)
    victim.kill()
    for w in workers:
        w.join(timeout=60)
        assert not w.is_alive(), "a request hung"
    assert len(replies) == 10
    for reply in replies:
        assert isinstance(reply.final, Done), f"lost: {reply.error}"
        assert reply.text == HELLO
    moved = [r for r in replies if r.timings.extra["router_tried"] == ["victim", "survivor"]]
    assert moved, "the requests in flight at the kill failed over"
    assert router.snapshot()[0]["failures"] >= 1


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_circuit_breaker_opens_then_probes_and_closes(fake_server):
    flaky = fake_server(fail_status=500)
    steady = fake_server()
    clock = FakeClock()
    router = Router(
        [
            OpenAICompatProvider("flaky", flaky.base_url, "m", None, max_retries=0),
            OpenAICompatProvider("steady", steady.base_url, "m", None, max_retries=0),
        ],
        policy="ordered",
        failure_threshold=2,
        cooldown_s=30.0,
        clock=clock,
    )
    breaker = router.members[0].breaker
    for _ in range(2):  # two failures, each answered by the fail-over
        assert collect(router.stream(ask())).provider == "steady"
    assert breaker.state == "open" and flaky.stats.hits == 2
    for _ in range(3):  # open: no traffic reaches the flaky server at all
        assert collect(router.stream(ask())).provider == "steady"
    assert flaky.stats.hits == 2
    clock.now += 31  # cooldown over: one probe, which fails and re-opens at once
    assert collect(router.stream(ask())).provider == "steady"
    assert flaky.stats.hits == 3 and breaker.state == "open"
    flaky.set(fail_status=None)
    clock.now += 31  # the next probe succeeds and closes the breaker
    assert collect(router.stream(ask())).provider == "flaky"
    assert breaker.state == "closed" and flaky.stats.hits == 4
    assert collect(router.stream(ask())).provider == "flaky"


def test_all_breakers_open_is_a_clear_error_without_traffic(fake_server):
    a = fake_server(fail_status=500)
    clock = FakeClock()
    router = Router(
        [OpenAICompatProvider("a", a.base_url, "m", None, max_retries=0)],
        failure_threshold=1,
        cooldown_s=60.0,
        clock=clock,
    )
    assert collect(router.stream(ask())).error is not None
    error = collect(router.stream(ask())).error
    assert error is not None and "circuit open" in error.message and error.retry_after == 60.0
    assert a.stats.hits == 1


def test_hedge_fails_over_on_an_early_error(fake_server):
    broken = fake_server(fail_status=502)
    good = fake_server()
    router = Router(
        [
            OpenAICompatProvider("broken", broken.base_url, "m", None, max_retries=0),
            OpenAICompatProvider("good", good.base_url, "m", None, max_retries=0),
        ],
        policy="hedge",
        hedge_default_delay_s=10.0,  # the fail-over, not the hedge timer, must start "good"
    )
    reply = collect(router.stream(ask()))
    assert reply.ok and reply.provider == "good"
