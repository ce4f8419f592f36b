"""One chat turn in OpenAI terms -> one engine request, and the reply read back.

The in-process provider (:mod:`redline.providers.local`) and ``redline serve``
(:mod:`redline.server.convert`) both receive a turn as messages, tools,
``tool_choice``, ``parallel_tool_calls`` and ``response_format``, and both must
run it the same way: tool turns of the history as plain text (small models'
chat templates know no tool roles), the tools described in the system message
and enforced by a grammar, a ``response_format`` as a grammar, and a tool-mode
reply parsed whole into content or tool calls. This module is that adapter,
written once, in the engine layer so both front doors can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redline.engine.structured import (
    as_text_turn,
    parse_reply,
    response_format_grammar,
    tools_grammar,
    with_tools_prompt,
)
from redline.engine.types import GenerationRequest
from redline.errors import InvalidRequestError


@dataclass
class TurnPlan:
    """A chat turn as the engine will run it, and how to read its output back."""

    request: GenerationRequest
    tools: bool
    """The reply is grammar-constrained tool JSON, to be parsed into tool calls."""

    def read(self, text: str) -> tuple[str | None, list[dict[str, Any]]]:
        """A reply as (content, OpenAI tool calls): parsed in tool mode, else the text."""
        return parse_reply(text) if self.tools else (text, [])


def plan_turn(
    messages: list[dict[str, Any]],
    *,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: Any = None,
    parallel_tool_calls: bool | None = None,
    response_format: dict[str, Any] | None = None,
    **request: Any,
) -> TurnPlan:
    """The engine request for a turn; ``request`` holds the other
    :class:`GenerationRequest` fields (sampling, prediction, ``n``, cancel, ...).

    Refuses (``InvalidRequestError`` naming the parameter) a ``tool_choice``
    without tools, and tools together with a non-text ``response_format``.
    """
    if tool_choice not in (None, "none", "auto") and not tools:
        raise InvalidRequestError("tool_choice needs tools", param="tool_choice")
    tool_mode = bool(tools) and tool_choice != "none"
    grammar: str | None = None
    if tool_mode:
        assert tools is not None
        if response_format and response_format.get("type") != "text":
            raise InvalidRequestError(
                "use either tools or response_format, not both", param="response_format"
            )
        grammar = tools_grammar(tools, tool_choice, parallel_tool_calls)
        turns = with_tools_prompt(messages, tools, tool_choice)
    else:
        turns = [as_text_turn(m) for m in messages]
        if response_format:
            grammar = response_format_grammar(response_format)
    return TurnPlan(GenerationRequest(messages=turns, grammar=grammar, **request), tool_mode)
