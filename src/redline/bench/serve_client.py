"""Measuring one streamed turn: over HTTP/SSE, over WebSocket, or in-process.

All three measure the same things the same way: time to the first non-empty
content delta (TTFT), time to the end, and the text (tokenised afterwards with
the same GGUF, so both servers' outputs are counted alike).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from redline.bench.peers import ProcessExited
from redline.engine.engine import Engine
from redline.engine.types import GenerationRequest


@dataclass
class Turn:
    ttft_s: float
    total_s: float
    text: str
    t_first: float
    t_last: float

    def decode_tok_s(self, n_tokens: int) -> float:
        span = self.t_last - self.t_first
        return (n_tokens - 1) / span if n_tokens > 1 and span > 0 else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A server subprocess on loopback, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, cmd: list[str], port: int, log: Path, health: str) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self._fh = log.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._fh, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if (code := self.proc.poll()) is not None:
                self._fh.close()
                raise ProcessExited(f"{cmd[:4]} exited: {log.read_text()[-2000:]}", code)
            try:
                if httpx.get(self.base + health, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"{cmd[:4]} did not start in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()


def start_redline(model: str, n_ctx: int, n_threads: int, log: Path, parallel: int = 1) -> Process:
    port = free_port()
    cmd = [sys.executable, "-c", "from redline.cli import main; main()", "serve"]
    cmd += ["--model", model, "--port", str(port), "--n-ctx", str(n_ctx), "--log-level", "warning"]
    cmd += ["--n-threads", str(n_threads), "--parallel", str(parallel)]
    return Process(cmd, port, log, "/health")


def start_llama_cpp(gguf: Path, n_ctx: int, n_threads: int, log: Path) -> Process:
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
    cmd += ["--n_threads", str(n_threads), "--n_threads_batch", str(n_threads)]
    # queue concurrent requests instead of cutting the running stream off (its default)
    cmd += ["--verbose", "False", "--interrupt_requests", "False"]
    return Process(cmd + (llama_server_repack_flag() or []), port, log, "/v1/models")


def llama_server_repack_flag() -> list[str] | None:
    """llama_cpp.server's switch to keep weights unrepacked, if its version has one.

    Up to llama-cpp-python 0.3.36 its ``ModelSettings`` has no field for llama.cpp's
    extra buffer types, so the peer repacks weights as llama.cpp does by default
    (and a crash that causes is reported, not fatal: :mod:`redline.bench.peers`).
    """
    try:
        from llama_cpp.server.settings import ModelSettings
    except ImportError:
        return None
    if "use_extra_bufts" not in ModelSettings.model_fields:
        return None
    return ["--use_extra_bufts", "False"]


def llama_server_ran_as() -> str:
    """How the peer server ran, for a result's ``peer`` entry and its table."""
    if llama_server_repack_flag():
        return "python -m llama_cpp.server --use_extra_bufts False: weights not repacked"
    return (
        "python -m llama_cpp.server as a user runs it: weights repacked by llama.cpp's "
        "default (its settings have no switch for extra buffer types)"
    )


def threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def sse_turn(client: httpx.Client, base: str, body: dict[str, Any]) -> Turn:
    """One streamed chat completion (or, for a body with a ``prompt``, a text
    completion) over HTTP/SSE."""
    parts: list[str] = []
    t0 = time.perf_counter()
    t_first = t_last = 0.0
    path = "/v1/completions" if "prompt" in body else "/v1/chat/completions"
    with client.stream("POST", f"{base}{path}", json={**body, "stream": True}) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            obj = json.loads(line[6:])
            for choice in obj.get("choices") or []:
                text = choice.get("text") or (choice.get("delta") or {}).get("content") or ""
                if text:
                    t_last = time.perf_counter()
                    t_first = t_first or t_last
                    parts.append(text)
    end = time.perf_counter()
    return Turn(t_first - t0 if t_first else end - t0, end - t0, "".join(parts), t_first, t_last)


def ws_turn(ws: Any, body: dict[str, Any]) -> Turn:
    """One chat turn over an open ``/v1/ws`` connection."""
    parts: list[str] = []
    t0 = time.perf_counter()
    t_first = t_last = 0.0
    ws.send(json.dumps(body))
    while (frame := ws.recv(timeout=600)) != "[DONE]":
        obj = json.loads(frame)
        if "error" in obj:
            raise RuntimeError(obj["error"]["message"])
        for choice in obj.get("choices") or []:
            text = (choice.get("delta") or {}).get("content") or ""
            if text:
                t_last = time.perf_counter()
                t_first = t_first or t_last
                parts.append(text)
    end = time.perf_counter()
    return Turn(t_first - t0 if t_first else end - t0, end - t0, "".join(parts), t_first, t_last)


def inproc_turn(engine: Engine, body: dict[str, Any]) -> Turn:
    """The same turn with no server at all: the floor every transport is compared with."""
    req = GenerationRequest(
        messages=body["messages"],
        max_tokens=body["max_tokens"],
        temperature=body.get("temperature", 0.0),
        prediction=(body.get("prediction") or {}).get("content"),
    )
    parts: list[str] = []
    t0 = time.perf_counter()
    t_first = t_last = 0.0
    gen = engine.generate(req)
    try:
        for chunk in gen:
            if chunk.text:
                t_last = time.perf_counter()
                t_first = t_first or t_last
                parts.append(chunk.text)
    finally:
        gen.close()
    end = time.perf_counter()
    return Turn(t_first - t0 if t_first else end - t0, end - t0, "".join(parts), t_first, t_last)
