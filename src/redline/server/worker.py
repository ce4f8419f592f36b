"""One engine, its threads, one queue: how many async clients share a model.

An engine generates ``parallel`` requests at a time (one by default; more with
continuous batching, ``redline serve --parallel N``), so each model gets that
many worker threads, each running one generation after another.
Chunks cross to the event loop with ``call_soon_threadsafe`` onto a per-job
``asyncio.Queue``: no polling, well under a millisecond per hop. Cancelling a
job sets its ``threading.Event``; the engine checks it between decode steps,
so a disconnected client frees the model within one token.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from redline.engine.engine import Engine
from redline.engine.types import Chunk, GenerationRequest
from redline.server.errors import QueueFullError, ShuttingDownError
from redline.server.metrics import ServerMetrics

log = logging.getLogger("redline.server")

_END = object()


@dataclass(eq=False)
class Job:
    """A queued generation and the async queue its chunks arrive on."""

    request: GenerationRequest
    loop: asyncio.AbstractEventLoop
    out: asyncio.Queue = field(default_factory=asyncio.Queue)
    enqueued_at: float = field(default_factory=time.perf_counter)
    started_at: float | None = None
    prediction_tokens: int = 0
    """Length of the prediction in tokens (for rejected_prediction_tokens)."""

    @property
    def cancel_event(self) -> threading.Event:
        assert self.request.cancel is not None
        return self.request.cancel

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def queue_s(self) -> float:
        return (self.started_at or time.perf_counter()) - self.enqueued_at

    def _push(self, item: object) -> None:
        try:
            self.loop.call_soon_threadsafe(self.out.put_nowait, item)
        except RuntimeError:  # event loop closed (shutdown): nobody is listening
            self.cancel()

    async def chunks(self) -> AsyncIterator[Chunk]:
        """The job's chunks; engine errors are re-raised here. Cancels on early exit."""
        try:
            while True:
                item = await self.out.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, Chunk)
                yield item
        finally:
            self.cancel()


class ModelWorker:
    """Serialises generations for one engine; refuses work past ``max_queue`` waiting jobs."""

    def __init__(self, engine: Engine, *, max_queue: int, metrics: ServerMetrics) -> None:
        self.engine = engine
        self.name = engine.name
        self.max_queue = max_queue
        self.metrics = metrics
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._waiting = 0
        self._count_lock = threading.Lock()
        self._active: set[Job] = set()
        self._accepting = True
        self._threads = [
            threading.Thread(target=self._run, name=f"redline-{self.name}-{i}", daemon=True)
            for i in range(getattr(engine, "parallel", 1))
        ]
        for thread in self._threads:
            thread.start()

    # -- submitting (event loop side) ---------------------------------------------
    def submit(self, request: GenerationRequest) -> Job:
        if not self._accepting:
            raise ShuttingDownError("server is shutting down")
        request.cancel = request.cancel or threading.Event()
        with self._count_lock:
            if self._waiting >= self.max_queue:
                raise QueueFullError(
                    f"model {self.name} has {self._waiting} requests waiting "
                    f"(limit {self.max_queue}); retry shortly",
                    retry_after=1,
                )
            self._waiting += 1
            self.metrics.queue_depth.labels(self.name).set(self._waiting)
        job = Job(request=request, loop=asyncio.get_running_loop())
        self._jobs.put(job)
        return job

    @property
    def waiting(self) -> int:
        return self._waiting

    def cancel_all(self) -> None:
        """Cancel running and waiting jobs (shutdown past its grace period)."""
        self._accepting = False
        for job in list(self._active):
            job.cancel()

    def stop(self, timeout: float = 5.0) -> None:
        self._accepting = False
        self.cancel_all()
        for _ in self._threads:
            self._jobs.put(None)
        deadline = time.perf_counter() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.perf_counter()))

    # -- running (worker thread side) --------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            with self._count_lock:
                self._waiting -= 1
                self.metrics.queue_depth.labels(self.name).set(self._waiting)
            self._active.add(job)
            self.metrics.active.labels(self.name).inc()
            try:
                self._generate(job)
            finally:
                self._active.discard(job)
                self.metrics.active.labels(self.name).dec()

    def _generate(self, job: Job) -> None:
        job.started_at = time.perf_counter()
        if job.cancel_event.is_set():  # its client left while it waited
            job._push(_END)
            return
        gen = None
        try:
            if job.request.prediction:
                job.prediction_tokens = len(self.engine.tokenize(job.request.prediction))
            gen = self.engine.generate(job.request)
            for chunk in gen:
                if chunk.timings is not None:
                    self.metrics.observe_generation(self.name, chunk.timings)
                job._push(chunk)
        except Exception as exc:  # handed to the client as an error object, never lost
            if not job.cancel_event.is_set():
                log.debug("generation failed: %s", exc)
            job._push(exc)
        finally:
            if gen is not None:
                gen.close()
            job._push(_END)
