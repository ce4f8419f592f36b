"""Text completions: prompt, echo, and ``suffix`` (fill-in-the-middle)."""

from __future__ import annotations

import openai
import pytest
from serve_helpers import FIM_MODEL, MODEL


def test_completion_and_echo(client: openai.OpenAI) -> None:
    prompt = "The capital of France is"
    plain = client.completions.create(model=MODEL, prompt=prompt, max_tokens=6, temperature=0)
    echoed = client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=6, temperature=0, echo=True
    )
    assert plain.object == "text_completion" and plain.choices[0].text
    assert echoed.choices[0].text == prompt + plain.choices[0].text
    assert "x_redline_timings" in plain.model_extra


def test_streamed_completion_matches(client: openai.OpenAI) -> None:
    prompt = "def fibonacci(n):"
    plain = client.completions.create(model=MODEL, prompt=prompt, max_tokens=10, temperature=0)
    chunks = list(
        client.completions.create(
            model=MODEL, prompt=prompt, max_tokens=10, temperature=0, stream=True
        )
    )
    assert "".join(c.choices[0].text for c in chunks) == plain.choices[0].text
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_suffix_on_model_without_fim_is_a_clear_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=MODEL, prompt="def f(", suffix="return 1", max_tokens=4)
    err = info.value.body
    assert err["param"] == "suffix" and "fill-in-the-middle" in err["message"]


def test_suffix_on_fim_model_lays_out_fim_prompt(client: openai.OpenAI) -> None:
    """The FIM prompt is prefix + suffix + the three FIM tokens (bos counted once)."""
    prefix, suffix = "def add(a, b):\n", "\n\nprint(add(1, 2))\n"

    def prompt_tokens(**kw) -> int:
        r = client.completions.create(model=FIM_MODEL, max_tokens=1, temperature=0, **kw)
        return r.usage.prompt_tokens

    fim = client.completions.create(
        model=FIM_MODEL, prompt=prefix, suffix=suffix, max_tokens=4, temperature=0
    )
    assert fim.choices[0].finish_reason in ("stop", "length")
    bos = prompt_tokens(prompt="")
    expected = prompt_tokens(prompt=prefix) + prompt_tokens(prompt=suffix) - bos + 3
    assert fim.usage.prompt_tokens == expected
