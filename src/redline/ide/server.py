"""``redline lsp``: a pygls Language Server for completion, edits and diagnostics.

The handlers only translate between LSP and the library: completion logic is
in ``completion.py``/``prompting.py``, edits in ``editing.py``, diagnostics in
``diagnostics.py``, model choice in ``backends.py``. Every handler catches
redline errors and reports them with ``window/logMessage``; the server never
exits because of what a client sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from redline import __version__
from redline.errors import RedlineError
from redline.ide.backends import Backends
from redline.ide.completion import (
    Completion,
    ModelWorker,
    Supersede,
    complete_text,
    complete_with_provider,
)
from redline.ide.diagnostics import DiagnosticsScheduler
from redline.ide.prompting import CompletionContext
from redline.ide.protocol import RedlineProtocol
from redline.ide.settings import IdeSettings
from redline.providers.base import TextCompleter

log = logging.getLogger(__name__)

EDIT_COMMAND = "redline.editSelection"
REQUEST_FAILED = -32803  # LSP 3.17 RequestFailed


class RedlineLanguageServer(LanguageServer):
    """The server plus the state its features share."""

    def __init__(self) -> None:
        super().__init__("redline", __version__, protocol_cls=RedlineProtocol)
        self.settings = IdeSettings()
        self.backends: Backends | None = None
        self.worker = ModelWorker()
        self.supersede = Supersede()
        self.diagnostics = DiagnosticsScheduler(self._publish, self.log_error)
        self.last_completion: Completion | None = None
        self.counts = {"completions": 0, "cancelled": 0, "superseded": 0}

    # -- messages to the client -------------------------------------------------
    def log_info(self, text: str) -> None:
        self.window_log_message(types.LogMessageParams(type=types.MessageType.Info, message=text))

    def log_error(self, text: str) -> None:
        log.error(text)
        self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=text))

    def show(self, text: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=text))

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls' hook for out-of-band errors: log them, never stop."""
        self.log_error(f"redline lsp: {type(error).__name__}: {error}")

    # -- settings -----------------------------------------------------------------
    def apply_settings(self, options: Any) -> None:
        """Merge an editor's options; a bad value is logged and the old settings kept."""
        try:
            self.settings = self.settings.merged(options)
        except RedlineError as exc:
            self.log_error(f"redline: ignoring settings: {exc.message}")

    def get_backends(self) -> Backends:
        if self.backends is None:
            self.backends = Backends(self.workspace.root_path)
        return self.backends

    # -- documents ----------------------------------------------------------------
    def context_at(self, uri: str, position: types.Position) -> CompletionContext:
        doc = self.workspace.get_text_document(uri)
        source = doc.source
        offset = doc.offset_at_position(position)
        return CompletionContext(source[:offset], source[offset:], path_of(uri))

    def schedule_diagnostics(self, uri: str) -> None:
        path = path_of(uri)
        if not self.settings.diagnostics or not path.endswith((".py", ".pyi")):
            return

        def state() -> tuple[str, int | None] | None:
            if uri not in self.workspace.text_documents:
                return None
            doc = self.workspace.get_text_document(uri)
            return doc.source, doc.version

        self.diagnostics.schedule(
            uri,
            state,
            path,
            delay_s=self.settings.diagnostics_debounce_ms / 1000,
            use_ruff=self.settings.ruff,
        )

    def _publish(self, uri: str, version: int | None, found: list[types.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version)
        )

    # -- completion ---------------------------------------------------------------
    async def complete(self, uri: str, position: types.Position) -> str:
        """Debounced, superseding completion at ``position`` ('' when superseded)."""
        cancel = self.supersede.take()
        arrived = time.perf_counter()
        try:
            await asyncio.sleep(self.settings.debounce_ms / 1000)
            if cancel.is_set():
                self.counts["superseded"] += 1
                return ""
            ctx = self.context_at(uri, position)
            settings, backends = self.settings, self.get_backends()
            deadline_at = arrived + settings.deadline_ms / 1000 if settings.deadline_ms else 0.0
            result = await self.worker.run(
                self._complete_sync, backends, settings, ctx, cancel, deadline_at, cancel=cancel
            )
        except asyncio.CancelledError:
            cancel.set()  # $/cancelRequest: stop the generation too
            self.counts["cancelled"] += 1
            raise
        self.last_completion = result
        self.counts["completions"] += 1
        if result.finish == "cancelled":
            self.counts["superseded"] += 1
        return result.text

    def status(self) -> dict[str, Any]:
        """What ``redline/status`` answers: counters and the last completion's cost."""
        last = self.last_completion
        return {
            **self.counts,
            "busy": self.worker.busy,
            "last": None
            if last is None
            else {
                "finish": last.finish,
                "elapsed_ms": round(last.elapsed_s * 1000, 1),
                "prompt_tokens": last.prompt_tokens,
                "cached_tokens": last.cached_tokens,
            },
        }

    @staticmethod
    def _complete_sync(
        backends: Backends,
        settings: IdeSettings,
        ctx: CompletionContext,
        cancel: threading.Event,
        deadline_at: float,
    ) -> Completion:
        options = {
            "max_tokens": settings.max_tokens,
            "context_lines": settings.context_lines,
            "suffix_lines": settings.suffix_lines,
            "cancel": cancel,
            "deadline_at": deadline_at,
        }
        if cancel.is_set():
            return Completion("", 0.0, "cancelled")
        provider = backends.completion_provider(settings)
        if isinstance(provider, TextCompleter):
            return complete_text(provider, ctx, **options)
        return complete_with_provider(provider, ctx, **options)


def path_of(uri: str) -> str:
    """A file system path for ``uri``, or the URI itself for unsaved buffers."""
    if uri.startswith("file:"):
        return to_fs_path(uri) or uri
    return uri


def require(condition: bool, message: str) -> None:
    """Raise InvalidParams (a client mistake) unless ``condition``."""
    if not condition:
        raise JsonRpcInvalidParams(message)


def request_failed(message: str) -> JsonRpcException:
    return JsonRpcException(message=message, code=REQUEST_FAILED)


def serve_stdio(server: RedlineLanguageServer) -> None:
    """Serve on stdin/stdout with the protocol stream on a private copy of fd 1.

    llama.cpp (and llama-cpp-python's quiet model loading, which points fd 1 at
    /dev/null while a model loads) write to the process's stdout from C. Had
    the LSP stream stayed on fd 1, messages sent during a model load would
    vanish and stray prints would corrupt the framing. So the stream gets its
    own duplicate of fd 1, and fd 1 itself is pointed at stderr.
    """
    stream = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, stream)
