"""What one ``redline serve`` process is configured with.

A frozen dataclass rather than a settings framework: the CLI builds it from
flags, tests build it directly, and nothing reads the environment behind the
caller's back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8088


@dataclass(frozen=True)
class ServerSettings:
    models: list[str] = field(default_factory=lambda: ["smollm2-135m"])
    """Model names or GGUF paths; each gets its own engine and queue. The first is the default."""
    host: str = DEFAULT_HOST
    """Loopback by default: a local model server should not be reachable from the network."""
    port: int = DEFAULT_PORT
    api_key: str | None = None
    """When set, every route but /health needs ``Authorization: Bearer <key>``."""
    n_ctx: int = 8192
    n_threads: int | None = None
    """CPU threads per engine; None uses every core this process may run on."""
    gpu_layers: str | None = None
    """Layers on a GPU: auto, 0 or a count; None follows the config (default auto)."""
    parallel: int = 1
    """Requests per model decoded together (continuous batching); each gets ``n_ctx``."""
    max_queue: int = 16
    """Requests allowed to wait per model; one more gets 429 with Retry-After."""
    max_body_bytes: int = 4 * 1024 * 1024
    """Larger request bodies get 413 before they are read into memory."""
    default_max_tokens: int = 1024
    """Used when a request gives neither max_tokens nor max_completion_tokens."""
    max_tokens_cap: int | None = None
    """Upper bound silently applied to max_tokens (protects a shared CPU box from fuzzers)."""
    default_temperature: float = 0.0
    """Used when a request omits temperature. Greedy, unlike OpenAI's 1.0: local code models
    are used for reproducible edits, and only greedy decoding is speculative."""
    prompt_lookup: bool = False
    """Draft from n-grams of the prompt on greedy requests without a ``prediction``.
    Off by default: where it was measured it did not pay, and since a verify batch is
    not computed by the one-token kernels it can change a greedy reply at a near tie,
    where a request that asked for no drafts should get exactly plain decoding."""
    cache_ram_mb: int = 1024
    """Host memory per model for saved KV states (the prompt cache); 0 turns it off."""
    shutdown_grace_s: float = 10.0
    """On SIGTERM, in-flight streams get this long to finish; then they are cancelled cleanly."""
