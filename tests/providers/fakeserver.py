"""A tiny OpenAI-compatible chat server with fault injection, for loopback tests.

It speaks real HTTP/1.1 with chunked SSE (``data: {...}`` ... ``data: [DONE]``),
so the real ``openai`` client and the real connection pool are exercised; what
it cannot do is think, so every reply is a fixed list of tokens. Faults: a slow
first token, slow tokens, HTTP errors (with ``Retry-After``), a TCP reset after
N tokens, a hang before or after the headers, headers held back until the first
token (as many real servers do), a streamed tool call, a script of replies
(chosen by how many assistant turns the request holds, so several servers can
share one conversation), and a "leaky" error body that echoes the
``Authorization`` header back.

Use it in-process (``FakeServer``, one thread per connection) or as a separate
process that a test can SIGKILL (``python fakeserver.py --faults '{...}'`` prints
the port; ``POST /_faults`` changes faults at run time, ``GET /_stats`` reads
the counters).
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Faults:
    first_token_delay_s: float = 0.0
    token_delay_s: float = 0.0
    tokens: list[str] = field(default_factory=lambda: ["Hello", ",", " world", "!"])
    fail_status: int | None = None
    fail_count: int | None = None  # None: every request fails while fail_status is set
    retry_after: float | None = None
    reset_after_tokens: int | None = None
    hang: bool = False  # read the request, never answer
    hang_after_headers: bool = False  # send 200 headers, then nothing
    tool_call: dict[str, str] | None = None  # {"name": ..., "arguments": ...}
    echo_auth: bool = False
    slow_every: int | None = None  # every Nth request waits slow_delay_s more (a tail)
    slow_delay_s: float = 0.0
    hold_headers: bool = False  # send the 200 headers only with the first token
    script: list[dict[str, Any]] | None = None
    """Replies by turn (assistant messages in the request); each {"content": str} or
    {"tool_call": {"name", "arguments"}}. The last one repeats."""
    fail_every: int | None = None  # every Nth request fails with fail_status (or 500)


@dataclass
class Stats:
    connections: int = 0
    hits: int = 0
    completed: int = 0
    disconnected: int = 0  # the client went away before the reply ended
    failed: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: tests read the counters instead."""

    def do_GET(self) -> None:
        if self.path == "/_stats":
            with self.server.lock:
                stats = asdict(self.server.stats)
            self._json(200, stats)
        elif self.path.rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        else:
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        payload = json.loads(body or b"{}")
        if self.path == "/_faults":
            with self.server.lock:
                for key, value in payload.items():
                    setattr(self.server.faults, key, value)
            self._json(200, {"ok": True})
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        with self.server.lock:
            stats, faults = self.server.stats, self.server.faults
            stats.hits += 1
            stats.requests.append(payload)
            stats.auth.append(self.headers.get("authorization", ""))
            fail = faults.fail_status is not None and faults.fail_count != 0
            if fail and faults.fail_count is not None:
                faults.fail_count -= 1
            if faults.fail_every:
                fail = stats.hits % faults.fail_every == 0
            snapshot = Faults(**asdict(faults))
            if faults.script:
                turn = sum(1 for m in payload.get("messages", []) if m.get("role") == "assistant")
                step = faults.script[min(turn, len(faults.script) - 1)]
                snapshot.tool_call = step.get("tool_call")
                snapshot.tokens = _split(step.get("content", ""))
            if faults.slow_every and stats.hits % faults.slow_every == 0:
                snapshot.first_token_delay_s += faults.slow_delay_s
        if snapshot.hang:
            self._wait(3600.0)
            self._note("disconnected")
            self.close_connection = True
            return
        if fail:
            self._fail(snapshot)
            return
        self._stream(payload, snapshot)

    def _fail(self, faults: Faults) -> None:
        message = f"injected failure {faults.fail_status or 500}"
        if faults.echo_auth:
            message += f" for {self.headers.get('authorization')}"
        headers = {}
        if faults.retry_after is not None:
            headers["Retry-After"] = f"{faults.retry_after:g}"
        self._json(faults.fail_status or 500, {"error": {"message": message, "type": "x"}}, headers)
        self._note("failed")

    def _stream(self, payload: dict[str, Any], faults: Faults) -> None:
        if faults.hold_headers:
            if not self._wait(faults.first_token_delay_s):
                self._note("disconnected")
                self.close_connection = True
                return
            faults.first_token_delay_s = 0.0
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if faults.hang_after_headers:
            faults.first_token_delay_s = 3600.0
        try:
            if not self._wait(faults.first_token_delay_s):
                self._note("disconnected")
                return
            for index, delta in enumerate(_deltas(faults)):
                if faults.reset_after_tokens is not None and index >= faults.reset_after_tokens:
                    self._reset()
                    return
                self._event(_chunk(delta, None))
                if faults.token_delay_s and not self._wait(faults.token_delay_s):
                    self._note("disconnected")
                    return
            finish = "tool_calls" if faults.tool_call else "stop"
            self._event(_chunk({}, finish))
            if (payload.get("stream_options") or {}).get("include_usage"):
                self._event(_usage_chunk(payload, faults))
            self._send_chunk(b"data: [DONE]\n\n")
            self._send_chunk(b"")
        except OSError:
            self._note("disconnected")
            self.close_connection = True
            return
        self._note("completed")

    # -- plumbing ----------------------------------------------------------------

    def _note(self, counter: str) -> None:
        with self.server.lock:
            setattr(self.server.stats, counter, getattr(self.server.stats, counter) + 1)

    def _wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; False as soon as the client hangs up or the server stops."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.server.stopping.is_set():
                return False
            ready, _, _ = select.select([self.connection], [], [], min(left, 0.02))
            if ready:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return False
                except OSError:
                    return False
        return True

    def _reset(self) -> None:
        """Abort the connection with a TCP RST, as a crashing server would."""
        self.close_connection = True
        linger = struct.pack("ii", 1, 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.connection.close()
        self._note("disconnected")

    def _event(self, data: dict[str, Any]) -> None:
        self._send_chunk(b"data: " + json.dumps(data).encode() + b"\n\n")

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _split(text: str) -> list[str]:
    """A reply's text as a few tokens (pieces of up to 8 characters)."""
    return [text[i : i + 8] for i in range(0, len(text), 8)] or [""]


def _deltas(faults: Faults) -> list[dict[str, Any]]:
    if faults.tool_call:
        args = faults.tool_call.get("arguments", "{}")
        head = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": faults.tool_call["name"], "arguments": ""},
        }
        parts = [args[i : i + 4] for i in range(0, len(args), 4)]
        return [{"tool_calls": [head]}] + [
            {"tool_calls": [{"index": 0, "function": {"arguments": part}}]} for part in parts
        ]
    return [{"content": token} for token in faults.tokens]


