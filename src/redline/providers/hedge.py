"""Hedged requests: cut the tail latency by racing a backup after a delay.

The best provider starts at once. If it has shown no token after the hedge
delay (its recent TTFT at the router's quantile, so only the slow tail pays),
the next provider starts too. The first stream to show a token wins; the other
is cancelled, which closes its connection (see ``cancel.py``), whether or not it
has sent response headers yet. A stream that fails before its first token hands
over to the next candidate at once; a winner that dies part-way on a
``restartable`` request is answered with ``Restart`` and the race runs again
among the providers that have not failed this turn. Each
attempt runs in its own thread and feeds one queue, so the caller's thread
only ever waits on that queue.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from redline.errors import CancelledError, ProviderError
from redline.providers.base import (
    ChatRequest,
    Done,
    ErrorEvent,
    Event,
    Restart,
    TextDelta,
    TimingsEvent,
    ToolCallDelta,
)
from redline.providers.member import (
    Member,
    Racer,
    after_start_error,
    annotate,
    as_provider_error,
    started_error,
)

POLL_S = 0.05
_END = object()


@dataclass
class _Attempt:
    index: int
    member: Member
    started: float
    cancel: threading.Event = field(default_factory=threading.Event)
    first_at: float | None = None
    ended: bool = False  # the pump thread has finished
    settled: bool = False  # success, failure or cancellation has been recorded
    buffered: list[Event] = field(default_factory=list)
    timings: TimingsEvent | None = None


def _pump(
    router: Racer, attempt: _Attempt, request: ChatRequest, out: queue.Queue[tuple[int, object]]
) -> None:
    """Run one provider's stream in this thread, forwarding every event to ``out``."""
    events = attempt.member.provider.stream(request, attempt.cancel)
    try:
        for event in events:
            out.put((attempt.index, event))
    except Exception as exc:  # a provider bug: reported, never lost
        name = attempt.member.name
        out.put((attempt.index, ErrorEvent(ProviderError(f"{name}: {exc}", provider=name))))
    finally:
        router.busy(attempt.member, -1)
        close = getattr(events, "close", None)
        if close is not None:
            close()
        out.put((attempt.index, _END))


class _Race:
    """The state of one hedged turn."""

    def __init__(self, router: Racer, request: ChatRequest) -> None:
        self.router = router
        self.request = request
        self.out: queue.Queue[tuple[int, object]] = queue.Queue()
        self.attempts: list[_Attempt] = []
        self.pending = router.candidates(request)
        self.errors: list[ProviderError] = []
        self.failed: set[str] = set()

    def launch(self) -> bool:
        """Start the next admitted candidate; False when none is left."""
        member = next(self.pending, None)
        if member is None:
            return False
        attempt = _Attempt(len(self.attempts), member, time.monotonic())
        self.attempts.append(attempt)
        threading.Thread(
            target=_pump,
            args=(self.router, attempt, self.request, self.out),
            name=f"redline-hedge-{member.name}",
            daemon=True,
        ).start()
        return True

    @property
    def tried(self) -> list[str]:
        return [a.member.name for a in self.attempts]

    def fail(self, attempt: _Attempt, error: Exception) -> None:
        attempt.settled = True
        self.failed.add(attempt.member.name)
        self.router.record_failure(attempt.member)
        self.errors.append(as_provider_error(error, attempt.member.name))

    def rerun(self) -> None:
        """A fresh field for a restarted turn: everyone who has not failed it."""
        self.pending = self.router.candidates(self.request, exclude=frozenset(self.failed))

    def abandon_all(self, keep: _Attempt | None = None) -> None:
        """Cancel every unsettled attempt except ``keep``; a cancel is not a failure."""
        now = time.monotonic()
        for attempt in self.attempts:
            if attempt is keep or attempt.settled:
                continue
            attempt.cancel.set()
            attempt.settled = True
            waited = None if attempt.first_at is not None else now - attempt.started
            self.router.record_abandoned(attempt.member, waited)


