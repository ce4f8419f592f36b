"""Prompt templates: Markdown files in ``agent/prompts/``, filled with ``$names``.

Prompts are data, not code: they can be read, diffed and tuned without touching
the loop. ``string.Template`` keeps braces (JSON examples) literal; a missing
variable is an error, not a silent blank.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from string import Template
from typing import Any

PROMPTS = Path(__file__).parent / "prompts"


@cache
def _load(name: str) -> Template:
    return Template((PROMPTS / name).read_text(encoding="utf-8"))


def render(name: str, **values: Any) -> str:
    """The template ``name`` with ``values`` substituted (``$$`` is a literal ``$``)."""
    return _load(name).substitute({k: str(v) for k, v in values.items()}).strip() + "\n"
