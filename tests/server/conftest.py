"""One real ``redline serve`` per test session, on a free loopback port.

It loads two models: SmolLM2 (the workhorse) and a copy of SmolLM2 with FIM
token ids added (``fim_gguf.py``), so multi-model routing and the ``suffix``
path are tested for real. ``--max-tokens-cap`` keeps any request (including
the fuzzer's) short on a shared 2-core machine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from redline.engine.models import resolve_model

sys.path.insert(0, str(Path(__file__).parent))
from fim_gguf import add_fim_tokens  # noqa: E402
from serve_helpers import (  # noqa: E402
    API_KEY,
    FIM_MODEL,
    MAX_TOKENS_CAP,
    MODEL,
    Server,
    start_server,
    stop_server,
)


@pytest.fixture(scope="session")
def fim_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, src = resolve_model(MODEL)
    dst = tmp_path_factory.mktemp("gguf") / f"{FIM_MODEL}.gguf"
    # Tokens 3, 4, 5 are unused special tokens of SmolLM2's vocabulary.
    return add_fim_tokens(src, dst, pre=3, suf=4, mid=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, fim_gguf: Path) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    args = ["--model", MODEL, "--model", str(fim_gguf), "--api-key", API_KEY]
    args += ["--max-tokens-cap", str(MAX_TOKENS_CAP), "--max-queue", "8", "--n-ctx", "4096"]
    srv = start_server(args, log)
    # Warm both models up so the first test does not pay for the page-in.
    client = openai.OpenAI(base_url=srv.v1, api_key=API_KEY, timeout=600)
    for model in (MODEL, FIM_MODEL):
        client.completions.create(model=model, prompt="Hello", max_tokens=1)
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.v1, api_key=API_KEY, timeout=300, max_retries=0)


@pytest.fixture(scope="session")
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers=server.headers(), timeout=300) as c:
        yield c
