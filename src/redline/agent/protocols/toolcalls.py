"""Tool specifications, and turning a model reply into checked tool calls.

Two wire formats, one result. With native tools the provider streams
``ToolCallDelta`` pieces that concatenate into JSON arguments. Without them the
model writes one JSON object ``{"tool": ..., "args": {...}}`` and the request
carries a JSON schema (``response_format``) so grammar-backed engines cannot
emit anything else. Either way every call is validated against its schema and
the reply is marked ``well_formed`` or not; benchmarks count that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

_S = {"type": "string"}
_I = {"type": "integer"}

TOOL_SPECS: list[dict[str, Any]] = [
    {
        "name": "read",
        "description": "Read a text file, optionally only lines start..end (1-based).",
        "parameters": {"path": _S, "start": _I, "end": _I},
        "required": ["path"],
    },
    {
        "name": "list",
        "description": "List the project's files under a folder (default: all).",
        "parameters": {"path": _S},
        "required": [],
    },
    {
        "name": "search",
        "description": "Search the project's files for a regular expression.",
        "parameters": {"pattern": _S, "path": _S},
        "required": ["pattern"],
    },
    {
        "name": "edit",
        "description": "Change a file by replacing exact text. Each search must match once; "
        "all edits apply or none.",
        "parameters": {
            "path": _S,
            "edits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"search": _S, "replace": _S},
                    "required": ["search", "replace"],
                },
            },
        },
        "required": ["path", "edits"],
    },
    {
        "name": "write",
        "description": "Create or rewrite a whole file: give 'content', or an 'instruction' "
        "and the file is rewritten for you.",
        "parameters": {"path": _S, "content": _S, "instruction": _S},
        "required": ["path"],
    },
    {
        "name": "run",
        "description": "Run a shell command in the project folder.",
        "parameters": {"command": _S},
        "required": ["command"],
    },
    {
        "name": "test",
        "description": "Run the project's tests (optionally one file).",
        "parameters": {"path": _S},
        "required": [],
    },
    {
        "name": "done",
        "description": "Finish: the task is complete. Give a one-line summary.",
        "parameters": {"summary": _S},
        "required": ["summary"],
    },
]
SPECS = {spec["name"]: spec for spec in TOOL_SPECS}


def _params_schema(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": spec["parameters"],
        "required": spec["required"],
        "additionalProperties": False,
    }


def offered(names: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The specs of the tools ``names`` (all of them when None), in their usual order."""
    return [s for s in TOOL_SPECS if names is None or s["name"] in names]


