"""Prometheus metrics of one server: traffic, errors, queue, latency, speculation.

Each app gets its own ``CollectorRegistry`` so that several servers in one
process (tests, benchmarks) do not collide in the global registry.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from redline.engine.types import Timings

_TTFT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_RATE_BUCKETS = (5, 10, 25, 50, 100, 200, 400, 800, 1600, 3200)


class ServerMetrics:
    """The metric families; routes and workers call the small ``observe_*`` methods."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "redline_requests", "HTTP/WebSocket requests served", ["endpoint", "status"], registry=r
        )
        self.errors = Counter("redline_errors", "Error responses by code", ["code"], registry=r)
        self.queue_depth = Gauge(
            "redline_queue_depth", "Requests waiting for a model", ["model"], registry=r
        )
        self.active = Gauge(
            "redline_active_generations", "Generations running now", ["model"], registry=r
        )
        self.ttft = Histogram(
            "redline_ttft_seconds",
            "Time to first token inside the engine",
            ["model"],
            buckets=_TTFT_BUCKETS,
            registry=r,
        )
        self.decode_rate = Histogram(
            "redline_decode_tokens_per_second",
            "Decode speed per generation",
            ["model"],
            buckets=_RATE_BUCKETS,
            registry=r,
        )
        self.completion_tokens = Counter(
            "redline_completion_tokens", "Tokens generated", ["model"], registry=r
        )
        self.prompt_tokens = Counter(
            "redline_prompt_tokens", "Prompt tokens, evaluated or reused", ["model"], registry=r
        )
        self.cached_tokens = Counter(
            "redline_prompt_cached_tokens",
            "Prompt tokens not evaluated: the KV cache already held them",
            ["model"],
            registry=r,
        )
        self.restored_tokens = Counter(
            "redline_prompt_restored_tokens",
            "Cached prompt tokens copied back from the host-memory prompt cache",
            ["model"],
            registry=r,
        )
        self.drafted = Counter(
            "redline_spec_drafted_tokens", "Speculative tokens drafted", ["model"], registry=r
        )
        self.accepted = Counter(
            "redline_spec_accepted_tokens", "Speculative tokens accepted", ["model"], registry=r
        )
        self.acceptance = Histogram(
            "redline_spec_acceptance_ratio",
            "Accepted / drafted tokens per generation (only when drafting happened)",
            ["model"],
            buckets=(0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 1.0),
            registry=r,
        )

        self.slots = Gauge(
            "redline_parallel_sequences",
            "Requests a model decodes together (redline serve --parallel)",
            ["model"],
            registry=r,
        )
        self.batches = Gauge(
            "redline_batched_decodes",
            "Decodes run for parallel sequences since start (continuous batching)",
            ["model"],
            registry=r,
        )
        self.batched_tokens = Gauge(
            "redline_batched_tokens",
            "Tokens decoded in those decodes (over decodes: the mean batch size)",
            ["model"],
            registry=r,
        )

    def observe_engine(self, model: str, engine: object) -> None:
        """Batching figures read from ``engine`` when /metrics is scraped."""
        self.slots.labels(model).set(getattr(engine, "parallel", 1))
        scheduler = getattr(engine, "scheduler", None)
        if scheduler is not None:
            self.batches.labels(model).set(scheduler.batches)
            self.batched_tokens.labels(model).set(scheduler.rows)

    def observe_request(self, endpoint: str, status: int, code: str | None = None) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        if status >= 400:
            self.errors.labels(code or str(status)).inc()

    def observe_generation(self, model: str, tm: Timings) -> None:
        self.prompt_tokens.labels(model).inc(tm.prompt_tokens)
        self.cached_tokens.labels(model).inc(tm.cached_tokens)
        self.restored_tokens.labels(model).inc(tm.restored_tokens)
        if tm.completion_tokens:
            self.ttft.labels(model).observe(tm.ttft_s)
            self.completion_tokens.labels(model).inc(tm.completion_tokens)
        if tm.completion_tokens > 1:
            self.decode_rate.labels(model).observe(tm.decode_tok_s)
        if tm.drafted_tokens:
            self.drafted.labels(model).inc(tm.drafted_tokens)
            self.accepted.labels(model).inc(tm.accepted_tokens)
            self.acceptance.labels(model).observe(tm.acceptance_rate)

    def render(self) -> bytes:
        return generate_latest(self.registry)
