"""N continuations of one prompt, decoded together (OpenAI ``n``, candidate attempts).

The prompt is evaluated once, on the lone engine's own sequence 0; its KV is then
copied to the other continuations' sequences with ``llama_memory_seq_cp``. The
lone engine's cache is unified (one KV stream for every sequence, see
:func:`redline.engine.llama.load_llama`), so the copy only tags the prompt's
cells as belonging to those sequences too: nothing is recomputed or moved, and
N continuations of a 2,000-token prompt cost one prompt evaluation.

Each continuation then runs the engine's ordinary generation loop in its own
thread, on its own :class:`~redline.engine.llama.Session` whose decodes go to a
:class:`~redline.engine.batch.Scheduler` (the same one ``--parallel`` serving
uses): every step of the N loops is one ``llama_decode`` of N rows (more with
drafts), so N continuations cost little more than one on a CPU. Sampling, stop
strings, grammars and drafts are the loop's own, per continuation.

After the group, sequence 0 is cut back to the prompt and the others emptied:
the cache holds the prompt's cells where a lone request would have put them, so
the next request's prefix reuse and cell layout are as if the group had not run.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Callable, Iterator

import llama_cpp
import numpy as np

from redline.engine.batch import Scheduler
from redline.engine.llama import GROUP_MAX, Session, group_seq
from redline.engine.types import Chunk, GenerationRequest
from redline.errors import InvalidRequestError

POLL_S = 0.05
"""How often the merged stream looks at the caller's cancel event while it waits."""


def check_n(n: int) -> None:
    """Refuse an ``n`` the engine cannot decode together."""
    if not 1 <= n <= GROUP_MAX:
        raise InvalidRequestError(f"n must be between 1 and {GROUP_MAX}", param="n")


def member_request(
    req: GenerationRequest, index: int, cancel: threading.Event
) -> GenerationRequest:
    """Continuation ``index``'s own request: seed + index, greedy if it is the greedy first."""
    temperature = 0.0 if (req.greedy_first and index == 0) else req.temperature
    seed = None if req.seed is None else req.seed + index
    return dataclasses.replace(
        req, n=1, greedy_first=False, temperature=temperature, seed=seed, cancel=cancel
    )


class SequenceGroup:
    """The batched sessions a lone engine runs a group on (built once, on first use)."""

    def __init__(self, lone: Session) -> None:
        self.lone = lone
        self.scheduler = Scheduler(lone.ctx, lone.n_batch, lone.n_vocab)
        self.sessions = [
            Session(
                lone.llm, lone.n_batch, seq_id=group_seq(i), scheduler=self.scheduler, shared=lone
            )
            for i in range(GROUP_MAX)
        ]
        for s in self.sessions:
            s.n_ctx = lone.n_ctx  # the scratch cells stay the lone session's

    def close(self) -> None:
        self.scheduler.close()

    def fan_out(self, n: int) -> list[Session]:
        """The lone session's prompt (just decoded) on ``n`` sequences, each with a copy
        of the prompt's last logits row to pick its first token from."""
        lone = self.lone
        row = np.array(lone.last_logits(), copy=True)
        members = self.sessions[:n]
        with self.scheduler.lock:
            for s in members[1:]:
                llama_cpp.llama_memory_seq_cp(lone.mem, lone.seq_id, s.seq_id, 0, -1)
        for s in members:
            s.tokens = list(lone.tokens)
            s._rows = row[None, :].copy()
            self.scheduler.start(s)  # the first batch waits for all n
        return members

    def release(self, members: list[Session], keep: int) -> None:
        """Empty the other sequences and cut sequence 0 back to its first ``keep`` tokens."""
        lone = self.lone
        with self.scheduler.lock:
            for s in members[1:]:
                llama_cpp.llama_memory_seq_rm(lone.mem, s.seq_id, -1, -1)
                s.tokens = []
            llama_cpp.llama_memory_seq_rm(lone.mem, lone.seq_id, keep, -1)
        del lone.tokens[keep:]
        for s in members:
            self.scheduler.stop(s)
            s._rows = None


_END = object()


def merge(
    streams: list[Callable[[], Iterator[Chunk]]],
    stop: threading.Event,
    cancel: threading.Event | None,
) -> Iterator[Chunk]:
    """Run each stream in its own thread and yield their chunks as they come, each
    tagged with its stream's index. ``stop`` is set (ending every stream at its next
    step) when the caller's ``cancel`` is set, when a stream fails (its error is
    raised here once all have ended) or when this iterator is closed early."""
    out: queue.Queue[tuple[int, object]] = queue.Queue()

    def pump(index: int, make: Callable[[], Iterator[Chunk]]) -> None:
        gen = None
        try:
            gen = make()
            for chunk in gen:
                out.put((index, chunk))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer below
            stop.set()
            out.put((index, exc))
        finally:
            if gen is not None:
                gen.close()
            out.put((index, _END))

    threads = [
        threading.Thread(target=pump, args=(i, make), name=f"redline-n{i}", daemon=True)
        for i, make in enumerate(streams)
    ]
    for t in threads:
        t.start()
    running = len(threads)
    error: BaseException | None = None
    try:
        while running:
            # on every pass, not only when idle: N streams keep the queue busy, and a cancel
            # looked at only when it ran dry for POLL_S went unseen until every row ended
            if cancel is not None and cancel.is_set():
                stop.set()
            try:
                index, item = out.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if item is _END:
                running -= 1
            elif isinstance(item, BaseException):
                error = error or item
            elif isinstance(item, Chunk):
                item.index = index
                yield item
    finally:
        stop.set()
        for t in threads:
            t.join()
    if error is not None:
        raise error