def openai_tools(names: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The tools in OpenAI function-calling form."""
    return [
        {
            "type": "function",
            "function": {
                "name": s["name"],
                "description": s["description"],
                "parameters": _params_schema(s),
            },
        }
        for s in offered(names)
    ]


def text_schema(names: Collection[str] | None = None) -> dict[str, Any]:
    """``response_format`` for the text format: exactly one call of a known tool."""
    variants = [
        {
            "type": "object",
            "properties": {"tool": {"enum": [s["name"]]}, "args": _params_schema(s)},
            "required": ["tool", "args"],
            "additionalProperties": False,
        }
        for s in offered(names)
    ]
    schema = {"anyOf": variants}
    return {"type": "json_schema", "json_schema": {"name": "tool_call", "schema": schema}}


def tools_description(names: Collection[str] | None = None) -> str:
    """The tool list for the text-format system prompt."""
    lines = []
    for s in offered(names):
        args = ", ".join(f'"{k}"' + ("" if k in s["required"] else "?") for k in s["parameters"])
        lines.append(f"- {s['name']}({args}): {s['description']}")
    return "\n".join(lines)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    raw: str = ""


@dataclass
class ParsedReply:
    """A model reply as calls; ``problem`` says why it is not well formed."""

    text: str
    calls: list[ToolCall] = field(default_factory=list)
    well_formed: bool = True
    problem: str = ""
    cut: bool = False
    """Parsed, but the token limit ended it: the arguments may be incomplete."""
    looped: bool = False
    """Cut because it fell into a loop (the engine says so; only a redline engine can)."""


def validate(name: str, args: Any) -> str:
    """'' when ``args`` fit tool ``name``'s schema, else what is wrong."""
    spec = SPECS.get(name)
    if spec is None:
        return f"unknown tool {name!r}; tools are: {', '.join(SPECS)}"
    if not isinstance(args, dict):
        return f"{name}: arguments must be a JSON object"
    for key in spec["required"]:
        if key not in args:
            return f"{name}: missing argument {key!r}"
    kinds = {"string": str, "integer": int, "array": list, "object": dict}
    for key, value in args.items():
        want = spec["parameters"].get(key)
        if want is None:
            return f"{name}: unknown argument {key!r}"
        if not isinstance(value, kinds[want["type"]]) or isinstance(value, bool):
            return f"{name}: argument {key!r} must be a {want['type']}"
    return ""


def assemble_native(text: str, pieces: dict[int, dict[str, str]]) -> ParsedReply:
    """Calls from streamed ``ToolCallDelta`` pieces (index -> id, name, arguments)."""
    reply = ParsedReply(text=text)
    for index in sorted(pieces):
        piece = pieces[index]
        name, raw = piece.get("name", ""), piece.get("arguments", "") or "{}"
        try:
            args = json.loads(raw)
        except json.JSONDecodeError as exc:
            return ParsedReply(text, [], False, f"{name}: arguments are not valid JSON ({exc})")
        problem = validate(name, args)
        if problem:
            return ParsedReply(text, [], False, problem)
        reply.calls.append(ToolCall(piece.get("id") or f"call_{index}", name, args, raw))
    return reply


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def _json_objects(text: str) -> list[Any]:
    """Every top-level JSON value found in ``text`` (fenced or bare)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    for source in [m.group(1) for m in _FENCE.finditer(text)] or [text]:
        at = 0
        while True:
            at = min(
                (i for i in (source.find("{", at), source.find("[", at)) if i >= 0), default=-1
            )
            if at < 0:
                break
            try:
                value, end = decoder.raw_decode(source, at)
            except json.JSONDecodeError:
                at += 1
                continue
            found.append(value)
            at = end
    return found


def _as_call(obj: Any, n: int) -> tuple[ToolCall | None, bool]:
    """A call from one JSON object, and whether it was in the canonical shape."""
    if not isinstance(obj, dict):
        return None, False
    name = obj.get("tool") or obj.get("name")
    if isinstance(obj.get("function"), dict):  # an OpenAI tool_call object pasted as text
        name, obj = obj["function"].get("name"), obj["function"]
    args: Any = obj.get("args", obj.get("arguments", obj.get("parameters")))
    canonical = set(obj) == {"tool", "args"}
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            return None, False
    if args is None:
        args = {k: v for k, v in obj.items() if k not in ("tool", "name")}
    if not isinstance(name, str):
        return None, False
    return ToolCall(f"call_{n}", name, args, json.dumps(obj)), canonical


def parse_text_reply(text: str) -> ParsedReply:
    """Calls from a text reply; tolerant of fences, prose and near-miss shapes."""
    objects = _json_objects(text)
    calls: list[ToolCall] = []
    canonical = True
    for obj in objects:
        for item in obj if isinstance(obj, list) else [obj]:
            call, ok = _as_call(item, len(calls))
            if call is not None:
                calls.append(call)
                canonical = canonical and ok
    if not calls:
        return ParsedReply(
            text, [], False, 'no tool call found; reply with {"tool": ..., "args": {...}}'
        )
    for call in calls:
        problem = validate(call.name, call.arguments)
        if problem:
            return ParsedReply(text, [], False, problem)
    exact = canonical and len(objects) == 1 and text.strip().startswith(("{", "["))
    return ParsedReply(text, calls, exact, "" if exact else "call recovered from loose text")
