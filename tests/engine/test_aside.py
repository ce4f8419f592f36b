"""A lone session's scratch sequence: a verify batch's near-tie row is decoded alone
beside the sequence, so the batch's later rows survive it (real SmolLM2 engine)."""

from __future__ import annotations

import numpy as np
import pytest

from redline.engine.engine import Engine
from redline.engine.types import GenerationRequest

CODE = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


@pytest.mark.parametrize("name", ["smollm2_engine", "gemma_engine"])  # Gemma: a sliding window
def test_decode_aside_is_the_lone_decode_and_leaves_the_sequence(
    name: str, request: pytest.FixtureRequest
) -> None:
    engine: Engine = request.getfixturevalue(name)
    s = engine.session
    toks = engine.tokenize(CODE)
    assert len(toks) > 17
    s.truncate(0)
    s.decode(toks[:8], all_logits=False)
    s.decode(toks[8:16], all_logits=True)
    aside = s.decode_aside(8 + 3, toks[11])
    assert s.tokens == toks[:16]  # the sequence's cells past the row are still there
    s.decode([toks[16]], all_logits=False)
    after = s.last_logits().copy()

    s.truncate(11)  # the row decoded alone the plain way: cut there, decode its token
    s.decode([toks[11]], all_logits=False)
    assert aside == int(np.argmax(s.last_logits()))

    s.truncate(0)  # the same decodes without the aside one
    s.decode(toks[:8], all_logits=False)
    s.decode(toks[8:16], all_logits=True)
    s.decode([toks[16]], all_logits=False)
    assert np.array_equal(after, s.last_logits())


def test_near_ties_settled_aside_keep_the_rest_of_the_batch(
    smollm2_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row a near tie: each is settled by a lone decode, and a batch still
    accepts many tokens (truncating at each tie accepted one token per batch). The
    speed gate may stop drafting after a batch of such slow steps; it is not tested here."""
    prompt = f"Copy this code exactly:\n{CODE * 2}\nCopy:\n"
    reply, _, _ = smollm2_engine.complete(GenerationRequest(prompt=prompt, max_tokens=48))
    monkeypatch.setattr(smollm2_engine, "tie_margin", float("inf"))
    _, tm, _ = smollm2_engine.complete(
        GenerationRequest(prompt=prompt, max_tokens=48, prediction=reply)
    )
    assert tm.verify_batches >= 1, tm
    # The cut-at-each-tie path accepted 1 token per batch (45 batches for 45 tokens);
    # measured with the group-capable context (17 sequences in one unified cache):
    # 15 tokens in 2 batches.
    assert tm.accepted_tokens >= 4 * tm.verify_batches, tm
