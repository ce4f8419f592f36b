"""Grammar sampling: the argmax-first shortcut gives exactly the constrained argmax."""

from __future__ import annotations

import json

import pytest

from redline.agent.toolcalls import text_schema
from redline.engine.engine import Engine
from redline.engine.sampling import Sampler
from redline.engine.structured import schema_grammar
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
