"""The agent picks its edit protocol from what the provider declares, not its class."""

from __future__ import annotations

from pathlib import Path

from redline.agent.loop import Agent, AgentConfig
from redline.agent.protocols import get_protocol, protocol_names
from redline.providers.local import LocalProvider
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.router import Router
from redline.providers.scripted import ScriptedProvider


def _format(provider, tmp_path: Path, **config) -> str:
    return Agent(provider, tmp_path, config=AgentConfig(**config)).edit_format()


def test_protocols_are_found_by_their_module() -> None:
    assert protocol_names() == ("diff", "tools", "whole")
    for name in protocol_names():
        fresh = get_protocol(name)
        assert fresh.name == name and fresh is not get_protocol(name)  # one per task


def test_the_protocol_follows_the_declared_capabilities(tmp_path: Path) -> None:
    local = LocalProvider("qwen2.5-coder-0.5b", name="local")
    remote = OpenAICompatProvider("r", "http://127.0.0.1:9/v1", "some-large-model")
    assert _format(local, tmp_path) == "whole"  # small local coder: one reply, whole files
    assert _format(remote, tmp_path) == "tools"  # unknown remote model: tool calls
    # A router is read through its capabilities: its first member's model decides.
    assert _format(Router([local, remote], policy="ordered"), tmp_path) == "whole"
    assert _format(Router([remote, local], policy="ordered"), tmp_path) == "tools"
    # A local GGUF that is not listed gets `whole`; a remote one the tool protocol.
    assert _format(LocalProvider("mystery.gguf"), tmp_path) == "whole"
    assert _format(ScriptedProvider([]), tmp_path) == "tools"  # no model: replayed tool calls
    assert _format(ScriptedProvider([]), tmp_path, edit_format="diff") == "diff"
