"""How N replies are fetched: one ``n`` request, N parallel requests, or in turn."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from redline.agent.candidates.replies import sample_replies
from redline.providers.base import Capabilities, ChatRequest, Event
from redline.providers.scripted import ScriptedProvider


class CountingProvider(ScriptedProvider):
    """A scripted model that records how many of its streams run at once."""

    def __init__(self, replies: list[str], concurrent: bool):
        super().__init__(replies, delay_s=0.02, chunk=4)
        self.concurrent = concurrent
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(concurrent=self.concurrent)

    def stream(
        self, request: ChatRequest, cancel: threading.Event | None = None
    ) -> Iterator[Event]:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            yield from super().stream(request, cancel)
        finally:
            with self.lock:
                self.running -= 1


def ask(provider: CountingProvider, n: int) -> list:
    request = ChatRequest(messages=[{"role": "user", "content": "go"}], temperature=0.0)
    heard: list[int] = []
    got = sample_replies(
        provider, request, n, threading.Event(), on_reply=lambda s: heard.append(s.index)
    )
    assert sorted(heard) == list(range(n)) and [s.index for s in got] == list(range(n))
    return [provider.requests[i] for i in range(n)]


def test_a_server_without_n_gets_the_replies_as_parallel_requests():
    provider = CountingProvider([f"reply {i} " * 8 for i in range(3)], concurrent=True)
    requests = ask(provider, 3)
    assert provider.most == 3  # all three streams were open at once
    assert all(r.n == 1 for r in requests)
    assert sorted(r.temperature for r in requests) == [0.0, 0.8, 0.8]  # one greedy, two sampled
    assert len({r.seed for r in requests if r.temperature}) == 2


def test_a_provider_that_takes_one_request_at_a_time_gets_them_in_turn():
    provider = CountingProvider([f"reply {i} " * 8 for i in range(3)], concurrent=False)
    ask(provider, 3)
    assert provider.most == 1
