"""Continuous batching: several sequences of one llama context decoded in one batch.

On a CPU a batch of rows costs far less than the same rows one by one (the
weights are read once per batch, not once per row), so N requests decoding
together get most of N times one request's throughput. This is what
llama-server's parallel slots do (``-np``) and llama-cpp-python's server does
not (it serialises requests).

Each request runs the engine's ordinary generation loop in its own thread on its
own :class:`~redline.engine.llama.Session` (one KV sequence). Where that loop
would call ``llama_decode`` it hands its tokens to the :class:`Scheduler`
instead and waits. The scheduler's thread waits briefly until every running
sequence has handed in its next step (``GATHER_S``: a slow one is not waited
for), then decodes them all in one ``llama_decode``: one token per plain step, a
draft's rows for a verify step, and with what room is left, pieces of the
prompts of requests that have just joined (so a new request's prompt never
stops the others for long). Each sequence gets a copy of its own logits rows
back, so the loop above it (drafts, grammars, sampling, stop strings) is the
same code as a lone request's. Rows of different sequences never attend to each
other; they only share the matrix multiplications.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import llama_cpp
import numpy as np

from redline.errors import ModelLoadError, RedlineError

GATHER_S = 0.003
GATHER_SHARE = 0.25
"""How long a step waits for running sequences that have not handed in their next
tokens yet: ``GATHER_S``, or this share of the last decode's time if that is longer.
Between two decodes a sequence only picks its token and scans for stop strings
(about a millisecond, but several Python threads and the server's event loop take
turns on the GIL); one that comes late misses a whole batch, so waiting a quarter of
one costs less than leaving it out."""


class BatchedSequence(Protocol):
    """What the scheduler needs of a KV sequence (a :class:`redline.engine.llama.Session`):
    its id in the context and the tokens its cells hold, which it extends as pieces are
    decoded. A protocol, so this module sits below ``llama.py`` rather than in a circle."""

    seq_id: int
    tokens: list[int]


@dataclass(eq=False)
class _Step:
    session: BatchedSequence
    tokens: list[int]
    all_logits: bool
    done: int = 0
    """Tokens already decoded (a long prompt goes in pieces)."""
    rows: list[np.ndarray] = field(default_factory=list)
    error: BaseException | None = None
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def left(self) -> int:
        return len(self.tokens) - self.done


class Scheduler:
    """Decodes the steps of every running sequence of one context together."""

    def __init__(self, ctx: llama_cpp.llama_context_p, n_batch: int, n_vocab: int) -> None:
        self.ctx = ctx
        self.n_batch = n_batch
        self.n_vocab = n_vocab
        self.lock = threading.RLock()
        """The context: held while decoding and while a sequence's KV cells change."""
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._cv = threading.Condition()
        self._waiting: dict[int, _Step] = {}
        self._running: set[int] = set()
        self._closed = False
        self._last_s = 0.0  # the last decode's time
        self.batches = 0
        """Decodes run (for tests and /metrics)."""
        self.rows = 0
        """Tokens decoded in them."""
        self._thread = threading.Thread(target=self._run, name="redline-batch", daemon=True)
        self._thread.start()

    # -- the sequences' side ------------------------------------------------------
    def start(self, session: BatchedSequence) -> None:
        """``session`` is generating: the next batches wait (briefly) for its steps."""
        with self._cv:
            self._running.add(session.seq_id)

    def stop(self, session: BatchedSequence) -> None:
        """``session`` is done: batches no longer wait for it."""
        with self._cv:
            self._running.discard(session.seq_id)
            self._cv.notify_all()

    def decode(
        self, session: BatchedSequence, tokens: list[int], *, all_logits: bool
    ) -> np.ndarray:
        """Decode ``tokens`` on ``session``'s sequence with the others; its logits rows
        (every token's, or the last one's) once they are all in the cache."""
        if not tokens:
            raise ValueError("nothing to decode")
        step = _Step(session, tokens, all_logits)
        with self._cv:
            if self._closed:
                raise RedlineError("the engine is closed")
            self._running.add(session.seq_id)
            self._waiting[session.seq_id] = step
            self._cv.notify_all()
        step.ready.wait()
        if step.error is not None:
            raise step.error
        return step.rows[0] if len(step.rows) == 1 else np.concatenate(step.rows)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join(5)
        if self.batch is not None and not self._thread.is_alive():
            llama_cpp.llama_batch_free(self.batch)
            self.batch = None

    # -- the scheduler's thread -----------------------------------------------------
    def _gather(self) -> list[_Step] | None:
        with self._cv:
            while not self._waiting and not self._closed:
                self._cv.wait()
            if self._closed:
                for step in self._waiting.values():
                    step.error = RedlineError("the engine was closed")
                    step.ready.set()
                self._waiting.clear()
                return None
            deadline = time.monotonic() + max(GATHER_S, GATHER_SHARE * self._last_s)
            while not self._running <= self._waiting.keys():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cv.wait(left)
            return list(self._waiting.values())

    def _plan(self, steps: list[_Step]) -> list[tuple[_Step, int]]:
        """Which tokens go in this batch: short steps (one token, a draft) whole and
        first, then prompt pieces in what room is left. Rows that need every
        logit are never split across batches."""
        room = self.n_batch
        plan: list[tuple[_Step, int]] = []
        for step in sorted(steps, key=lambda s: s.left):
            take = min(step.left, room)
            if take == 0 or (step.all_logits and take < step.left):
                continue
            plan.append((step, take))
            room -= take
        # In sequence order: llama.cpp handles the batch of a split KV cache stream by
        # stream, and a shuffled order cost 74 vs 56 ms for four rows of the 0.5B here.
        return sorted(plan, key=lambda p: p[0].session.seq_id)

    def _run(self) -> None:
        while (steps := self._gather()) is not None:
            plan = self._plan(steps)
            try:
                outputs = self._decode(plan)
            except BaseException as exc:  # noqa: BLE001 - handed to every waiting sequence
                with self._cv:
                    for step, _ in plan:
                        step.error = exc
                        self._waiting.pop(step.session.seq_id, None)
                        step.ready.set()
                continue
            with self._cv:
                for (step, take), rows in zip(plan, outputs, strict=True):
                    step.session.tokens.extend(step.tokens[step.done : step.done + take])
                    step.done += take
                    if rows is not None:
                        step.rows.append(rows)
                    if step.left == 0:
                        self._waiting.pop(step.session.seq_id, None)
                        step.ready.set()

    def _decode(self, plan: list[tuple[_Step, int]]) -> list[np.ndarray | None]:
        """One ``llama_decode`` of the planned pieces; a copy of each piece's output rows."""
        b = self.batch
        n = 0
        outputs: list[int] = []
        for step, take in plan:
            pos0 = len(step.session.tokens)
            last = step.done + take == len(step.tokens)
            for i in range(take):
                b.token[n] = step.tokens[step.done + i]
                b.pos[n] = pos0 + i
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = step.session.seq_id
                b.logits[n] = step.all_logits or (last and i == take - 1)
                n += 1
            outputs.append(take if step.all_logits else int(last))
        b.n_tokens = n
        started = time.perf_counter()
        with self.lock:
            rc = llama_cpp.llama_decode(self.ctx, b)
            if rc != 0:
                raise RedlineError(f"llama_decode failed with code {rc}")
            total = sum(outputs)
            ptr = llama_cpp.llama_get_logits(self.ctx)
            logits = np.ctypeslib.as_array(ptr, shape=(total, self.n_vocab)) if total else None
            rows: list[np.ndarray | None] = []
            at = 0
            for count in outputs:
                if count == 0:
                    rows.append(None)
                    continue
                assert logits is not None
                rows.append(logits[at : at + count].copy())  # the buffer is reused next decode
                at += count
        self._last_s = time.perf_counter() - started
        self.batches += 1
        self.rows += n
        return rows


KV_ELEMENT_SHARE = {"f16": 1.0, "q8_0": 34 / 64}
"""A KV cache element's size beside f16's (q8_0: 32 values in 34 bytes)."""


def kv_cache_bytes(kv_bytes_per_token: int, n_ctx: int, parallel: int, kv_type: str) -> int:
    """The KV cache of ``parallel`` sequences of ``n_ctx`` positions each."""
    return int(kv_bytes_per_token * KV_ELEMENT_SHARE[kv_type] * n_ctx * parallel)


def available_memory() -> int | None:
    """Bytes the system can still give (``MemAvailable``); None where it is not known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_memory(
    *, kv_bytes: int, weights_bytes: int, parallel: int, available: int | None
) -> None:
    """Refuse, with the figures, a context that would not fit in memory."""
    if available is None or kv_bytes + weights_bytes <= available:
        return
    mib = 2**20
    raise ModelLoadError(
        f"{parallel} parallel sequences need a {kv_bytes // mib} MiB KV cache beside "
        f"{weights_bytes // mib} MiB of weights; {available // mib} MiB of memory is available",
        hint="lower --parallel or --n-ctx (each sequence gets the full context)",
    )
