"""OpenAI ``n`` through the real ``openai`` client: N choices of one prompt, decoded
together, the prompt counted (and evaluated) once."""

from __future__ import annotations

import openai
import pytest
from serve_helpers import MODEL

MSGS = [{"role": "user", "content": "Write a short poem about the sea."}]
PROMPT = "Once upon a time, in a small village,"


def test_chat_n_gives_n_choices_with_the_prompt_counted_once(client: openai.OpenAI) -> None:
    one = client.chat.completions.create(
        model=MODEL, messages=MSGS, max_tokens=20, temperature=1.0, seed=5
    )
    r = client.chat.completions.create(
        model=MODEL, messages=MSGS, max_tokens=20, temperature=1.0, seed=5, n=4
    )
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    texts = [c.message.content for c in r.choices]
    assert all(texts) and len(set(texts)) >= 3, texts  # seed+i per choice
    assert r.usage.prompt_tokens == one.usage.prompt_tokens  # once, not four times
    per_choice = r.model_extra["x_redline_timings"]["choices"]
    assert r.usage.completion_tokens == sum(c["completion_tokens"] for c in per_choice)
    evaluated = sum(c["prompt_tokens"] - c["cached_tokens"] for c in per_choice)
    assert evaluated <= r.usage.prompt_tokens  # the other choices copied the prompt's KV
    assert all(c["cached_tokens"] == c["prompt_tokens"] for c in per_choice[1:])
    assert all(c.finish_reason in ("stop", "length") for c in r.choices)


def test_chat_n_streams_each_choice_under_its_index(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(
        model=MODEL, messages=MSGS, max_tokens=16, temperature=0.9, seed=11, n=3
    )
    stream = client.chat.completions.create(
        model=MODEL,
        messages=MSGS,
        max_tokens=16,
        temperature=0.9,
        seed=11,
        n=3,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts = ["", "", ""]
    finals: dict[int, str] = {}
    for chunk in stream:
        for choice in chunk.choices:
            assert choice.index not in finals  # nothing after a choice's final chunk
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finals[choice.index] = choice.finish_reason
        if chunk.usage:
            usage = chunk.usage
    assert sorted(finals) == [0, 1, 2]
    assert texts == [c.message.content for c in whole.choices]
    assert usage.prompt_tokens == whole.usage.prompt_tokens
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_completions_n_and_stream(client: openai.OpenAI) -> None:
    r = client.completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=12, temperature=1.0, seed=2, n=2
    )
    assert [c.index for c in r.choices] == [0, 1]
    assert r.choices[0].text != r.choices[1].text
    one = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=1)
    assert r.usage.prompt_tokens == one.usage.prompt_tokens
    stream = client.completions.create(
        model=MODEL, prompt=PROMPT, max_tokens=12, temperature=1.0, seed=2, n=2, stream=True
    )
    texts = ["", ""]
    for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.text
    assert texts == [c.text for c in r.choices]


def test_greedy_n_with_tools_parses_each_choice(client: openai.OpenAI) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,
        tool_choice="required",
        max_tokens=40,
        temperature=0.8,
        seed=1,
        n=2,
    )
    assert len(r.choices) == 2
    for c in r.choices:
        assert c.message.tool_calls and c.message.tool_calls[0].function.name == "get_weather"


@pytest.mark.parametrize("n", [0, 17])
def test_n_out_of_range_is_an_openai_400(client: openai.OpenAI, n: int) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2, n=n)
    assert info.value.body["param"] == "n"
    assert info.value.body["type"] == "invalid_request_error"
