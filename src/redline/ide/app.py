"""The language server with every feature attached: what ``redline lsp`` serves.

Apart from ``server.py`` (the server's state and helpers) and ``features.py``
(the handlers, which use those helpers), so the two import one way only.
"""

from __future__ import annotations

from redline.ide.features import register_features
from redline.ide.server import RedlineLanguageServer


def build_server() -> RedlineLanguageServer:
    """A fresh server with every feature registered."""
    server = RedlineLanguageServer()
    register_features(server)
    return server
