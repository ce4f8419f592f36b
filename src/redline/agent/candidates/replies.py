"""N replies to one request: the one place that decides how they are obtained.

Reply 0 keeps the request's own sampling (greedy in the agent), so N = 1 is
today's single answer exactly; the others sample at ``temperature`` with
their own seeds, so they differ. How the N are fetched depends on what the
provider declares (:class:`~redline.providers.base.Capabilities`):

- a provider that answers OpenAI's ``n`` (the in-process engine, ``redline
  serve``, a router whose members all do) gets ONE request with ``n``: the
  prompt is read once, its KV shared by the N sequences, and the N replies
  decode in one batch; reply 0 stays greedy (``greedy_first``), and each reply
  is handed on as soon as its own ``ChoiceDone`` arrives;
- a server without ``n`` that takes requests at once (``concurrent``) gets N
  requests in parallel, each handed on as it ends;
- anything else (a scripted provider) gets them one after another, which also
  keeps a scripted test deterministic.
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
from redline.providers.base import ChatRequest, ChoiceDone, Event, Provider, TextDelta
from redline.providers.drain import Drained, drain

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


def together(provider: Provider) -> bool:
    """Whether ``provider`` decodes N replies to one request together (OpenAI ``n``)."""
    return provider.capabilities.n


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

    if n > 1 and together(provider):
        return _one_request(provider, request, n, cancel, temperature, seed, turn, on_reply)
    if n > 1 and provider.capabilities.concurrent:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="reply") as pool:
            return list(pool.map(one, range(n)))
    out = []
    for i in range(n):
        if cancel.is_set():
            break
        out.append(one(i))
    return out


def _one_request(
    provider: Provider,
    request: ChatRequest,
    n: int,
    cancel: threading.Event,
    temperature: float,
    seed: int,
    turn: int,
    on_reply: Callable[[Sampled], None] | None,
) -> list[Sampled]:
    """The N replies as one ``n`` request: each handed on when its choice ends.

    The request's usage and timings (the prompt read once, every reply's tokens)
    are booked on reply 0's stats, so :func:`combined_stats` counts them once."""
    asked = replace(
        request, n=n, greedy_first=True, temperature=temperature, top_p=SAMPLE_TOP_P, seed=seed
    )
    stats = [TurnStats(turn) for _ in range(n)]
    out: dict[int, Sampled] = {}
    start = time.perf_counter()

    def hand_on(event: Event, so_far: Drained) -> None:
        if isinstance(event, TextDelta):
            stats[event.choice].first_token()
        elif isinstance(event, ChoiceDone) and event.choice not in out:
            got = Streamed(so_far.texts(n)[event.choice], finish=event.finish_reason)
            out[event.choice] = Sampled(event.choice, got, stats[event.choice])
            if on_reply is not None:
                on_reply(out[event.choice])

    got = drain(provider.stream(asked, cancel), hand_on, cancel)
    wall = time.perf_counter() - start
    if got.timings is not None:
        stats[0].add_timings(got.timings, primary=True)
    if got.usage is not None:
        stats[0].add_usage(got.usage)
    stats[0].model_s = wall
    texts = got.texts(n)
    for i in range(n):  # replies the stream ended without a ChoiceDone (cancel, error)
        if i not in out and (texts[i] or got.error is not None):
            finish = "cancelled" if cancel.is_set() else got.finish
            out[i] = Sampled(i, Streamed(texts[i], finish=finish, error=got.error), stats[i])
            if on_reply is not None and finish != "cancelled":
                on_reply(out[i])
    return [out[i] for i in sorted(out)]


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
