"""Streaming generation on the real embedded models."""

from __future__ import annotations

import threading

import pytest

from redline.engine.engine import Engine
from redline.engine.types import GenerationRequest
from redline.errors import ContextOverflowError, InvalidRequestError


def test_completion_streams_in_several_chunks(gemma_engine: Engine) -> None:
    req = GenerationRequest(prompt="def fibonacci(n):", max_tokens=24, speculative=False)
    chunks = list(gemma_engine.generate(req))
    assert len(chunks) >= 5
    assert all(c.finish_reason is None for c in chunks[:-1])
    assert chunks[-1].finish_reason == "length"
    text = "".join(c.text for c in chunks)
    assert "return" in text or "if" in text


def test_chat_uses_template_and_stops_on_eos(smollm2_engine: Engine) -> None:
    messages = [{"role": "user", "content": "Say hello."}]
    text, t, finish = smollm2_engine.complete(GenerationRequest(messages=messages, max_tokens=64))
    assert text.strip()
    assert "<|im_start|>" not in text
    assert finish in ("stop", "length")
    assert t.prompt_tokens > 5


def test_stop_sequence_stops_and_is_not_shown(gemma_engine: Engine) -> None:
    req = GenerationRequest(prompt="def add(a, b):\n", max_tokens=64, stop=["return"])
    text, _, finish = gemma_engine.complete(req)
    assert finish == "stop"
    assert "return" not in text


def test_cancellation_stops_within_one_token(smollm2_engine: Engine) -> None:
    cancel = threading.Event()
    req = GenerationRequest(
        prompt="Count: 1, 2, 3,", max_tokens=200, cancel=cancel, speculative=False
    )
    gen = smollm2_engine.generate(req)
    got = [next(gen), next(gen)]
    cancel.set()
    rest = list(gen)
    assert rest[-1].finish_reason == "cancelled"
    emitted = sum(len(c.tokens) for c in got + rest)
    assert emitted <= sum(len(c.tokens) for c in got) + 1
    assert rest[-1].timings is not None and rest[-1].timings.completion_tokens < 10


def test_timings_are_positive_and_consistent(gemma_engine: Engine) -> None:
    req = GenerationRequest(prompt="import os\nimport sys\n", max_tokens=32, speculative=False)
    chunks = list(gemma_engine.generate(req))
    t = chunks[-1].timings
    assert t is not None
    assert t.completion_tokens == sum(len(c.tokens) for c in chunks) == 32
    assert 0 < t.ttft_s <= t.total_s
    assert 0 < t.decode_s <= t.total_s
    assert t.decode_tok_s > 0 and t.prompt_tokens > 0
    assert t.cached_tokens < t.prompt_tokens


def test_seeded_sampling_is_reproducible(smollm2_engine: Engine) -> None:
    req = dict(prompt="Once upon a time", max_tokens=20, temperature=0.9, seed=7)
    a, _, _ = smollm2_engine.complete(GenerationRequest(**req))
    b, _, _ = smollm2_engine.complete(GenerationRequest(**req))
    assert a == b


def test_grammar_constrains_output(smollm2_engine: Engine) -> None:
    grammar = 'root ::= "yes" | "no"'
    req = GenerationRequest(prompt="Is water wet? Answer:", max_tokens=8, grammar=grammar)
    text, _, _ = smollm2_engine.complete(req)
    assert text in ("yes", "no")


def test_bad_requests_are_rejected(smollm2_engine: Engine) -> None:
    with pytest.raises(InvalidRequestError):
        list(smollm2_engine.generate(GenerationRequest(prompt="x", max_tokens=0)))
    with pytest.raises(InvalidRequestError, match="fill-in-the-middle"):
        list(smollm2_engine.generate(GenerationRequest(prompt="a", suffix="b")))
    with pytest.raises(InvalidRequestError, match="grammar"):
        list(smollm2_engine.generate(GenerationRequest(prompt="a", grammar="root ::= (")))


@pytest.mark.native_isolated  # loads a model of its own: a crash fails only this test
def test_context_overflow_is_a_clear_error() -> None:
    small = Engine("smollm2-135m", n_ctx=256)
    with pytest.raises(ContextOverflowError):
        list(small.generate(GenerationRequest(prompt="word " * 400, max_tokens=4)))
    # the engine still works afterwards
    text, _, _ = small.complete(GenerationRequest(prompt="Hello", max_tokens=4))
    assert text


def test_prompt_lookup_is_opt_in(gemma_engine: Engine) -> None:
    """n-gram drafts only when asked (they can change a greedy reply on this CPU)."""
    prompt = "a = [1, 2, 3, 4, 5, 6, 7, 8]\nb = [1, 2, 3, 4, 5, 6, 7, 8]\nc = ["
    _, plain, _ = gemma_engine.complete(GenerationRequest(prompt=prompt, max_tokens=24))
    assert plain.drafted_tokens == 0
    _, spec, _ = gemma_engine.complete(
        GenerationRequest(prompt=prompt, max_tokens=24, speculative=True)
    )
    assert spec.drafted_tokens > 0 and spec.verify_batches > 0


def test_quotes_draft_from_the_quoted_text_only(gemma_engine: Engine) -> None:
    """``quotes``: drafts come from that text (the files in play), not from the prompt."""
    listing = "a = [1, 2, 3, 4, 5, 6, 7, 8]\n"
    prompt = f"{listing}b = [1, 2, 3, 4, 5, 6, 7, 8]\nc = ["
    _, elsewhere, _ = gemma_engine.complete(
        GenerationRequest(prompt=prompt, max_tokens=24, quotes="x = 'nothing alike'\n")
    )
    _, quoted, _ = gemma_engine.complete(
        GenerationRequest(prompt=prompt, max_tokens=24, quotes=listing)
    )
    assert quoted.accepted_tokens > 0 and quoted.verify_batches > 0
    # Unrelated quotes draft only from the output itself, once it repeats.
    assert quoted.accepted_tokens > elsewhere.accepted_tokens
