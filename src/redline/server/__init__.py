"""``redline serve``: the OpenAI-compatible HTTP/WebSocket front door over the engine.

Layout (after llama-cpp-python's server): ``settings`` (configuration),
``app`` (factory and runner), ``routes``/``ws`` (endpoints), ``schemas``
(request bodies), ``convert`` (requests -> engine), ``chat``/``openai_format``
(engine -> responses), ``worker`` (one thread and queue per model),
``middleware`` (auth, body limit), ``metrics`` and ``errors``.
"""

from typing import Any

__all__ = ["ServerSettings", "create_app", "serve"]


def __getattr__(name: str) -> Any:
    """Lazy exports: ``redline --help`` must not pay for importing FastAPI."""
    if name in ("create_app", "serve"):
        from redline.server import app

        return getattr(app, name)
    if name == "ServerSettings":
        from redline.server.settings import ServerSettings

        return ServerSettings
    raise AttributeError(name)