def _chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _usage_chunk(payload: dict[str, Any], faults: Faults) -> dict[str, Any]:
    predicted = bool(payload.get("prediction"))
    usage = {
        "prompt_tokens": 7,
        "completion_tokens": len(_deltas(faults)),
        "total_tokens": 7 + len(_deltas(faults)),
        "prompt_tokens_details": {"cached_tokens": 2},
        "completion_tokens_details": {
            "accepted_prediction_tokens": 3 if predicted else 0,
            "rejected_prediction_tokens": 1 if predicted else 0,
        },
    }
    return {**_chunk({}, None), "choices": [], "usage": usage}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, faults: Faults) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.faults = faults
        self.stats = Stats()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.live: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.live.add(request)
            self.stats.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Resets and hang-ups are what this server is for; stay quiet about them."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.live.discard(request)
        super().shutdown_request(request)


class FakeServer:
    """An in-process fake server on a free loopback port."""

    def __init__(self, faults: Faults | None = None, port: int = 0) -> None:
        self._server = _Server(port, faults or Faults())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def faults(self) -> Faults:
        return self._server.faults

    @property
    def stats(self) -> Stats:
        return self._server.stats

    def reset_stats(self) -> None:
        with self._server.lock:
            self._server.stats = Stats()

    def set(self, **faults: Any) -> None:
        with self._server.lock:
            for key, value in faults.items():
                setattr(self._server.faults, key, value)

    def kill(self) -> None:
        """Die like a crashed process: refuse new connections, reset live ones."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._server.lock:
            live = list(self._server.live)
        for sock in live:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            except OSError:
                continue  # already gone

    close = kill

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def spawn(faults: dict[str, Any] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start the server as a child process; returns it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--faults", json.dumps(faults or {})],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--faults", default="{}", help="JSON object of Faults fields")
    args = parser.parse_args()
    server = _Server(args.port, Faults(**json.loads(args.faults)))
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.05)


if __name__ == "__main__":
    main()
