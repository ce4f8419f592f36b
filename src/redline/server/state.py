"""The server's shared state: settings, metrics and one worker per loaded model."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from redline.engine.engine import Engine, get_engine
from redline.engine.types import Chunk, GenerationRequest
from redline.errors import CancelledError, ModelNotFoundError
from redline.server.metrics import ServerMetrics
from redline.server.settings import ServerSettings
from redline.server.worker import Job, ModelWorker

log = logging.getLogger("redline.server")


@dataclass
class Started:
    """A job whose first chunk has arrived: errors before it became exceptions."""

    job: Job
    first: Chunk
    rest: AsyncIterator[Chunk]

    async def chunks(self) -> AsyncIterator[Chunk]:
        yield self.first
        if self.first.finish_reason is not None and self.job.request.n == 1:
            return
        async for chunk in self.rest:
            yield chunk

    def cancel(self) -> None:
        self.job.cancel()


def _load(model: str, settings: ServerSettings) -> Engine:
    if settings.n_threads is None and settings.gpu_layers is None and settings.parallel == 1:
        engine = get_engine(model, n_ctx=settings.n_ctx)
    else:
        engine = Engine(
            model,
            n_ctx=settings.n_ctx,
            n_threads=settings.n_threads,
            gpu_layers=settings.gpu_layers,
            parallel=settings.parallel,
        )
    engine.prompt_cache.limit_bytes = settings.cache_ram_mb * 2**20
    log.info("%s: %s", engine.name, engine.offload.reason)
    return engine


class ServerState:
    """Loads every configured model once and routes requests to its worker."""

    def __init__(self, settings: ServerSettings, engines: list[Engine] | None = None) -> None:
        self.settings = settings
        self.metrics = ServerMetrics()
        self.draining = threading.Event()
        engines = engines or [_load(m, settings) for m in settings.models]
        self.workers: dict[str, ModelWorker] = {}
        self.aliases: dict[str, str] = {}
        for spec, engine in zip(settings.models, engines, strict=False):
            if engine.name not in self.workers:
                self.workers[engine.name] = ModelWorker(
                    engine, max_queue=settings.max_queue, metrics=self.metrics
                )
            self.aliases[spec] = engine.name

    def worker(self, model: str) -> ModelWorker:
        name = self.aliases.get(model, model)
        if name not in self.workers:
            loaded = ", ".join(self.workers)
            raise ModelNotFoundError(
                f"model {model!r} is not loaded by this server; loaded: {loaded}"
            )
        return self.workers[name]

    async def start(self, model: str, request: GenerationRequest) -> Started:
        """Queue a generation and wait for its first chunk (or its error)."""
        job = self.worker(model).submit(request)
        rest = job.chunks()
        try:
            first = await anext(rest)
        except StopAsyncIteration:
            raise CancelledError("generation was cancelled before it started") from None
        except BaseException:
            job.cancel()
            raise
        return Started(job=job, first=first, rest=rest)

    def cancel_all(self) -> None:
        for w in self.workers.values():
            w.cancel_all()

    def stop(self) -> None:
        for w in self.workers.values():
            w.stop()
