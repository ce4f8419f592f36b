"""N replies to one request: the one place that decides how they are obtained.

Reply 0 keeps the request's own sampling (greedy in the agent), so N = 1 is
today's single answer exactly; the others sample at ``temperature`` with
their own seeds, so they differ. How the N are fetched depends on what the
provider can do:

- a provider that decodes several requests together (the in-process engine
  with ``parallel`` sequences, a remote server) gets them at once, from
  threads, so its batch or its pool serves them together;
- anything else (a scripted provider, an engine with one sequence) gets them
  one after another, which also keeps a scripted test deterministic.

When the engine and server answer OpenAI's ``n`` (N continuations of one
prompt, read once), that path goes here and nowhere else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from redline.agent.editing.edits import repeating_lines
from redline.agent.query import Streamed, stream_reply
from redline.agent.telemetry import TurnStats
from redline.providers.base import ChatRequest, Provider

SAMPLE_TEMPERATURE = 0.8
SAMPLE_TOP_P = 0.95
RAMBLE_FACTOR = 2
RAMBLE_MARGIN = 512
"""Characters: a reply longer than twice the first finished one plus this is cut."""


@dataclass
class Sampled:
    """One reply and what it cost."""

    index: int
    got: Streamed
    stats: TurnStats

    @property
    def text(self) -> str:
        return self.got.text


def lanes(provider: Provider) -> int:
    """How many requests ``provider`` serves at once (1: ask one after another)."""
    parallel = getattr(provider, "parallel", None)
    if isinstance(parallel, int):
        return max(1, parallel)
    members = getattr(provider, "members", None)
    if members:
        return sum(lanes(m.provider) for m in members)
    return 64 if getattr(provider, "base_url", None) else 1


def variant(request: ChatRequest, i: int, temperature: float, seed: int) -> ChatRequest:
    """The ``i``-th request of N: 0 is ``request`` itself, the others sample."""
    if i == 0:
        return request
    return replace(request, temperature=temperature, top_p=SAMPLE_TOP_P, seed=seed + i)


def sample_replies(
    provider: Provider,
    request: ChatRequest,
    n: int,
    cancel: threading.Event,
    *,
    temperature: float = SAMPLE_TEMPERATURE,
    seed: int = 1234,
    turn: int = 1,
    watch: bool = True,
    on_reply: Callable[[Sampled], None] | None = None,
) -> list[Sampled]:
    """``n`` replies to ``request`` (index order), concurrently where the provider can.

    ``on_reply`` hears each reply as it ends (from its thread), so it can be checked
    while the others decode; setting ``cancel`` stops those still decoding. A reply
    that runs past ``RAMBLE_FACTOR`` times the first finished one (plus a margin)
    is stopped there as a loop: a sampled small model sometimes never closes its
    listing, and its tail would cost the whole batch time for nothing."""
    first = [0]

    def looping(text: str) -> bool:
        if watch and repeating_lines(text):
            return True
        return bool(first[0]) and len(text) > RAMBLE_FACTOR * first[0] + RAMBLE_MARGIN

    def one(i: int) -> Sampled:
        stats = TurnStats(turn)
        got = stream_reply(
            provider,
            variant(request, i, temperature, seed),
            stats,
            cancel,
            lambda text: None,
            looping=looping,
        )
        if got.finish == "stop" and got.error is None and not first[0]:
            first[0] = len(got.text)
        sampled = Sampled(i, got, stats)
        if on_reply is not None:
            on_reply(sampled)
        return sampled

    width = min(n, lanes(provider))
    if width <= 1:
        out = []
        for i in range(n):
            if cancel.is_set():
                break
            out.append(one(i))
        return out
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="cand-reply") as pool:
        return list(pool.map(one, range(n)))


def combined_stats(turn: int, sampled: list[Sampled], wall_s: float) -> TurnStats:
    """One round's replies as one turn: the wall time they took, the tokens they made."""
    stats = TurnStats(turn, started=time.perf_counter() - wall_s)
    stats.model_s = wall_s
    for s in sampled:
        stats.completion_tokens += s.stats.completion_tokens
        stats.prompt_tokens += s.stats.prompt_tokens
        stats.cached_tokens += s.stats.cached_tokens
        stats.drafted_tokens += s.stats.drafted_tokens
        stats.accepted_tokens += s.stats.accepted_tokens
    firsts = [s.stats.first_token_at for s in sampled if s.stats.first_token_at is not None]
    stats.first_token_at = min(firsts) if firsts else None
    if sampled:
        stats.provider = sampled[0].stats.provider
    stats.provider_tok_s = stats.completion_tokens / wall_s if wall_s > 0 else None
    return stats
