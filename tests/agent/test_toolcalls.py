"""Reading tool calls out of replies, native or text."""

from __future__ import annotations

from redline.agent.protocols.toolcalls import (
    SPECS,
    assemble_native,
    openai_tools,
    parse_text_reply,
    text_schema,
    validate,
)


def test_canonical_text_call_is_well_formed() -> None:
    reply = parse_text_reply('{"tool": "read", "args": {"path": "a.py", "start": 3}}')
    assert reply.well_formed and reply.calls[0].name == "read"
    assert reply.calls[0].arguments == {"path": "a.py", "start": 3}


def test_near_misses_are_recovered_but_flagged() -> None:
    for text in (
        'Let me read it.\n{"tool": "read", "args": {"path": "a.py"}}',
        '```json\n{"name": "read", "arguments": "{\\"path\\": \\"a.py\\"}"}\n```',
        '{"function": {"name": "read", "arguments": {"path": "a.py"}}}',
        '{"tool": "read", "path": "a.py"}',
    ):
        reply = parse_text_reply(text)
        assert [c.name for c in reply.calls] == ["read"], text
        assert reply.calls[0].arguments == {"path": "a.py"}
        assert not reply.well_formed


def test_invalid_calls_are_rejected_with_a_reason() -> None:
    assert "unknown tool" in parse_text_reply('{"tool": "rm", "args": {}}').problem
    assert "missing argument 'path'" in parse_text_reply('{"tool": "read", "args": {}}').problem
    assert "must be a integer" in validate("read", {"path": "a", "start": "1"})
    assert validate("read", {"path": "a", "start": True})
    assert "no tool call" in parse_text_reply("just prose").problem


def test_native_pieces_assemble_and_validate() -> None:
    pieces = {0: {"id": "c1", "name": "list", "arguments": '{"path"'}}
    pieces[0]["arguments"] += ': "src"}'
    reply = assemble_native("", pieces)
    assert reply.well_formed and reply.calls[0].arguments == {"path": "src"}
    bad = assemble_native("", {0: {"id": "c", "name": "list", "arguments": '{"path": '}})
    assert not bad.well_formed and "not valid JSON" in bad.problem


def test_schemas_cover_every_tool() -> None:
    names = {t["function"]["name"] for t in openai_tools()}
    assert names == set(SPECS)
    variants = text_schema()["json_schema"]["schema"]["anyOf"]
    assert {v["properties"]["tool"]["enum"][0] for v in variants} == set(SPECS)
