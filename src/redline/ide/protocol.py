"""The JSON-RPC layer, hardened: a malformed request gets an error, never silence.

pygls turns a message it cannot parse into a log line and drops it, so a client
that sent a request with bad ``params`` would wait forever. Here such a request
is answered with ``InvalidParams`` (-32602) and a message naming the method;
the server then carries on with the next message.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


class _Answered:
    """Stands in for a message that was already answered with an error."""

    jsonrpc = "dropped"


class RedlineProtocol(LanguageServerProtocol):
    """LanguageServerProtocol that answers unparseable requests with an error."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            is_request = isinstance(data, dict) and "id" in data and "method" in data
            if not is_request or not isinstance(data.get("id"), int | str):
                raise
            method = str(data.get("method"))
            message = f"invalid params for {method}"
            cause = exc.__cause__
            if cause is not None:
                message += f": {_first_line(cause)}"
            error = JsonRpcInvalidParams(message).to_response_error()
            self._send_response(data["id"], None, error)
            self._log_client(f"redline: rejected a malformed {method} request: {message}")
            return _Answered()

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Answered):
            return
        if not hasattr(message, "jsonrpc"):  # e.g. a bare JSON value: nothing to answer
            self._log_client(f"redline: ignored a message that is not JSON-RPC: {message!r:.80}")
            return
        super().handle_message(message)

    def _log_client(self, text: str) -> None:
        log.warning(text)
        try:
            self.notify(
                types.WINDOW_LOG_MESSAGE,
                types.LogMessageParams(type=types.MessageType.Error, message=text),
            )
        except Exception:  # the transport itself failed: nothing more to tell
            log.exception("could not send a log message")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
