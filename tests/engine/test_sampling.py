"""Grammar sampling: the argmax-first shortcut gives exactly the constrained argmax."""

from __future__ import annotations

import dataclasses
import json

import llama_cpp
import pytest

from redline.agent.protocols.toolcalls import openai_tools, text_schema
from redline.engine.engine import CLOSE_MARGIN, Engine
from redline.engine.sampling import Sampler, looping
from redline.engine.structured import (
    parse_reply,
    render_tools_system_prompt,
    schema_grammar,
    tools_grammar,
    with_tools_prompt,
)
from redline.engine.types import GenerationRequest


def _greedy_under_grammar(engine: Engine, prompt: str, grammar: str, fast: bool) -> list[int]:
    s = engine.session
    s.truncate(0)
    s.decode(engine.tokenize(prompt, add_bos=True), all_logits=False)
    sampler = Sampler.for_request(GenerationRequest(prompt=prompt, grammar=grammar), s)
    sampler.fast = fast
    out: list[int] = []
    try:
        for _ in range(40):
            tok = sampler.sample()
            if s.is_eog(tok):
                break
            out.append(tok)
            s.decode([tok], all_logits=False)
    finally:
        hits = sampler.fast_hits
        sampler.close()
        s.truncate(0)
    if fast:
        assert hits > 0  # the shortcut really was taken
    return out


@pytest.mark.parametrize(
    "prompt",
    [
        "Call a tool to read the file app.py. Reply with JSON:\n",
        "The capital of France is",  # the model's argmax is far from the grammar
    ],
)
def test_argmax_first_equals_constraining_everything(smollm2_engine: Engine, prompt: str) -> None:
    grammar = schema_grammar(text_schema()["json_schema"]["schema"])
    fast = _greedy_under_grammar(smollm2_engine, prompt, grammar, fast=True)
    full = _greedy_under_grammar(smollm2_engine, prompt, grammar, fast=False)
    assert fast == full
    text = smollm2_engine.detokenize(fast)
    assert text.lstrip().startswith("{")
    if len(fast) < 40:  # finished: the whole reply is a tool call
        assert "tool" in json.loads(text)


def _grammar_accepts(engine: Engine, grammar: str, text: str) -> bool:
    """Feed ``text`` token by token through the grammar; False at the first refusal."""
    sampler = Sampler.for_request(GenerationRequest(prompt="x", grammar=grammar), engine.session)
    try:
        for tok in engine.tokenize(text):
            if not sampler._allowed(tok):
                return False
            llama_cpp.llama_sampler_accept(sampler.grammar, tok)
        return True
    finally:
        sampler.close()


def test_parallel_tool_calls_false_allows_exactly_one_call(smollm2_engine: Engine) -> None:
    tools = openai_tools()
    one = '{"tool_calls": [{"name": "test", "arguments": {}}]}'
    two = '{"tool_calls": [{"name": "test", "arguments": {}}, {"name": "test", "arguments": {}}]}'
    single = tools_grammar(tools, "auto", parallel=False)
    many = tools_grammar(tools, "auto")
    assert single and many
    assert _grammar_accepts(smollm2_engine, single, one)
    assert not _grammar_accepts(smollm2_engine, single, two)
    assert _grammar_accepts(smollm2_engine, many, two)


def test_tools_prompt_gives_signatures_not_schemas() -> None:
    text = render_tools_system_prompt(openai_tools(), "auto")
    assert "- edit(path: string, edits: [{search: string, replace: string}]):" in text
    assert "- read(path: string, start?: integer, end?: integer):" in text
    assert '"type"' not in text  # no raw JSON schema
    assert '{"content": "your answer"}' in text
    assert "content" not in render_tools_system_prompt(openai_tools(), "required").split("\n")[-1]


WRITE_SCHEMA = {
    "type": "object",
    "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
    "required": ["path", "content"],
    "additionalProperties": False,
}


RUNAWAY = "Write the numbers from 1 to 500, separated by commas, into the file numbers.txt."


