"""Continuous batching on the real engine: several requests decoded in one batch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from redline.engine.batch import Scheduler, _Step, check_memory, kv_cache_bytes
from redline.engine.engine import Engine
from redline.engine.types import GenerationRequest
from redline.errors import ModelLoadError

PROMPTS = [
    'def total(items):\n    """Return the sum of items."""\n',
    'def largest(items):\n    """Return the biggest item."""\n',
    'def count_vowels(text):\n    """Count the vowels in text."""\n',
]
JSON_GRAMMAR = r"""root ::= "{" ws "\"name\":" ws str ws "}"
str ::= "\"" [a-z]{1,12} "\""
ws ::= [ \n]?"""


@pytest.fixture(scope="module")
def parallel_engine() -> Iterator[Engine]:
    engine = Engine("smollm2-135m", n_ctx=1024, parallel=3)
    yield engine
    engine.close()


def _together(engine: Engine, requests: list[GenerationRequest]) -> list[tuple]:
    """Run ``requests`` at once, each in its own thread (as the server's workers do)."""
    out: list[tuple | BaseException] = [()] * len(requests)

    def run(i: int) -> None:
        try:
            out[i] = engine.complete(requests[i])
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    for o in out:
        if isinstance(o, BaseException):
            raise o
    return out  # type: ignore[return-value]


def test_requests_at_once_share_batches_and_match_one_at_a_time(
    smollm2_engine: Engine, parallel_engine: Engine
) -> None:
    reqs = [GenerationRequest(prompt=p, max_tokens=40, temperature=0.0) for p in PROMPTS]
    alone = [smollm2_engine.complete(r)[0] for r in reqs]
    batches, rows = parallel_engine.scheduler.batches, parallel_engine.scheduler.rows
    together = _together(parallel_engine, reqs)
    texts = [t[0] for t in together]
    # one decode carried several sequences' tokens: fewer batches than rows decoded
    new_batches = parallel_engine.scheduler.batches - batches
    new_rows = parallel_engine.scheduler.rows - rows
    assert new_rows >= 2 * new_batches, (new_rows, new_batches)
    # greedy text is the one-at-a-time text where the batch kernels agree (the README
    # reports the share); a flip at a near tie may change one stream's tail, never all
    same = sum(a == b for a, b in zip(alone, texts, strict=True))
    assert same >= len(PROMPTS) - 1, list(zip(alone, texts, strict=True))
    for a, b in zip(alone, texts, strict=True):
        assert a[:20] == b[:20]
    assert all(t[2] in ("stop", "length") for t in together)
    assert parallel_engine.busy == 0


def test_drafts_and_grammars_work_per_sequence(parallel_engine: Engine) -> None:
    old = "".join(PROMPTS) * 2
    predicted = GenerationRequest(
        prompt=f"Copy this text exactly:\n{old}\nCopy:\n",
        max_tokens=80,
        temperature=0.0,
        prediction=old,
    )
    constrained = GenerationRequest(
        prompt="A JSON object with a name: ", max_tokens=30, temperature=0.0, grammar=JSON_GRAMMAR
    )
    sampled = GenerationRequest(prompt=PROMPTS[0], max_tokens=20, temperature=0.8, seed=7)
    (_, spec_tm, _), (text, _, _), (sampled_text, _, _) = _together(
        parallel_engine, [predicted, constrained, sampled]
    )
    assert spec_tm.verify_batches > 0 and spec_tm.accepted_tokens > 0
    assert isinstance(json.loads(text)["name"], str)
    assert sampled_text  # temperature sampling from the sequence's own rows
    again = parallel_engine.complete(sampled)[0]
    assert again == sampled_text  # the same seed samples the same text


@pytest.mark.native_isolated  # loads a model of its own: a crash fails only this test
def test_a_busy_engine_queues_the_next_request_until_a_sequence_frees() -> None:
    engine = Engine("smollm2-135m", n_ctx=512, parallel=2)
    try:
        req = GenerationRequest(prompt=PROMPTS[0], max_tokens=200, temperature=0.0)
        first, second = engine.generate(req), engine.generate(req)
        next(first), next(second)
        assert engine.busy == 2
        started = threading.Event()
        done: list[str] = []

        def third() -> None:
            started.set()
            done.append(engine.complete(GenerationRequest(prompt="Hi", max_tokens=4))[0])

        t = threading.Thread(target=third)
        t.start()
        started.wait()
        t.join(1.0)
        assert t.is_alive() and not done  # both sequences held: it waits
        first.close()  # a client that leaves frees its sequence at once
        t.join(120)
        assert done and not t.is_alive()
        second.close()
        assert engine.busy == 0
    finally:
        engine.close()


def test_too_many_sequences_for_memory_are_refused_before_loading() -> None:
    with pytest.raises(ModelLoadError, match="parallel sequences need a .* MiB KV cache"):
        Engine("smollm2-135m", n_ctx=131072, parallel=64)
    check_memory(kv_bytes=1, weights_bytes=1, parallel=2, available=None)  # unknown: allowed
    with pytest.raises(ModelLoadError, match="4 parallel .* 3 MiB of memory is available"):
        check_memory(kv_bytes=2**22, weights_bytes=2**20, parallel=4, available=3 * 2**20)
    assert kv_cache_bytes(1000, 100, 4, "f16") == 400_000
    assert kv_cache_bytes(64, 1, 1, "q8_0") == 34


class _Seq:
    def __init__(self, seq_id: int) -> None:
        self.seq_id = seq_id
        self.tokens: list[int] = []


def test_the_plan_puts_steps_first_and_never_splits_rows_that_need_logits() -> None:
    plan = Scheduler._plan  # pure: only reads n_batch and the steps
    holder = type("S", (), {"n_batch": 64})()
    prompt = _Step(_Seq(0), list(range(100)), all_logits=False)  # type: ignore[arg-type]
    one = _Step(_Seq(1), [5], all_logits=False)  # type: ignore[arg-type]
    verify = _Step(_Seq(2), list(range(40)), all_logits=True)  # type: ignore[arg-type]
    big_verify = _Step(_Seq(3), list(range(30)), all_logits=True)  # type: ignore[arg-type]
    chosen = plan(holder, [prompt, one, verify, big_verify])  # type: ignore[arg-type]
    # shortest first: the one-token step, then the 30-row verify; the 40-row verify
    # does not fit whole in the 33 left, so it waits; the prompt takes the room left;
    # the batch holds them in sequence order
    assert [(s.session.seq_id, take) for s, take in chosen] == [(0, 33), (1, 1), (3, 30)]
