"""Fixtures for provider tests: fault-injection servers on loopback ports."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakeserver import FakeServer, Faults, spawn

from redline.providers.base import ChatRequest, Done, ErrorEvent, Event, TextDelta, TimingsEvent


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    """Factory: ``fake_server(first_token_delay_s=0.5)`` starts one; all die at teardown."""
    made: list[FakeServer] = []

    def make(**faults: Any) -> FakeServer:
        server = FakeServer(Faults(**faults))
        made.append(server)
        return server

    yield make
    for server in made:
        server.kill()


@pytest.fixture
def fake_process() -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    """Factory for fake servers in child processes (so a test can SIGKILL one)."""
    procs: list[subprocess.Popen[str]] = []

    def make(**faults: Any) -> tuple[subprocess.Popen[str], str]:
        proc, url = spawn(faults)
        procs.append(proc)
        return proc, url

    yield make
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def ask(text: str = "hi", **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[{"role": "user", "content": text}], max_tokens=16, **kwargs)


class Reply:
    """Everything one ``stream`` call produced, for assertions."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.text = "".join(e.text for e in events if isinstance(e, TextDelta))
        self.final = events[-1] if events else None
        timings = [e for e in events if isinstance(e, TimingsEvent)]
        self.timings = timings[-1] if timings else None

    @property
    def ok(self) -> bool:
        return isinstance(self.final, Done) and self.final.finish_reason != "cancelled"

    @property
    def error(self) -> Exception | None:
        return self.final.error if isinstance(self.final, ErrorEvent) else None

    @property
    def provider(self) -> str | None:
        return self.timings.provider if self.timings else None


def collect(events: Iterator[Event]) -> Reply:
    return Reply(list(events))
