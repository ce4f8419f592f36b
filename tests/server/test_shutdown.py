"""SIGTERM drains: an in-flight stream still ends cleanly, the process exits 0.

This needs a server of its own (it is stopped by the test), started with a
short grace so that the stream is cancelled rather than waited out.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from serve_helpers import API_KEY, MODEL, start_server


def test_sigterm_ends_in_flight_stream_cleanly(tmp_path: Path) -> None:
    args = ["--model", MODEL, "--api-key", API_KEY, "--shutdown-grace", "0.5", "--n-ctx", "1024"]
    srv = start_server(args, tmp_path / "serve.log")
    try:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Count from 1 to 500."}],
            "max_tokens": 400,
            "stream": True,
        }
        with (
            httpx.Client(headers=srv.headers(), timeout=300) as c,
            c.stream("POST", f"{srv.v1}/chat/completions", json=body) as r,
        ):
            lines = r.iter_lines()
            assert next(lines).startswith("data: ")  # streaming has begun
            srv.proc.send_signal(signal.SIGTERM)
            rest = [line for line in lines if line]
        assert rest[-1] == "data: [DONE]"
        assert any('"finish_reason"' in line and "x_redline_timings" in line for line in rest)
        assert srv.proc.wait(120) == 0
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()
