"""The exact text of recent tool-call replies, so a conversation re-renders them as written.

A tool-mode reply is generated as one JSON object (``{ "tool_calls": [...]}``
with the model's own spacing) and handed to the client in the OpenAI shape.
On the next turn the client sends the calls back, and a re-serialised
``json.dumps`` of them differs from what the model wrote in its first few
characters, so the KV cache, which holds the model's tokens, matched only up to
the reply: every turn re-evaluated its predecessor's reply (100-150 tokens for
a small model's call, ~1 s on 2 cores). The raw text is kept here under the
call ids the reply was given (random, so one client cannot name another's)
and used when the calls come back unchanged.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

LIMIT = 512
"""Replies remembered per process (oldest forgotten first)."""

_replies: OrderedDict[tuple[str, ...], str] = OrderedDict()
_lock = threading.Lock()


def remember(call_ids: Sequence[str], text: str) -> None:
    """Record the raw reply ``text`` whose tool calls got ``call_ids``."""
    if not call_ids:
        return
    with _lock:
        _replies[tuple(call_ids)] = text
        while len(_replies) > LIMIT:
            _replies.popitem(last=False)


def _calls_of(text: str) -> list[dict[str, Any]] | None:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return None
    calls = obj.get("tool_calls") if isinstance(obj, dict) else None
    if not isinstance(calls, list):
        return None
    return [
        {"name": c["name"], "arguments": c.get("arguments", {})}
        for c in calls
        if isinstance(c, dict) and "name" in c
    ]


def recall(call_ids: Sequence[str], calls: list[dict[str, Any]]) -> str | None:
    """The raw text of the reply that made ``calls`` (as ``{"name", "arguments"}``
    dicts), or None if unknown or if the client changed the calls since."""
    with _lock:
        text = _replies.get(tuple(call_ids))
    if text is None or _calls_of(text) != calls:
        return None
    return text
