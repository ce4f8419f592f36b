"""Well-formed output from any model: JSON and tool calls enforced by grammar.

A tiny model cannot be trusted to emit valid JSON or a tool call on its own, so
when a caller asks for ``response_format`` or ``tools`` the output is
constrained by a llama.cpp GBNF grammar built from the JSON schema. With tools,
the model answers one JSON object, either ``{"tool_calls": [{"name": ...,
"arguments": {...}}]}`` or ``{"content": "..."}`` (the latter only when
``tool_choice`` is ``auto``), which :func:`parse_reply` turns back into the
OpenAI shape.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from redline.engine import replies
from redline.errors import InvalidRequestError


def schema_grammar(schema: dict[str, Any]) -> str:
    try:
        return json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # the converter raises plain exceptions on bad schemas
        raise InvalidRequestError(
            f"unsupported JSON schema: {exc}", param="response_format"
        ) from exc


def response_format_grammar(response_format: dict[str, Any] | None) -> str | None:
    """GBNF for an OpenAI ``response_format``; None for plain text."""
    if not response_format:
        return None
    kind = response_format.get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return JSON_GBNF
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise InvalidRequestError(
                "response_format.json_schema.schema must be an object", param="response_format"
            )
        return schema_grammar(schema)
    raise InvalidRequestError(f"unknown response_format type {kind!r}", param="response_format")


def _functions(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if tool.get("type", "function") != "function" or "function" not in tool:
            raise InvalidRequestError("only function tools are supported", param="tools")
        fn = tool["function"]
        if not isinstance(fn.get("name"), str):
            raise InvalidRequestError("every tool function needs a name", param="tools")
        out.append(fn)
    return out


def _chosen(functions: list[dict[str, Any]], tool_choice: Any) -> tuple[list[dict], bool]:
    """The functions the model may call, and whether plain content is allowed."""
    if tool_choice in (None, "auto"):
        return functions, True
    if tool_choice == "required":
        return functions, False
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        picked = [f for f in functions if f["name"] == name]
        if not picked:
            raise InvalidRequestError(
                f"tool_choice names unknown tool {name!r}", param="tool_choice"
            )
        return picked, False
    raise InvalidRequestError(f"bad tool_choice {tool_choice!r}", param="tool_choice")


def tools_schema(
    tools: list[dict[str, Any]], tool_choice: Any = None, parallel: bool | None = None
) -> dict[str, Any] | None:
    """The JSON schema of a reply when tools are offered; None if tool_choice is none.

    ``parallel=False`` (OpenAI's ``parallel_tool_calls``) allows exactly one call:
    a small model left free to list calls can repeat one until the token limit.
    """
    if not tools or tool_choice == "none":
        return None
    functions, allow_content = _chosen(_functions(tools), tool_choice)
    calls = [
        {
            "type": "object",
            "properties": {
                "name": {"const": f["name"]},
                "arguments": f.get("parameters") or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for f in functions
    ]
    call = calls[0] if len(calls) == 1 else {"anyOf": calls}
    with_calls = {
        "type": "object",
        "properties": {
            "tool_calls": {
                "type": "array",
                "items": call,
                "minItems": 1,
                **({"maxItems": 1} if parallel is False else {}),
            }
        },
        "required": ["tool_calls"],
    }
    if not allow_content:
        return with_calls
    content = {
        "type": "object",
        "properties": {"content": {"type": "string"}},
        "required": ["content"],
    }
    return {"anyOf": [with_calls, content]}


def tools_grammar(
    tools: list[dict[str, Any]] | None, tool_choice: Any = None, parallel: bool | None = None
) -> str | None:
    schema = tools_schema(tools or [], tool_choice, parallel)
    return schema_grammar(schema) if schema else None


def _type_of(schema: dict[str, Any]) -> str:
    """A JSON schema as a short type expression: ``string``, ``[{search: string}]``."""
    kind = schema.get("type")
    if kind == "array":
        return f"[{_type_of(schema.get('items') or {})}]"
    if kind == "object" and schema.get("properties"):
        return "{" + _fields(schema) + "}"
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    return str(kind or "any")


def _fields(schema: dict[str, Any]) -> str:
    required = set(schema.get("required") or [])
    return ", ".join(
        f"{name}{'' if name in required else '?'}: {_type_of(sub)}"
        for name, sub in (schema.get("properties") or {}).items()
    )


def render_tools_system_prompt(tools: list[dict[str, Any]], tool_choice: Any = None) -> str:
    """Tell the model which tools exist and the one JSON shape it must answer in.

    Signatures, not JSON schemas: the grammar already enforces every argument's
    exact shape, so the prompt only has to say what each tool is for. The schemas
    of a typical agent's tools cost a small model ~650 prompt tokens; signatures
    cost ~260 (measured on SmolLM2's tokenizer), and every turn's first token comes sooner.
    """
    lines = ["You can call these tools:"]
    for fn in _functions(tools):
        params = _fields(fn.get("parameters") or {})
        lines.append(f"- {fn['name']}({params}): {fn.get('description', '').strip()}")
    lines.append(
        'Answer with one JSON object: {"tool_calls": [{"name": TOOL, "arguments": {...}}]}'
    )
    if tool_choice in (None, "auto"):
        lines.append('or, to answer without a tool, {"content": "your answer"}.')
    return "\n".join(lines)


def as_text_turn(m: dict[str, Any]) -> dict[str, Any]:
    """A tool result or an assistant's tool calls as a plain-text turn (other messages
    unchanged), since most chat templates of small models know no tool roles.

    Calls are written as the model wrote them when this process generated them
    (see :mod:`redline.engine.replies`), else as compact JSON.
    """
    role = m.get("role")
    if role == "tool":
        return {
            "role": "user",
            "content": f"Tool result ({m.get('tool_call_id') or ''}):\n{m.get('content') or ''}",
        }
    if role == "assistant" and m.get("tool_calls"):
        calls = []
        for c in m["tool_calls"]:
            fn = c.get("function") or {}
            calls.append(
                {"name": fn.get("name", ""), "arguments": _loads(fn.get("arguments", "{}"))}
            )
        raw = replies.recall([str(c.get("id", "")) for c in m["tool_calls"]], calls)
        return {"role": "assistant", "content": raw or json.dumps({"tool_calls": calls})}
    return m


def with_tools_prompt(
    messages: list[dict[str, Any]], tools: list[dict[str, Any]], tool_choice: Any = None
) -> list[dict[str, Any]]:
    """Messages as text turns (:func:`as_text_turn`), with the tool description
    merged into the system message."""
    out = [as_text_turn(m) for m in messages]
    prompt = render_tools_system_prompt(tools, tool_choice)
    if out and out[0].get("role") == "system":
        out[0] = {**out[0], "content": f"{out[0].get('content') or ''}\n\n{prompt}"}
    else:
        out.insert(0, {"role": "system", "content": prompt})
    return out


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_reply(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """Split a grammar-constrained reply into (content, OpenAI tool_calls)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return text, []
    if not isinstance(obj, dict):
        return text, []
    if "tool_calls" in obj and isinstance(obj["tool_calls"], list):
        calls = []
        for call in obj["tool_calls"]:
            if not isinstance(call, dict) or "name" not in call:
                continue
            calls.append(
                {
                    "id": f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {
                        "name": call["name"],
                        "arguments": json.dumps(call.get("arguments", {})),
                    },
                }
            )
        replies.remember([c["id"] for c in calls], text)
        return None, calls
    if isinstance(obj.get("content"), str):
        return obj["content"], []
    return text, []


def parse_tool_calls(text: str) -> list[dict[str, Any]]:
    """Only the OpenAI tool_calls of a grammar-constrained reply (may be empty)."""
    return parse_reply(text)[1]
