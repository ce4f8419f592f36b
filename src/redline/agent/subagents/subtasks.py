"""The plan of a parallel run: the model splits a task into independent sub-tasks.

One short request, not a conversation: the model answers with a JSON list of
sub-task strings (a JSON-schema ``response_format`` lets a grammar-backed
engine produce nothing else). Anything that is not such a list is no plan: the
whole task then runs as one sub-task, and a ``plan_fallback`` event says why,
because a silently dropped split would look like a slow run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from redline.agent.query import stream_reply
from redline.agent.telemetry import TurnStats
from redline.agent.templates import render
from redline.providers.base import ChatRequest, Provider

MAX_SUBTASKS = 8
"""A plan with more parts than this is taken as malformed (a runaway list)."""
PLAN_TOKENS = 400

Emit = Callable[[dict[str, Any]], None]


def parse_plan(text: str, limit: int = MAX_SUBTASKS) -> tuple[list[str], str]:
    """The sub-tasks in a planning reply, or ``([], problem)`` when it is not a
    JSON list of 1..``limit`` non-empty strings (fences and prose around it are allowed)."""
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end < start:
        return [], "no JSON list in the reply"
    try:
        items = json.loads(text[start : end + 1])
    except json.JSONDecodeError as exc:
        return [], f"the list is not valid JSON: {exc.msg}"
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return [], "the list does not hold only strings"
    tasks = list(dict.fromkeys(i.strip() for i in items if i.strip()))
    if not 1 <= len(tasks) <= limit:
        return [], f"{len(tasks)} sub-tasks (want 1 to {limit})"
    return tasks, ""


def plan_subtasks(
    provider: Provider, task: str, n: int, emit: Emit, cancel: threading.Event | None = None
) -> tuple[list[str], str]:
    """Ask the model to split ``task`` into at most ``n`` parts; ``(parts, source)``
    where source is "model", or "fallback" (the whole task) after a bad reply."""
    limit = max(1, min(n, MAX_SUBTASKS))
    schema = {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "minItems": 1,
        "maxItems": limit,
    }
    request = ChatRequest(
        messages=[{"role": "user", "content": render("plan.md", task=task, n=limit)}],
        max_tokens=PLAN_TOKENS,
        response_format={"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}},
    )
    got = stream_reply(provider, request, TurnStats(0), cancel or threading.Event(), lambda t: None)
    if got.error is not None:
        tasks, problem = [], f"the planning request failed: {got.error}"
    else:
        tasks, problem = parse_plan(got.text, limit)
    if problem:
        emit({"type": "plan_fallback", "reason": problem, "reply": got.text[:1000]})
        return [task], "fallback"
    return tasks, "model"
