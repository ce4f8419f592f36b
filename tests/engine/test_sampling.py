"""Grammar sampling: the argmax-first shortcut gives exactly the constrained argmax."""

from __future__ import annotations

import json

import llama_cpp
import pytest

from redline.agent.toolcalls import openai_tools, text_schema
from redline.engine.engine import Engine
from redline.engine.sampling import Sampler
from redline.engine.structured import render_tools_system_prompt, schema_grammar, tools_grammar
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
