"""OpenAICompatProvider and the router against a real `redline serve` on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import collect

from redline.providers.base import ChatRequest, TimingsEvent, Usage
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.presets import get_preset
from redline.providers.router import Router


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_available() -> bool:
    redline = shutil.which("redline") or os.path.join(os.path.dirname(sys.executable), "redline")
    probe = subprocess.run(
        [redline, "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    return probe.returncode == 0 and "--port" in probe.stdout


@pytest.fixture(scope="module")
def serve_url():
    if not _serve_available():
        pytest.skip("`redline serve` is not registered in this build")
    port = _free_port()
    redline = shutil.which("redline") or os.path.join(os.path.dirname(sys.executable), "redline")
    proc = subprocess.Popen(
        [
            redline,
            "serve",
            "--model",
            "smollm2-135m",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"redline serve died: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline, "redline serve did not become healthy"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        yield proc, f"http://127.0.0.1:{port}/v1"
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_streams_from_real_serve_with_prediction(serve_url):
    _, url = serve_url
    assert get_preset("redline").base_url.endswith(":8088/v1")  # same server, default port
    provider = OpenAICompatProvider("redline", url, "smollm2-135m", None, read_timeout=30)
    request = ChatRequest(
        messages=[{"role": "user", "content": "Repeat: the cat sat on the mat"}],
        max_tokens=12,
        prediction="the cat sat on the mat",
    )
    reply = collect(provider.stream(request))
    assert reply.ok, reply.error
    assert reply.text.strip()
    usage = next(e for e in reply.events if isinstance(e, Usage))
    assert usage.completion_tokens >= 1 and usage.prompt_tokens > 0
    # A redline server's own timings come along (the agent reads `looped` there).
    timings = next(e for e in reply.events if isinstance(e, TimingsEvent))
    engine = timings.extra["engine"]
    assert engine["prompt_tokens"] == usage.prompt_tokens and engine["looped"] is False


def test_n_replies_from_real_serve_come_per_choice(serve_url):
    from redline.providers.base import ChoiceDone, Done, TextDelta

    _, url = serve_url
    provider = OpenAICompatProvider("redline", url, "smollm2-135m", None, read_timeout=60)
    request = ChatRequest(
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=10,
        temperature=1.0,
        seed=9,
        n=3,
    )
    events = list(provider.stream(request))
    texts = ["", "", ""]
    for e in events:
        if isinstance(e, TextDelta):
            texts[e.choice] += e.text
    ends = {e.choice: e.finish_reason for e in events if isinstance(e, ChoiceDone)}
    assert sorted(ends) == [0, 1, 2] and all(texts) and len(set(texts)) >= 2
    assert events[-1] == Done(ends[0])
    usage = next(e for e in events if isinstance(e, Usage))
    single = collect(provider.stream(ChatRequest(messages=request.messages, max_tokens=1)))
    assert (
        usage.prompt_tokens == next(e for e in single.events if isinstance(e, Usage)).prompt_tokens
    )


def test_router_fails_over_from_a_dead_server_to_real_serve(serve_url, fake_server):
    _, url = serve_url
    dead = fake_server()
    dead.kill()
    router = Router(
        [
            OpenAICompatProvider("dead", dead.base_url, "m", None, max_retries=0),
            OpenAICompatProvider(
                "serve", url, "smollm2-135m", None, max_retries=0, read_timeout=30
            ),
        ],
        policy="ordered",
    )
    request = ChatRequest(messages=[{"role": "user", "content": "Say hi."}], max_tokens=6)
    reply = collect(router.stream(request))
    assert reply.ok and reply.provider == "serve" and reply.text.strip()
