"""Chat completions through the real ``openai`` client: plain, streamed, predicted,
JSON-schema and tool calls."""

from __future__ import annotations

import json

import openai
from serve_helpers import MODEL

HI = [{"role": "user", "content": "Name three colors."}]


def _reference(client: openai.OpenAI, messages=HI, max_tokens: int = 16) -> str:
    r = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=max_tokens, temperature=0
    )
    return r.choices[0].message.content or ""


def test_non_streaming_chat(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(model=MODEL, messages=HI, max_tokens=12, temperature=0)
    choice = r.choices[0]
    assert r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert 0 < r.usage.completion_tokens <= 12
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    timings = r.model_extra["x_redline_timings"]
    assert timings["completion_tokens"] == r.usage.completion_tokens
    assert {"ttft_s", "decode_tok_s", "cached_tokens", "drafted_tokens", "accepted_tokens"} <= set(
        timings
    )


def test_streaming_matches_non_streaming(client: openai.OpenAI) -> None:
    expected = _reference(client)
    stream = client.chat.completions.create(
        model=MODEL,
        messages=HI,
        max_tokens=16,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    assert chunks[0].choices[0].delta.role == "assistant"
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and "x_redline_timings" in finals[0].model_extra
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_stream_without_include_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=HI, max_tokens=4, temperature=0, stream=True
        )
    )
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_prediction_same_text_and_accepted_tokens(client: openai.OpenAI) -> None:
    code = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    messages = [{"role": "user", "content": f"Repeat this code exactly:\n{code}"}]
    # Run it twice so the reference, like the predicted run, reuses the cached prompt:
    # llama.cpp's logits depend slightly on how a prompt was batched, which is the
    # engine's business; this test checks what the server adds (routing, accounting).
    for _ in range(2):
        plain = client.chat.completions.create(
            model=MODEL, messages=messages, max_tokens=40, temperature=0
        )
    expected = plain.choices[0].message.content
    predicted = client.chat.completions.create(
        model=MODEL,
        messages=messages,
        max_tokens=40,
        temperature=0,
        prediction={"type": "content", "content": expected},
    )
    got = predicted.choices[0].message.content or ""
    # Known limit (issue 3, open): llama.cpp's batched verify kernels round differently
    # from one-token decoding, so at a near tie the two can part ways. The copied code
    # first half must come out the same; only what follows a near tie may differ.
    half = len(expected) // 2
    assert half > 10 and got[:half] == expected[:half]
    details = predicted.usage.completion_tokens_details
    assert details.accepted_prediction_tokens > 0
    assert details.rejected_prediction_tokens >= 0
    assert details.accepted_prediction_tokens <= predicted.usage.completion_tokens
    assert plain.usage.completion_tokens_details.accepted_prediction_tokens == 0


def test_json_schema_output_parses(client: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"count": {"type": "integer"}, "ok": {"type": "boolean"}},
        "required": ["count", "ok"],
        "additionalProperties": False,
    }
    r = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "How many legs does a cat have? Answer in JSON."}],
        max_tokens=40,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    )
    data = json.loads(r.choices[0].message.content)
    assert isinstance(data["count"], int) and isinstance(data["ok"], bool)


def _weather_tool() -> list[dict]:
    params = {
        "type": "object",
        "properties": {"city": {"type": "string", "enum": ["Paris", "London"]}},
        "required": ["city"],
    }
    fn = {"name": "get_weather", "description": "Weather for a city", "parameters": params}
    return [{"type": "function", "function": fn}]


def _weather_call(client: openai.OpenAI, messages: list[dict], max_tokens: int = 40):
    """A greedy turn that must call get_weather."""
    return client.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=_weather_tool(),
        tool_choice="required",
        max_tokens=max_tokens,
        temperature=0,
    )


def test_tool_calls_parse(client: openai.OpenAI) -> None:
    r = _weather_call(client, [{"role": "user", "content": "What is the weather in Paris?"}])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] in ("Paris", "London")


def test_next_turn_after_a_tool_call_reuses_the_whole_turn(client: openai.OpenAI) -> None:
    """The calls sent back re-render as generated, so the reply's tokens stay cached."""
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = _weather_call(client, ask)
    msg = first.choices[0].message
    assert msg.tool_calls
    turn = [
        *ask,
        msg.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "sunny, 21 C"},
    ]
    second = _weather_call(client, turn, max_tokens=8)
    assert first.usage is not None and second.usage is not None
    cached = second.usage.prompt_tokens_details.cached_tokens
    # The first turn's prompt and at least part of its reply (the model's own tokens).
    assert cached > first.usage.prompt_tokens


def test_streamed_tool_calls_parse(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in London?"}],
        tools=_weather_tool(),
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=40,
        temperature=0,
        stream=True,
    )
    chunks = list(stream)
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather"
    assert json.loads(calls[0].function.arguments)["city"] in ("Paris", "London")
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_keep_alive_reuses_one_connection(server, client: openai.OpenAI) -> None:
    streams = []
    for _ in range(3):
        raw = client.chat.completions.with_raw_response.create(
            model=MODEL, messages=HI, max_tokens=1, temperature=0
        )
        streams.append(id(raw.http_response.extensions["network_stream"]))
    assert len(set(streams)) == 1


def test_models_lists_every_loaded_model(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list().data}
    assert ids == {MODEL, "smollm2-fim"}
