"""The host-memory prompt cache: saved KV states come back, and change no output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redline.engine.engine import Engine
from redline.engine.prompt_cache import MIN_GAIN_TOKENS, PromptCache, common_prefix
from redline.engine.types import GenerationRequest, Timings

CODE = "def double(x):\n    return x * 2\n\n" * 60
LONG = [{"role": "user", "content": CODE + "What does double(4) return?"}]
OTHER = [{"role": "user", "content": "Write a short poem about the sea. " * 30}]


def _state(n: int) -> bytearray:
    return bytearray(n)


# -- the cache alone ----------------------------------------------------------------
def test_best_entry_is_the_longest_shared_prefix() -> None:
    cache = PromptCache(10_000)
    cache.put(list(range(200)), _state(10))
    cache.put([*range(100), *range(500, 700)], _state(10))
    n, entry = cache.best([*range(150), 9999], live=0)
    assert n == 150 and entry is not None and entry.tokens[:150] == tuple(range(150))
    assert cache.hits == 1


def test_small_gain_over_the_live_cache_is_not_restored() -> None:
    cache = PromptCache(10_000)
    cache.put(list(range(300)), _state(10))
    prompt = list(range(300))
    assert cache.best(prompt, live=300 - MIN_GAIN_TOKENS + 1) == (300 - MIN_GAIN_TOKENS + 1, None)
    n, entry = cache.best(prompt, live=0)
    assert n == 300 and entry is not None


def test_a_state_covered_by_a_longer_one_is_dropped() -> None:
    cache = PromptCache(10_000)
    cache.put(list(range(200)), _state(10))
    cache.put(list(range(400)), _state(10))
    assert len(cache) == 1
    assert not cache.worth_saving(list(range(300)), keep=0)  # the 400-token state serves it
    assert cache.worth_saving(list(range(300, 800)), keep=0)


def test_oldest_entries_go_first_beyond_the_budget() -> None:
    cache = PromptCache(25)
    a, b, c = list(range(200)), list(range(1000, 1200)), list(range(2000, 2200))
    cache.put(a, _state(10))
    cache.put(b, _state(10))
    cache.best(a, live=0)  # a is now the most recently used
    cache.put(c, _state(10))
    kept = {e.tokens[0] for e in cache._entries}
    assert kept == {0, 2000}
    assert cache.size_bytes <= 25


def test_whole_only_cache_never_restores_part_of_a_state() -> None:
    cache = PromptCache(10_000, whole_only=True)
    cache.put(list(range(300)), _state(10))
    assert cache.best(list(range(250)), live=0) == (0, None)
    n, entry = cache.best([*range(300), 5, 6], live=0)
    assert n == 300 and entry is not None


def test_disabled_cache_keeps_nothing() -> None:
    cache = PromptCache(0)
    assert not cache.worth_saving(list(range(1000)), keep=0)
    cache.put(list(range(1000)), _state(10))
    assert len(cache) == 0


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


# -- the real engine ----------------------------------------------------------------
@pytest.fixture
def fresh_cache(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """The session's engine with an empty prompt cache and an empty KV cache."""
    engine: Engine = request.getfixturevalue(request.param)
    saved = engine.prompt_cache
    engine.prompt_cache = PromptCache(whole_only=saved.whole_only)
    engine.session.truncate(0)
    try:
        yield engine
    finally:
        engine.prompt_cache = saved


def _chat(engine: Engine, messages: list[dict], n: int = 12) -> tuple[str, Timings]:
    text, tm, _ = engine.complete(GenerationRequest(messages=messages, max_tokens=n))
    return text, tm


@pytest.mark.parametrize("fresh_cache", ["smollm2_engine"], indirect=True)
def test_interleaved_conversation_gets_its_prefix_back(fresh_cache: Engine) -> None:
    engine = fresh_cache
    cold, tm_cold = _chat(engine, LONG)
    assert tm_cold.cached_tokens == 0 and tm_cold.prompt_tokens > 500
    _chat(engine, OTHER)  # evicts LONG from the KV cache; it is saved first
    assert engine.prompt_cache.saves == 1
    again, tm = _chat(engine, LONG)
    assert tm.restored_tokens == tm.prompt_tokens - 1
    assert tm.cached_tokens == tm.prompt_tokens - 1
    assert again == cold
    # And the output is what an engine without the cache gives.
    engine.prompt_cache = PromptCache(0)
    _chat(engine, OTHER)
    uncached, tm_uncached = _chat(engine, LONG)
    assert tm_uncached.restored_tokens == 0 and tm_uncached.cached_tokens < 50
    assert uncached == cold


@pytest.mark.parametrize("fresh_cache", ["gemma_engine"], indirect=True)
def test_sliding_window_model_restores_only_whole_states(fresh_cache: Engine) -> None:
    engine = fresh_cache
    assert engine.prompt_cache.whole_only  # Gemma 3 has sliding-window layers
    prompt = CODE + "# double(4) returns"
    first, _, _ = engine.complete(GenerationRequest(prompt=prompt, max_tokens=8))
    held = list(engine.session.tokens)
    engine.complete(GenerationRequest(prompt="The sea is " * 80, max_tokens=4))
    # The same prompt would need the saved state cut back: it is evaluated instead.
    again, tm, _ = engine.complete(GenerationRequest(prompt=prompt, max_tokens=8))
    assert tm.restored_tokens == 0 and again == first
    # A prompt that extends the whole saved state gets it back, with the same output
    # as the live cache gives.
    engine.complete(GenerationRequest(prompt="The sea is " * 80, max_tokens=4))
    longer = prompt + first + "\n# and double(5)"
    tokens = engine.tokenize(longer, add_bos=engine.chat.add_bos)
    assert tokens[: len(held)] == held, "precondition: the text re-tokenises to the held tokens"
    restored, tm, _ = engine.complete(GenerationRequest(prompt=longer, max_tokens=8))
    assert tm.restored_tokens == len(held)
    engine.complete(GenerationRequest(prompt=prompt, max_tokens=8))  # live cache holds it again
    live, tm_live, _ = engine.complete(GenerationRequest(prompt=longer, max_tokens=8))
    assert tm_live.restored_tokens == 0 and tm_live.cached_tokens == len(held)
    assert restored == live
