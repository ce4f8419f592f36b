"""``redline serve``: the OpenAI-compatible HTTP/WebSocket front door over the engine.

Layout (after llama-cpp-python's server): ``settings`` (configuration),
``app`` (factory and runner), ``routes``/``ws`` (endpoints), ``schemas``
(request bodies), ``convert`` (requests -> engine), ``chat``/``openai_format``
(engine -> responses), ``worker`` (one thread and queue per model),
``middleware`` (auth, body limit), ``metrics`` and ``errors``.
"""

from redline.server.app import create_app, serve
from redline.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app", "serve"]
