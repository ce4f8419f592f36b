"""The tool protocol's turns on the wire: the request, and the reply read back.

Native tool calls arrive as ``ToolCallDelta`` pieces; otherwise the text is
parsed and the request asks for the tool-call JSON schema so grammar-backed
engines comply.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from redline.agent.protocols.toolcalls import (
    ParsedReply,
    assemble_native,
    openai_tools,
    parse_text_reply,
    text_schema,
)
from redline.agent.query import Streamed
from redline.providers.base import ChatRequest


def build_request(
    messages: list[dict[str, Any]],
    native: bool,
    max_tokens: int,
    tools: Collection[str] | None = None,
) -> ChatRequest:
    """The turn's request, offering ``tools`` (all when None)."""
    # Restartable: a reply whose provider dies part-way is thrown away whole and
    # asked again elsewhere (see stream_reply); nothing is ever spliced.
    request = ChatRequest(
        messages=list(messages),
        max_tokens=max_tokens,
        restartable=True,
        quotes=quotes_of(messages),
    )
    if native:
        request.tools = openai_tools(tools)
        # One call per turn: each result is seen before the next step (Codex does
        # the same), and a small model cannot run a list of calls to the limit.
        request.parallel_tool_calls = False
        # Every turn is a call; the task ends with `done`. Left to "auto", a small
        # model answers in prose (a file's code as text) and runs it to the limit,
        # where no grammar can close it into something the agent can use.
        request.tool_choice = "required"
    else:
        request.response_format = text_schema(tools)
    return request


QUOTES_CHARS = 48_000
"""The most recent tool results kept as the draft source (~12k tokens to index)."""


def quotes_of(messages: list[dict[str, Any]]) -> str | None:
    """What a tool call will quote: the tool results so far (files read, search hits).

    An ``edit`` call's ``search`` text and most of a ``write`` are copies of them.
    Native calls get results as ``tool`` messages; the text protocol as user
    messages after the task (the first one)."""
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    first = users[0] if users else len(messages)
    parts = [
        m["content"]
        for i, m in enumerate(messages)
        if (m.get("role") == "tool" or (m.get("role") == "user" and i > first))
        and isinstance(m.get("content"), str)
    ]
    text = "\n".join(parts)
    return text[-QUOTES_CHARS:] or None


def parse_reply(native: bool, got: Streamed) -> ParsedReply:
    """Calls from a reply; ``well_formed`` is False for a cut-off or malformed one."""
    if native and got.pieces:
        parsed = assemble_native(got.text, got.pieces)
    elif native:
        has_text = bool(got.text.strip())
        parsed = ParsedReply(got.text, [], has_text, "" if has_text else "empty reply")
    else:
        parsed = parse_text_reply(got.text)
    if got.finish == "length" and parsed.calls and parsed.well_formed:
        # The engine closed the JSON at the limit: well formed, but cut short.
        parsed.cut = True
        parsed.looped = got.looped
    elif got.finish in ("length", "cancelled"):
        parsed.well_formed = False
        parsed.problem = parsed.problem or f"reply ended early ({got.finish})"
    return parsed


def assistant_message(native: bool, parsed: ParsedReply, got: Streamed) -> dict[str, Any]:
    """The reply as it goes into the conversation (partial replies are marked)."""
    if got.finish == "cancelled" or got.error is not None:
        note = "[interrupted by the user]" if got.error is None else "[reply failed]"
        return {"role": "assistant", "content": (parsed.text + "\n" + note).strip()}
    if native and parsed.calls:
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": c.raw or "{}"},
            }
            for c in parsed.calls
        ]
        return {"role": "assistant", "content": parsed.text or None, "tool_calls": calls}
    return {"role": "assistant", "content": parsed.text}
