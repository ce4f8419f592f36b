"""``/v1/ws``: several chat turns over one WebSocket, the same chunks as SSE."""

from __future__ import annotations

import json

import openai
import pytest
from serve_helpers import API_KEY, MODEL, Server
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def _ws_url(server: Server) -> str:
    return server.base_url.replace("http://", "ws://") + "/v1/ws"


def _turn(ws, body: dict) -> list[dict]:
    ws.send(json.dumps(body))
    frames = []
    while (frame := ws.recv(timeout=300)) != "[DONE]":
        frames.append(json.loads(frame))
    return frames


def test_websocket_turns_stream_the_same_chunks(server: Server, client: openai.OpenAI) -> None:
    prompts = ["Say hello.", "Name a fruit."]
    expected = [
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": p}], max_tokens=8, temperature=0
        )
        .choices[0]
        .message.content
        for p in prompts
    ]
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with connect(_ws_url(server), additional_headers=headers) as ws:
        for prompt, want in zip(prompts, expected, strict=True):
            body = {
                "model": MODEL,
                "messages": [{"role": "user", "content": prompt}],
                "max_tokens": 8,
                "temperature": 0,
                "stream_options": {"include_usage": True},
            }
            frames = _turn(ws, body)
            assert all(f["object"] == "chat.completion.chunk" for f in frames)
            text = "".join(
                f["choices"][0]["delta"].get("content") or "" for f in frames if f["choices"]
            )
            assert text == want
            final = [f for f in frames if f["choices"] and f["choices"][0]["finish_reason"]]
            assert "x_redline_timings" in final[0]
            assert frames[-1]["usage"]["completion_tokens"] > 0
        # a bad turn is an error frame; the socket stays usable
        err = _turn(ws, {"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        assert err[0]["error"]["code"] == "model_not_found"
        err = _turn(ws, {"model": MODEL})
        assert err[0]["error"]["param"] == "messages"
        assert _turn(ws, {**body, "max_tokens": 1})[-1]["usage"]["completion_tokens"] == 1


def test_websocket_needs_the_api_key(server: Server) -> None:
    with pytest.raises(InvalidStatus), connect(_ws_url(server)) as ws:
        ws.recv(timeout=10)
