"""Every bad request gets an OpenAI error object with a 4xx status, never a 500."""

from __future__ import annotations

import httpx
import openai
import pytest
from serve_helpers import API_KEY, MODEL, Server

CHAT = "/v1/chat/completions"
MSGS = [{"role": "user", "content": "hi"}]


def _error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    return err


def test_malformed_json_is_400(http: httpx.Client) -> None:
    r = http.post(
        CHAT, content=b'{"model": "x", "messages": [', headers={"content-type": "application/json"}
    )
    err = _error(r, 400)
    assert "JSON" in err["message"] and err["type"] == "invalid_request_error"


def test_wrong_type_is_400_naming_the_param(http: httpx.Client) -> None:
    r = http.post(CHAT, json={"model": MODEL, "messages": MSGS, "max_tokens": "lots"})
    assert _error(r, 400)["param"] == "max_tokens"
    r = http.post(CHAT, json={"model": MODEL, "messages": "hello"})
    assert _error(r, 400)["param"] == "messages"
    r = http.post(CHAT, json={"model": MODEL})
    assert _error(r, 400)["param"] == "messages"


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="no-such-model", messages=MSGS, max_tokens=1)
    assert info.value.body["code"] == "model_not_found"


def test_context_overflow_is_400(client: openai.OpenAI) -> None:
    long = "word " * 5000  # server runs with --n-ctx 4096
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model=MODEL, prompt=long, max_tokens=1)
    assert info.value.body["code"] == "context_length_exceeded"


def test_unsupported_parameters_are_400(client: openai.OpenAI) -> None:
    for kwargs, param in (
        ({"n": 17}, "n"),
        ({"n": 0}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
    ):
        with pytest.raises(openai.BadRequestError) as info:
            client.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=1, **kwargs)
        assert info.value.body["param"] == param


def test_body_too_large_is_413(http: httpx.Client) -> None:
    big = "x" * (5 * 1024 * 1024)
    r = http.post(CHAT, json={"model": MODEL, "messages": [{"role": "user", "content": big}]})
    assert _error(r, 413)["code"] == "request_too_large"


def test_unknown_route_is_json_404(http: httpx.Client) -> None:
    _error(http.get("/v1/nothing-here"), 404)
    _error(http.get(CHAT), 405)


def test_auth_required(server: Server) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        r = httpx.get(f"{server.v1}/models", headers=headers)
        assert _error(r, 401)["code"] == "invalid_api_key"
    bad = openai.OpenAI(base_url=server.v1, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=1)
    assert httpx.get(f"{server.base_url}/health").status_code == 200


def test_metrics_exposes_the_families(http: httpx.Client, client: openai.OpenAI) -> None:
    client.chat.completions.create(model=MODEL, messages=MSGS, max_tokens=2, temperature=0)
    text = http.get("/metrics").text
    for name in (
        "redline_requests_total",
        "redline_errors_total",
        "redline_queue_depth",
        "redline_ttft_seconds_bucket",
        "redline_decode_tokens_per_second_bucket",
        "redline_spec_accepted_tokens_total",
        "redline_spec_acceptance_ratio_bucket",
    ):
        assert name in text, name
