"""``redline serve``: the OpenAI-compatible server on loopback."""

from __future__ import annotations

import typer

from redline.server.settings import DEFAULT_HOST, DEFAULT_PORT, ServerSettings


def serve_command(
    model: list[str] = typer.Option(
        None, "--model", "-m", help="Model name or GGUF path; repeat to load several."
    ),
    host: str = typer.Option(DEFAULT_HOST, help="Bind address (loopback by default)."),
    port: int = typer.Option(DEFAULT_PORT, help="TCP port."),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="REDLINE_API_KEY", help="Require Authorization: Bearer KEY."
    ),
    n_ctx: int = typer.Option(8192, "--n-ctx", help="Context length per model."),
    n_threads: int | None = typer.Option(
        None, "--n-threads", help="CPU threads per model (default: all available cores)."
    ),
    gpu_layers: str | None = typer.Option(
        None,
        "--gpu-layers",
        help="Layers on the GPU: auto (what fits in free memory), 0 (CPU only) or a count.",
    ),
    no_profile: bool = typer.Option(
        False, "--no-profile", help="Ignore the profiles `redline tune` saved (use defaults)."
    ),
    parallel: int = typer.Option(
        1,
        "--parallel",
        min=1,
        help="Requests per model decoded together in one batch (continuous batching).",
    ),
    max_queue: int = typer.Option(16, "--max-queue", help="Waiting requests per model before 429."),
    max_body_bytes: int = typer.Option(
        4 * 1024 * 1024, "--max-body-bytes", help="Larger request bodies get 413."
    ),
    max_tokens_cap: int | None = typer.Option(
        None, "--max-tokens-cap", help="Clamp every request's max_tokens to this."
    ),
    shutdown_grace: float = typer.Option(
        10.0, "--shutdown-grace", help="Seconds in-flight streams get to finish on SIGTERM."
    ),
    prompt_lookup: bool = typer.Option(
        False, "--prompt-lookup", help="Draft from the prompt's n-grams without a prediction."
    ),
    cache_ram: int = typer.Option(
        1024,
        "--cache-ram",
        help="MiB of host memory per model for saved KV states (prompt cache); 0: off.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the OpenAI API (chat, completions, models, WebSocket) over local models."""
    from redline.server.app import serve  # noqa: PLC0415 - keep `redline --help` fast

    if no_profile:
        import os

        from redline.engine.profile import NO_PROFILE_ENV

        os.environ[NO_PROFILE_ENV] = "1"

    settings = ServerSettings(
        models=list(model) or [_default_model()],
        host=host,
        port=port,
        api_key=api_key,
        n_ctx=n_ctx,
        n_threads=n_threads,
        gpu_layers=gpu_layers,
        parallel=parallel,
        max_queue=max_queue,
        max_body_bytes=max_body_bytes,
        max_tokens_cap=max_tokens_cap,
        shutdown_grace_s=shutdown_grace,
        prompt_lookup=prompt_lookup,
        cache_ram_mb=cache_ram,
    )
    serve(settings, log_level=log_level)


def register(app: typer.Typer) -> None:
    """Add ``redline serve`` to the root app."""
    app.command("serve")(serve_command)


def _default_model() -> str:
    """The configured model when it is a local one, else the default coder model."""
    from redline.config import DEFAULT_CHAT_MODEL, load_settings
    from redline.providers.registry import is_local_model

    chosen = load_settings().model
    return chosen if is_local_model(chosen) else DEFAULT_CHAT_MODEL
