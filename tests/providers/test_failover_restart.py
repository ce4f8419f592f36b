"""Fail-over that finishes: reset, hang and 500 on one backend, through ``redline exec``;
plus the failure-rate breaker, health that outlives a process, and hedge losers closed
before their headers."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from conftest import ask, collect
from fakeserver import FakeServer, Faults

from redline.providers.base import ChatRequest, Done, Restart, TextDelta
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.router import Router

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "agent"))
from cli_helpers import call, exec_json, write_config  # noqa: E402

CONTENT = "def mul(a, b):\n    return a * b\n"
SCRIPT = [
    call("write", path="calc.py", content=CONTENT),
    call("read", path="calc.py"),
    call("done", summary="added mul"),
]


def remote(name: str, server: FakeServer, read_timeout: float = 60.0) -> OpenAICompatProvider:
    return OpenAICompatProvider(
        name, server.base_url, "m", None, max_retries=0, read_timeout=read_timeout
    )


@pytest.mark.parametrize(
    ("fault", "restarts"),
    [
        ({"reset_after_tokens": 2}, True),  # drops the connection mid-reply
        ({"token_delay_s": 30.0}, True),  # hangs after the first token
        ({"hang": True}, False),  # never answers
        ({"fail_status": 500}, False),  # answers 500
    ],
    ids=["reset", "hang-mid-reply", "hang", "http-500"],
)
def test_exec_finishes_every_step_when_the_first_backend_fails(
    tmp_path: Path, fault: dict, restarts: bool
) -> None:
    bad = FakeServer(Faults(script=SCRIPT, **fault))
    good = FakeServer(Faults(script=SCRIPT))
    try:
        write_config(tmp_path, {"a": bad, "b": good}, {"policy": "ordered", "health_ttl_s": 0})
        proc, events = exec_json(tmp_path, "add mul", "--approval", "full-auto")
    finally:
        bad.kill()
        good.kill()
    done = events[-1]
    assert done["type"] == "done", proc.stderr[-2000:]
    assert (done["status"], done["verified"], proc.returncode) == ("finished", True, 0)
    assert (tmp_path / "calc.py").read_text() == CONTENT
    names = [e["name"] for e in events if e["type"] == "tool_call"]
    assert names == ["write", "read", "done"]  # every step, once, in order
    retries = [e for e in events if e["type"] == "retry"]
    if restarts:
        assert retries and retries[0]["failed"] == "a" and retries[0]["provider"] == "b"
    assert not [e for e in events if e["type"] == "error"]


def test_a_restarted_reply_is_never_spliced(fake_server) -> None:
    a = fake_server(tokens=["AAA", "BBB", "CCC", "DDD"], reset_after_tokens=2)
    b = fake_server(tokens=["fresh", " reply"])
    router = Router([remote("a", a), remote("b", b)], policy="ordered")
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}], restartable=True)
    events = list(router.stream(request))
    kinds = [type(e) for e in events]
    cut = kinds.index(Restart)
    before = "".join(e.text for e in events[:cut] if isinstance(e, TextDelta))
    after = "".join(e.text for e in events[cut:] if isinstance(e, TextDelta))
    assert before == "AAABBB" and after == "fresh reply" and isinstance(events[-1], Done)
    # A caller that cannot drop a partial reply still gets a clear error instead.
    a.set(reset_after_tokens=2)
    reply = collect(Router([remote("a", a), remote("b", b)], policy="ordered").stream(ask()))
    assert reply.error is not None and "after the reply had started" in str(reply.error)
    assert "fresh" not in reply.text


def test_a_caller_that_stops_at_the_restart_leaves_no_turn_counted(fake_server) -> None:
    """The next backend is counted busy when it is picked; a caller that closes the
    stream at the Restart notice (before that backend ran) must not leave it busy."""
    a = fake_server(tokens=["AAA", "BBB", "CCC"], reset_after_tokens=2)
    b = fake_server(tokens=["fresh"])
    router = Router([remote("a", a), remote("b", b)], policy="ordered")
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}], restartable=True)
    stream = router.stream(request)
    for event in stream:
        if isinstance(event, Restart):
            break
    stream.close()
    assert [m.in_flight for m in router.members] == [0, 0]
    assert b.stats.hits == 0


@pytest.mark.parametrize("policy", ["ordered", "hedge"])
def test_restart_under_hedging_too(fake_server, policy: str) -> None:
    a = fake_server(tokens=["x", "y", "z"], reset_after_tokens=1)
    b = fake_server(tokens=["ok"], first_token_delay_s=0.2)
    router = Router([remote("a", a), remote("b", b)], policy=policy, hedge_default_delay_s=5.0)
    request = ChatRequest(messages=[{"role": "user", "content": "hi"}], restartable=True)
    events = list(router.stream(request))
    assert any(isinstance(e, Restart) for e in events) and isinstance(events[-1], Done)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).endswith("ok")


def test_a_backend_failing_every_second_request_loses_its_share(fake_server) -> None:
    flaky = fake_server(fail_every=2)
    steady = fake_server()
    router = Router([remote("flaky", flaky), remote("steady", steady)], policy="ordered")
    for _ in range(20):
        assert collect(router.stream(ask())).ok
    assert flaky.stats.hits <= 5, flaky.stats.hits  # opened after 4 requests at 50% failures
    assert router.members[0].breaker.state == "open"


def test_health_outlives_the_process(tmp_path: Path) -> None:
    dead = FakeServer(Faults(script=SCRIPT, fail_status=500))
    good = FakeServer(Faults(script=SCRIPT))
    try:
        write_config(tmp_path, {"a": dead, "b": good}, {"policy": "ordered"})
        proc, events = exec_json(tmp_path, "add mul", "--approval", "full-auto")
        assert events[-1]["status"] == "finished", proc.stderr[-2000:]
        first = dead.stats.hits
        assert first >= 3
        (tmp_path / "calc.py").unlink()
        proc, events = exec_json(tmp_path, "add mul", "--approval", "full-auto")
        assert events[-1]["status"] == "finished", proc.stderr[-2000:]
        assert dead.stats.hits == first  # the next exec did not start by trusting it
    finally:
        dead.kill()
        good.kill()


def test_hedge_loser_is_closed_before_it_sends_headers(fake_server) -> None:
    slow = fake_server(hold_headers=True, first_token_delay_s=5.0)
    fast = fake_server(first_token_delay_s=0.05)
    router = Router(
        [remote("slow", slow), remote("fast", fast)],
        policy="hedge",
        hedge_default_delay_s=0.1,
    )
    started = time.monotonic()
    reply = collect(router.stream(ask()))
    assert reply.ok and reply.provider == "fast"
    deadline = time.monotonic() + 2.0
    while slow.stats.disconnected == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert slow.stats.disconnected == 1, "the loser's connection was left open"
    assert time.monotonic() - started < 2.5
    assert slow.stats.completed == 0


def test_health_file_is_json_in_the_state_dir(tmp_path: Path, monkeypatch) -> None:
    from redline.providers.health_store import HealthStore

    store = HealthStore(tmp_path / "h.json", ttl_s=60)
    a = FakeServer(Faults(fail_status=500))
    try:
        router = Router([remote("a", a)], health=store, failure_threshold=1)
        collect(router.stream(ask()))
        data = json.loads((tmp_path / "h.json").read_text())
        (entry,) = data.values()
        assert entry["opened_at"] is not None and entry["failures"] == 1
        again = Router([remote("a", a)], health=store)
        assert again.members[0].breaker.state == "open"
        expired = Router([remote("a", a)], health=HealthStore(tmp_path / "h.json", ttl_s=0))
        assert expired.members[0].breaker.state == "closed"
    finally:
        a.kill()
