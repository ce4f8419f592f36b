"""Tool-call replies come back as the model wrote them, so the KV cache still matches."""

from __future__ import annotations

import json

from redline.agent.protocols.toolcalls import openai_tools
from redline.engine.engine import Engine
from redline.engine.prompt_cache import common_prefix
from redline.engine.structured import parse_reply, tools_grammar, with_tools_prompt
from redline.engine.types import GenerationRequest

RAW = '{ "tool_calls": [{"name": "read", "arguments": { "path": "app.py" } }]}'


def _echo(calls: list[dict], **changes: str) -> list[dict]:
    """The conversation a client sends back after the calls ran."""
    sent = [{**c, "function": {**c["function"], **changes}} for c in calls]
    return [
        {"role": "user", "content": "read app.py"},
        {"role": "assistant", "content": None, "tool_calls": sent},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "print(1)"},
    ]


def test_a_reply_is_re_rendered_as_written() -> None:
    _, calls = parse_reply(RAW)
    rendered = with_tools_prompt(_echo(calls), openai_tools(), "required")
    assert rendered[2] == {"role": "assistant", "content": RAW}


def test_changed_or_unknown_calls_are_serialised_afresh() -> None:
    _, calls = parse_reply(RAW)
    changed = with_tools_prompt(
        _echo(calls, arguments=json.dumps({"path": "other.py"})), openai_tools(), "required"
    )
    assert json.loads(changed[2]["content"]) == {
        "tool_calls": [{"name": "read", "arguments": {"path": "other.py"}}]
    }
    foreign = [{**calls[0], "id": "call_from_another_server"}]
    rendered = with_tools_prompt(_echo(foreign), openai_tools(), "required")
    assert rendered[2]["content"] != RAW
    assert json.loads(rendered[2]["content"])["tool_calls"][0]["name"] == "read"


def test_next_turn_reuses_the_reply_tokens(smollm2_engine: Engine) -> None:
    """The whole previous turn, reply included, is a prefix of the next prompt."""
    engine = smollm2_engine
    tools = openai_tools()
    first = [{"role": "user", "content": "Read the file app.py"}]
    req = GenerationRequest(
        messages=with_tools_prompt(first, tools, "required"),
        max_tokens=100,
        grammar=tools_grammar(tools, "required", True),
    )
    engine.session.truncate(0)
    text, _, _ = engine.complete(req)
    held = list(engine.session.tokens)
    _, calls = parse_reply(text)
    assert calls
    nxt = [
        *first,
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "print(1)"},
    ]
    tokens = engine.prompt_tokens(
        GenerationRequest(messages=with_tools_prompt(nxt, tools, "required"), max_tokens=1)
    )
    assert common_prefix(held, tokens) == len(held)
