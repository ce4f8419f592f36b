"""Engine results -> OpenAI response objects (chat, chunks, text completions, usage).

The ``x_redline_timings`` extension rides along in every completion response
and in the final chunk of every stream: the engine's timings plus the time the
request waited in the queue.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from redline.engine.types import Timings


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def finish_reason(engine_reason: str | None, tool_calls: bool = False) -> str | None:
    """OpenAI finish reasons. 'cancelled' (only seen on shutdown) reads as 'stop'
    and is flagged in the timings extension. A tool call cut by the token limit
    reports 'length' (as OpenAI does), even when its JSON was closed in time."""
    if engine_reason is None:
        return None
    if tool_calls and engine_reason != "length":
        return "tool_calls"
    return "length" if engine_reason == "length" else "stop"


def usage(tm: Timings, *, predicted: bool, prediction_tokens: int) -> dict[str, Any]:
    """OpenAI usage with predicted-output accounting.

    ``accepted_prediction_tokens``: completion tokens that came from drafts of the
    caller's ``prediction`` and were verified by the model (the engine counts them;
    with a prediction every draft comes from it). ``rejected_prediction_tokens``:
    prediction tokens that did not become output that way, i.e. the prediction's
    length in tokens minus the accepted ones (never below zero). Both are 0
    without a prediction; n-gram drafts of a plain request are not "prediction".
    """
    accepted = tm.accepted_tokens if predicted else 0
    rejected = max(0, prediction_tokens - accepted) if predicted else 0
    return {
        "prompt_tokens": tm.prompt_tokens,
        "completion_tokens": tm.completion_tokens,
        "total_tokens": tm.prompt_tokens + tm.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": tm.cached_tokens},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "accepted_prediction_tokens": accepted,
            "rejected_prediction_tokens": rejected,
        },
    }


def group_usage(
    timings: list[Timings], *, predicted: bool, prediction_tokens: int
) -> dict[str, Any]:
    """Usage of ``n`` choices of one prompt: the prompt once (it was evaluated once,
    choice 0's timings hold it), every choice's completion tokens and prediction
    accounting summed."""
    parts = [usage(tm, predicted=predicted, prediction_tokens=prediction_tokens) for tm in timings]
    out = parts[0]
    if len(parts) == 1:
        return out
    completion = sum(p["completion_tokens"] for p in parts)
    out["completion_tokens"] = completion
    out["total_tokens"] = out["prompt_tokens"] + completion
    details = out["completion_tokens_details"]
    for key in ("accepted_prediction_tokens", "rejected_prediction_tokens"):
        details[key] = sum(p["completion_tokens_details"][key] for p in parts)
    return out


def timings_ext(tm: Timings, *, queue_s: float, cancelled: bool = False) -> dict[str, Any]:
    out = tm.to_dict()
    out["ttft_ms"] = round(tm.ttft_s * 1000, 3)
    out["queue_s"] = round(queue_s, 6)
    if cancelled:
        out["cancelled"] = True
    return out


def timing_headers(tm: Timings) -> dict[str, str]:
    """The same figures as response headers, for clients that cannot see extra fields."""
    return {
        "x-redline-ttft-ms": f"{tm.ttft_s * 1000:.3f}",
        "x-redline-decode-tok-s": f"{tm.decode_tok_s:.2f}",
        "x-redline-cached-tokens": str(tm.cached_tokens),
        "x-redline-drafted-tokens": str(tm.drafted_tokens),
        "x-redline-accepted-tokens": str(tm.accepted_tokens),
    }


class ChatFormatter:
    """Builds the objects of one chat completion (one id, one creation time)."""

    def __init__(self, model: str) -> None:
        self.id = new_id("chatcmpl")
        self.created = int(time.time())
        self.model = model

    def _base(self, obj: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "redline",
        }

    def chunk(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        *,
        index: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        out = self._base("chat.completion.chunk")
        out["choices"] = [
            {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        ]
        if extra:
            out.update(extra)
        return out

    def usage_chunk(self, usage_obj: dict[str, Any], timings: dict[str, Any]) -> dict[str, Any]:
        out = self._base("chat.completion.chunk")
        out["choices"] = []
        out["usage"] = usage_obj
        out["x_redline_timings"] = timings
        return out

    def response(
        self,
        choices: list[tuple[int, dict[str, Any], str | None]],
        usage_obj: dict[str, Any],
        timings: dict[str, Any],
    ) -> dict[str, Any]:
        """``choices``: (index, message, finish_reason) of each choice."""
        out = self._base("chat.completion")
        out["choices"] = [
            {"index": i, "message": message, "logprobs": None, "finish_reason": finish}
            for i, message, finish in choices
        ]
        out["usage"] = usage_obj
        out["x_redline_timings"] = timings
        return out


class TextFormatter:
    """Builds the objects of one text completion."""

    def __init__(self, model: str) -> None:
        self.id = new_id("cmpl")
        self.created = int(time.time())
        self.model = model

    @staticmethod
    def choice(text: str, finish: str | None, index: int = 0) -> dict[str, Any]:
        return {"index": index, "text": text, "logprobs": None, "finish_reason": finish}

    def obj(
        self,
        text: str,
        finish: str | None,
        *,
        index: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "redline",
            "choices": [self.choice(text, finish, index)],
        }
        if extra:
            out.update(extra)
        return out