def stream_hedged(
    router: Racer, request: ChatRequest, cancel: threading.Event | None
) -> Iterator[Event]:
    """The hedge policy of :class:`~redline.providers.router.Router`."""
    race = _Race(router, request)
    broken: ProviderError | None = None
    try:
        while True:
            winner = yield from _first_token(race, cancel, broken)
            if winner is None:
                return
            race.abandon_all(keep=winner)
            broken = yield from _follow(race, winner, cancel)
            if broken is None:
                return
            race.rerun()
    finally:
        race.abandon_all()


def _first_token(
    race: _Race, cancel: threading.Event | None, broken: ProviderError | None = None
) -> Iterator[Event]:
    """Run the race until one attempt shows output; None after a final event was yielded.
    ``broken``: the reply that died part-way before this rerun (announced by Restart)."""
    if not race.launch():
        if broken is not None:
            yield ErrorEvent(after_start_error(broken, str(broken.provider)))
        else:
            yield ErrorEvent(race.router.no_answer(race.errors))
        return None
    if broken is not None:
        yield Restart(str(broken.provider), race.attempts[-1].member.name, broken.message)
    hedge_at = time.monotonic() + race.router.hedge_delay(race.attempts[0].member)
    hedged = False
    while True:
        if cancel is not None and cancel.is_set():
            yield Done("cancelled")
            return None
        if all(a.ended or a.settled for a in race.attempts):
            if not race.launch():
                yield ErrorEvent(race.router.no_answer(race.errors))
                return None
            hedge_at = time.monotonic() + race.router.hedge_delay(race.attempts[-1].member)
            hedged = False
            continue
        now = time.monotonic()
        if not hedged and now >= hedge_at:
            hedged = True  # one backup at a time; a failure re-arms the hedge
            race.launch()
            continue
        timeout = POLL_S if hedged else max(0.0, min(POLL_S, hedge_at - now))
        try:
            index, item = race.out.get(timeout=timeout)
        except queue.Empty:
            continue
        attempt = race.attempts[index]
        if item is _END:
            attempt.ended = True
            if not attempt.settled:
                race.fail(attempt, ProviderError(f"{attempt.member.name}: stream ended early"))
            continue
        if attempt.settled:
            continue  # a cancelled loser's last words
        if isinstance(item, ErrorEvent) and not isinstance(item.error, CancelledError):
            race.fail(attempt, item.error)
            continue
        attempt.buffered.append(item)  # type: ignore[arg-type]
        if isinstance(item, TextDelta | ToolCallDelta | Done | ErrorEvent):
            attempt.first_at = time.monotonic()
            return attempt


def _follow(race: _Race, winner: _Attempt, cancel: threading.Event | None) -> Iterator[Event]:
    """Stream the winner's events to the end, keeping the router's books; returns the
    error of a restartable reply that died part-way (None when the turn is over)."""
    router = race.router
    backlog = list(winner.buffered)
    while True:
        if backlog:
            item: object = backlog.pop(0)
        else:
            if cancel is not None and cancel.is_set():
                winner.cancel.set()
            try:
                index, item = race.out.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if index != winner.index:
                continue
        if item is _END:
            if not winner.settled:
                error = ProviderError(f"{winner.member.name}: stream ended without finishing")
                race.fail(winner, error)
                if race.request.restartable:
                    return started_error(error, winner.member.name)
                yield ErrorEvent(after_start_error(error, winner.member.name))
            return None
        event: Event = item  # type: ignore[assignment]
        if isinstance(event, TimingsEvent):
            winner.timings = event
            event = annotate(event, race.tried)
        elif isinstance(event, Done):
            winner.settled = True
            if event.finish_reason == "cancelled":
                router.record_abandoned(winner.member, None)
            else:
                ttft = (winner.first_at or time.monotonic()) - winner.started
                router.record_success(winner.member, ttft, winner.timings)
        elif isinstance(event, ErrorEvent):
            winner.settled = True
            if isinstance(event.error, CancelledError):
                router.record_abandoned(winner.member, None)
            else:
                race.fail(winner, event.error)
                error = as_provider_error(event.error, winner.member.name)
                if race.request.restartable:
                    return started_error(error, winner.member.name)
                event = ErrorEvent(after_start_error(error, winner.member.name))
        yield event
        if isinstance(event, Done | ErrorEvent):
            return None