@pytest.mark.parametrize("engine_name", ["smollm2_engine", "gemma_engine"])
@pytest.mark.parametrize("max_tokens", [60, 100])
def test_a_runaway_string_is_closed_at_the_token_budget(
    engine_name: str, max_tokens: int, request: pytest.FixtureRequest
) -> None:
    """Both models run a string to any budget on this task; the reply still parses."""
    engine: Engine = request.getfixturevalue(engine_name)
    grammar = schema_grammar(WRITE_SCHEMA)
    if engine.chat.native:
        req = GenerationRequest(
            messages=[{"role": "user", "content": RUNAWAY}], grammar=grammar, max_tokens=max_tokens
        )
    else:
        req = GenerationRequest(prompt=RUNAWAY + " JSON:\n", grammar=grammar, max_tokens=max_tokens)
    text, timings, finish = engine.complete(req)
    assert finish == "length"  # cut short, and said so
    margin = min(CLOSE_MARGIN, max_tokens // 4)  # a quarter of a small budget
    assert max_tokens - margin < timings.completion_tokens <= max_tokens
    call = json.loads(text)
    assert set(call) == {"path", "content"}
    # Before the closing margin nothing was steered: the same budget minus the
    # margin, without closing, gives the same start (then an unparsable cut).
    engine.session.truncate(0)
    short = dataclasses.replace(req, max_tokens=max_tokens - margin)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("redline.engine.engine.CLOSE_MARGIN", 0)
        cut, _, cut_finish = engine.complete(short)
    assert cut_finish == "length"
    assert text.startswith(cut[:-8])
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)


def test_a_reply_that_ends_in_time_is_not_steered(smollm2_engine: Engine) -> None:
    req = GenerationRequest(
        messages=[{"role": "user", "content": "Write hello world into hello.py."}],
        grammar=schema_grammar(WRITE_SCHEMA),
        max_tokens=400,
    )
    text, timings, finish = smollm2_engine.complete(req)
    assert finish == "stop" and not timings.looped
    assert timings.completion_tokens < 400 - CLOSE_MARGIN
    json.loads(text)


def test_looping_needs_many_exact_repeats_of_a_short_pattern() -> None:
    assert looping([7] * 65)  # the last 64 equal the 64 one token earlier
    assert not looping([7] * 64)
    assert looping([1, 2, 3] * 23)  # period 3
    assert looping(list(range(10)) * 8)  # period 10: 64 tokens + one period
    assert looping(list(range(40)) * 5)  # period 40: 4 repeats + one
    assert not looping(list(range(40)) * 4)
    assert not looping(list(range(70)) * 6)  # period 70 > the longest looked for
    assert not looping(list(range(200)))
    tail = [5, 6] * 40
    assert looping([9, 9, 1] + tail) and not looping(tail + [9, 9, 1])  # only the end counts


def test_a_looping_reply_closes_long_before_the_budget(gemma_engine: Engine) -> None:
    """Gemma writes "1000000..." into the string; the reply closes once the loop shows."""
    req = GenerationRequest(
        prompt=RUNAWAY + " JSON:\n", grammar=schema_grammar(WRITE_SCHEMA), max_tokens=400
    )
    text, timings, finish = gemma_engine.complete(req)
    assert finish == "length" and timings.looped
    assert timings.completion_tokens < 120  # not 400
    assert json.loads(text)["content"].startswith("100000")


@pytest.mark.parametrize("model", ["smollm2_engine", "gemma_engine"])
def test_drafts_are_verified_under_the_grammar(request: pytest.FixtureRequest, model: str) -> None:
    """With prompt lookup on, a tool call that copies its prompt drafts and still parses."""
    engine: Engine = request.getfixturevalue(model)
    tools = openai_tools()
    ask = (
        'Reply with this call, exactly: {"tool_calls": [{"name": "write", "arguments": '
        '{"path": "notes.txt", "content": "alpha beta gamma delta epsilon zeta eta theta"}}]}'
    )
    messages = with_tools_prompt([{"role": "user", "content": ask}], tools, "required")
    req = GenerationRequest(
        messages=messages,
        max_tokens=200,
        grammar=tools_grammar(tools, "required", True),
        speculative=True,
    )
    engine.session.truncate(0)
    text, tm, finish = engine.complete(req)
    assert tm.drafted_tokens > 0 and tm.accepted_tokens > 0 and tm.verify_batches > 0
    assert finish == "stop"
    content, calls = parse_reply(text)
    assert calls and content is None
    assert all(c["function"]["name"] in {t["function"]["name"] for t in tools} for c in calls)


def test_a_greedy_plain_reply_in_an_exact_loop_stops_early(smollm2_engine: Engine) -> None:
    """Greedy decoding in an exact cycle would write it to the token limit; the engine
    stops it once the loop is certain (finish "length", looped), and a reply that
    does not loop is untouched."""
    looping_req = GenerationRequest(prompt="print('hello')\n" * 10, max_tokens=600)
    text, timings, finish = smollm2_engine.complete(looping_req)
    assert finish == "length" and timings.looped
    assert 64 <= timings.completion_tokens < 200, timings.completion_tokens
    assert text.count("print('hello')") >= 8
    plain = GenerationRequest(
        prompt="def fibonacci(n):\n", max_tokens=48, temperature=0.0, stop=["\ndef "]
    )
    _, timings, _ = smollm2_engine.complete(plain)
    assert not timings.looped
