"""App factory and runner: ``create_app(settings)`` and ``serve(settings)``.

Models load before the socket opens, so the first request never waits for a
load. SIGTERM starts a drain: the listener closes, /health says 503, in-flight
streams get ``shutdown_grace_s`` to finish and are then cancelled cleanly (their
final chunk and ``[DONE]`` still go out) before the process exits.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from redline import __version__
from redline.engine.engine import Engine
from redline.server import routes, ws
from redline.server.errors import install_error_handlers
from redline.server.middleware import GuardMiddleware
from redline.server.settings import ServerSettings
from redline.server.state import ServerState

log = logging.getLogger("redline.server")


def _openapi_without_422(app: FastAPI) -> dict[str, Any]:
    """Validation failures answer 400 (as OpenAI does), so the schema says so."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    for path in schema.get("paths", {}).values():
        for op in path.values():
            if isinstance(op, dict):
                op.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = schema
    return schema


def create_app(settings: ServerSettings, engines: list[Engine] | None = None) -> FastAPI:
    """Build the app and load its models (``engines`` lets tests pass loaded ones)."""
    state = ServerState(settings, engines)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        state.stop()

    app = FastAPI(
        title="redline",
        version=__version__,
        description="OpenAI-compatible API over redline's local engine.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.redline = state
    install_error_handlers(app)
    app.include_router(routes.router)
    app.include_router(ws.router)
    app.add_middleware(
        GuardMiddleware,
        api_key=settings.api_key,
        max_body_bytes=settings.max_body_bytes,
        metrics=state.metrics,
    )
    app.openapi = lambda: _openapi_without_422(app)  # type: ignore[method-assign]
    return app


class _DrainingServer(uvicorn.Server):
    """uvicorn's server plus a drain: on SIGTERM/SIGINT, cancel streams after the grace."""

    def __init__(self, config: uvicorn.Config, state: ServerState, grace: float) -> None:
        super().__init__(config)
        self.redline_state = state
        self.grace = grace
        self._timer: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self._timer is None:
            self.redline_state.draining.set()
            self._timer = threading.Timer(self.grace, self.redline_state.cancel_all)
            self._timer.daemon = True
            self._timer.start()
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: Any = None) -> None:
        await super().shutdown(sockets)
        # uvicorn re-raises the captured signal after a shutdown, so the process would
        # die "by SIGTERM"; the drain completed, so exit 0 instead.
        self._captured_signals.clear()


def serve(settings: ServerSettings, *, log_level: str = "info") -> None:
    """Load the models and serve until SIGTERM/SIGINT."""
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        timeout_keep_alive=75,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 30,  # backstop only
        ws_max_size=settings.max_body_bytes,
        lifespan="on",
    )
    server = _DrainingServer(config, app.state.redline, settings.shutdown_grace_s)
    server.run()
