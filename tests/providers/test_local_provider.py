"""LocalProvider on the real embedded SmolLM2: streaming text, grammar-enforced tool calls."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import collect

from redline.providers.base import ChatRequest, Done, TextDelta, ToolCallDelta, Usage
from redline.providers.local import LocalProvider
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.router import Router

READ_TOOL = {
    "type": "function",
    "function": {
        "name": "read",
        "description": "Read a file of the project",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
        },
    },
}


@pytest.fixture
def local(smollm2_engine) -> LocalProvider:
    return LocalProvider("smollm2-135m", engine=smollm2_engine)


def test_streams_real_text(local):
    request = ChatRequest(messages=[{"role": "user", "content": "Say hello."}], max_tokens=8)
    reply = collect(local.stream(request))
    deltas = [e for e in reply.events if isinstance(e, TextDelta)]
    assert deltas and reply.text.strip()
    assert isinstance(reply.final, Done) and reply.final.finish_reason in ("stop", "length")
    usage = next(e for e in reply.events if isinstance(e, Usage))
    assert 1 <= usage.completion_tokens <= 8 and usage.prompt_tokens > 0
    assert reply.timings.provider == "smollm2-135m" and reply.timings.completion_tokens >= 1


def test_tool_call_is_well_formed_and_parses(local):
    request = ChatRequest(
        messages=[{"role": "user", "content": "Show me the file main.py"}],
        max_tokens=48,
        tools=[READ_TOOL],
        tool_choice="required",
    )
    reply = collect(local.stream(request))
    calls = [e for e in reply.events if isinstance(e, ToolCallDelta)]
    assert len(calls) >= 1 and reply.final == Done("tool_calls")
    assert calls[0].name == "read" and calls[0].id
    arguments = json.loads(calls[0].arguments)
    assert isinstance(arguments["path"], str)


def test_cancelled_before_start(local):
    cancel = threading.Event()
    cancel.set()
    request = ChatRequest(messages=[{"role": "user", "content": "Hi"}], max_tokens=4)
    assert list(local.stream(request, cancel)) == [Done("cancelled")]


def test_router_fails_over_from_a_dead_server_to_the_local_model(local, fake_server):
    dead = fake_server()
    dead.kill()
    remote = OpenAICompatProvider("remote", dead.base_url, "m", None, max_retries=0)
    router = Router([remote, local], policy="ordered")
    request = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=4)
    reply = collect(router.stream(request))
    assert reply.ok and reply.text and reply.provider == "smollm2-135m"
    assert reply.timings.extra["router_tried"] == ["remote", "smollm2-135m"]


def test_n_replies_tagged_by_choice_with_one_usage_and_one_done(local):
    from redline.providers.base import ChoiceDone

    request = ChatRequest(
        messages=[{"role": "user", "content": "Name a fruit."}],
        max_tokens=12,
        temperature=1.0,
        seed=4,
        n=3,
    )
    events = list(local.stream(request))
    texts = ["", "", ""]
    for e in events:
        if isinstance(e, TextDelta):
            texts[e.choice] += e.text
    ends = [e for e in events if isinstance(e, ChoiceDone)]
    assert sorted(e.choice for e in ends) == [0, 1, 2]
    assert all(texts) and len(set(texts)) >= 2
    usages = [e for e in events if isinstance(e, Usage)]
    assert len(usages) == 1 and events[-1] == Done(ends[0].finish_reason)
    one = collect(local.stream(ChatRequest(messages=request.messages, max_tokens=1)))
    prompt = next(e for e in one.events if isinstance(e, Usage)).prompt_tokens
    assert usages[0].prompt_tokens == prompt  # the prompt once, not three times
    assert sum(isinstance(e, Done) for e in events) == 1


def test_n_tool_calls_come_per_choice(local):
    from redline.providers.base import ChoiceDone

    request = ChatRequest(
        messages=[{"role": "user", "content": "Show me the file main.py"}],
        max_tokens=48,
        tools=[READ_TOOL],
        tool_choice="required",
        temperature=0.7,
        seed=2,
        n=2,
    )
    events = list(local.stream(request))
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert {c.choice for c in calls} == {0, 1}
    assert all(c.name == "read" and json.loads(c.arguments)["path"] for c in calls)
    ends = {e.choice: e.finish_reason for e in events if isinstance(e, ChoiceDone)}
    assert ends == {0: "tool_calls", 1: "tool_calls"} and events[-1] == Done("tool_calls")
