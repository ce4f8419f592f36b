"""Per-model agent settings: which edit protocol a model drives best.

Data, not code paths (as aider's model settings are): a model name is matched
against the patterns below, first match wins. The choices were measured on
the polyglot-python agent benchmark beside aider (README, *Models*): the
0.5B/1.5B coder models solve exercises with whole-file replies and fail with
multi-turn JSON tool calls. Unknown models that call tools natively keep the
tool protocol; a local GGUF that is not listed gets ``whole``, the format small
models follow best. ``--edit-format`` / ``edit_format`` in the config override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from redline.agent.protocols import protocol_names
from redline.errors import ConfigError


@dataclass(frozen=True)
class ModelSettings:
    edit_format: str
    """``whole`` (changed files listed whole), ``diff`` (search/replace blocks) or
    ``tools`` (the multi-turn tool-calling protocol)."""
    reflections: int = 3
    """Times the checks' failures are sent back before the task stops."""


_TABLE: list[tuple[str, ModelSettings]] = [
    (r"qwen2\.5-coder[-_:]?(0\.5|1\.5|3)b", ModelSettings("whole")),
    (r"qwen2\.5-coder", ModelSettings("diff")),
    (r"smollm|gemma-?3-?270m|gemma3-270m", ModelSettings("whole")),
    (r"deepseek-coder|codellama|starcoder|phi-?[23]", ModelSettings("whole")),
    (r"llama-?3\.[123]-?(8|3|1)b|gemma|mistral-7b|qwen", ModelSettings("diff")),
]


def settings_for(model: str, *, local: bool, override: str | None = None) -> ModelSettings:
    """The settings for ``model`` (a short name, GGUF path or remote model id)."""
    if override:
        if override not in protocol_names():
            raise ConfigError(
                f"unknown edit format {override!r}",
                hint=f"use one of {', '.join(protocol_names())}",
            )
        return ModelSettings(override)
    name = model.rsplit("/", 1)[-1].lower()
    for pattern, settings in _TABLE:
        if re.search(pattern, name):
            return settings
    return ModelSettings("whole" if local else "tools")
