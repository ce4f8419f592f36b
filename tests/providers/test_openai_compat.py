"""OpenAICompatProvider against a real HTTP server on loopback (the real openai client)."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import ask, collect
from fakeserver import FakeServer

from redline.errors import ProviderError
from redline.providers.base import Done, ErrorEvent, TextDelta, ToolCallDelta, Usage
from redline.providers.openai_compat import OpenAICompatProvider, shared_client

HELLO = "Hello, world!"


def provider(server, **kwargs) -> OpenAICompatProvider:
    kwargs.setdefault("backoff_s", 0.01)
    return OpenAICompatProvider("fake", server.base_url, "fake-model", "sk-test-key", **kwargs)


def test_streams_text_usage_and_timings(fake_server):
    server = fake_server()
    reply = collect(provider(server).stream(ask()))
    deltas = [e for e in reply.events if isinstance(e, TextDelta)]
    assert [d.text for d in deltas] == ["Hello", ",", " world", "!"]
    assert reply.ok and reply.final.finish_reason == "stop"
    usage = next(e for e in reply.events if isinstance(e, Usage))
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (7, 4, 2)
    assert reply.timings.provider == "fake" and reply.timings.completion_tokens == 4
    assert reply.timings.ttft_s <= reply.timings.total_s
    sent = server.stats.requests[0]
    assert sent["model"] == "fake-model" and sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert "prediction" not in sent


def test_prediction_is_passed_through_and_counted(fake_server):
    server = fake_server()
    reply = collect(provider(server).stream(ask(prediction="old file text")))
    assert server.stats.requests[0]["prediction"] == {"type": "content", "content": "old file text"}
    usage = next(e for e in reply.events if isinstance(e, Usage))
    assert (usage.accepted_prediction_tokens, usage.rejected_prediction_tokens) == (3, 1)


def test_prediction_left_out_where_the_backend_does_not_take_it(fake_server):
    server = fake_server()
    collect(provider(server, send_prediction=False).stream(ask(prediction="x")))
    assert "prediction" not in server.stats.requests[0]


def test_tool_call_deltas(fake_server):
    server = fake_server(tool_call={"name": "read", "arguments": '{"path": "a.py"}'})
    tools = [{"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}}]
    reply = collect(provider(server).stream(ask(tools=tools, tool_choice="auto")))
    calls = [e for e in reply.events if isinstance(e, ToolCallDelta)]
    assert calls[0].id == "call_1" and calls[0].name == "read"
    assert "".join(c.arguments for c in calls) == '{"path": "a.py"}'
    assert reply.final == Done("tool_calls")
    assert server.stats.requests[0]["tools"] == tools
    assert server.stats.requests[0]["tool_choice"] == "auto"


def test_one_pooled_keep_alive_client_per_base_url_and_key(fake_server):
    server = fake_server()
    a, b = provider(server), provider(server)
    assert shared_client(a.base_url, "sk-test-key") is shared_client(b.base_url, "sk-test-key")
    assert shared_client(a.base_url, "sk-test-key") is not shared_client(a.base_url, "other")
    for _ in range(3):
        assert collect(a.stream(ask())).ok
        assert collect(b.stream(ask())).ok
    assert server.stats.hits == 6
    assert server.stats.connections == 1  # six turns, one TCP connection


def test_server_error_is_mapped_and_not_retried(fake_server):
    server = fake_server(fail_status=500)
    reply = collect(provider(server).stream(ask()))
    error = reply.error
    assert isinstance(error, ProviderError)
    assert "HTTP 500" in error.message and "injected failure" in error.message
    assert error.retryable and not error.after_first_token and error.provider == "fake"
    assert server.stats.hits == 1


def test_auth_error_is_not_retryable_and_hints_at_the_key(fake_server):
    server = fake_server(fail_status=401)
    error = collect(provider(server).stream(ask())).error
    assert isinstance(error, ProviderError) and not error.retryable
    assert "key" in (error.hint or "")


def test_429_with_retry_after_is_retried(fake_server):
    server = fake_server(fail_status=429, fail_count=1, retry_after=0.05)
    reply = collect(provider(server).stream(ask()))
    assert reply.ok and reply.text == HELLO
    assert server.stats.hits == 2


def test_503_with_a_long_retry_after_is_surfaced_not_waited_for(fake_server):
    server = fake_server(fail_status=503, retry_after=120)
    error = collect(provider(server).stream(ask())).error
    assert isinstance(error, ProviderError) and error.retry_after == pytest.approx(120, abs=1)
    assert server.stats.hits == 1


def test_429_without_retry_after_is_not_retried(fake_server):
    server = fake_server(fail_status=429, fail_count=1)
    assert collect(provider(server).stream(ask())).error is not None
    assert server.stats.hits == 1


def test_connection_refused_is_retried_then_reported(fake_server):
    server = fake_server()
    server.kill()
    error = collect(provider(server, max_retries=2).stream(ask())).error
    assert isinstance(error, ProviderError) and error.retryable
    assert "cannot connect" in error.message


def test_connection_refused_then_server_up_succeeds(fake_server):
    server = fake_server()
    port = server.port
    server.kill()
    revived: list[FakeServer] = []
    threading.Timer(0.15, lambda: revived.append(FakeServer(port=port))).start()
    try:
        reply = collect(provider(server, max_retries=5, backoff_s=0.2).stream(ask()))
        assert reply.ok and reply.text == HELLO
    finally:
        time.sleep(0.2)
        for s in revived:
            s.kill()


def test_reset_mid_stream_is_an_error_after_the_first_token(fake_server):
    server = fake_server(reset_after_tokens=2)
    reply = collect(provider(server).stream(ask()))
    assert reply.text == "Hello,"
    error = reply.error
    assert isinstance(error, ProviderError) and error.after_first_token and not error.retryable
    assert "partial reply" in error.message
    assert server.stats.hits == 1  # never retried once output was shown


def test_reset_before_the_first_token_is_retryable_elsewhere(fake_server):
    server = fake_server(reset_after_tokens=0)
    error = collect(provider(server).stream(ask())).error
    assert isinstance(error, ProviderError) and error.retryable and not error.after_first_token


def test_hang_times_out(fake_server):
    server = fake_server(hang_after_headers=True)
    error = collect(provider(server, read_timeout=0.3).stream(ask())).error
    assert isinstance(error, ProviderError) and "timed out" in error.message


def test_cancel_aborts_a_blocked_read_and_frees_the_server(fake_server):
    server = fake_server(hang_after_headers=True)
    cancel = threading.Event()

    def cancel_once_waiting() -> None:  # the request is in and waiting for its first token
        deadline = time.monotonic() + 30
        while server.stats.hits == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        cancel.set()

    threading.Thread(target=cancel_once_waiting, daemon=True).start()
    reply = collect(provider(server).stream(ask(), cancel))
    assert reply.final == Done("cancelled")
    deadline = time.monotonic() + 5
    while server.stats.disconnected == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.stats.disconnected == 1 and server.stats.completed == 0


def test_error_event_is_the_last_event(fake_server):
    server = fake_server(fail_status=502)
    events = list(provider(server).stream(ask()))
    assert len(events) == 1 and isinstance(events[0], ErrorEvent)
