""" "Edit with redline…": rewrite a selection through the agent's edit path, then verify.

The agent's :func:`redline.agent.edits.rewrite` sends the old text as the
*predicted output*, so a speculative engine verifies the unchanged lines in
batches instead of decoding them. This module adapts it to a selection: the
selection goes out dedented (models rewrite top-level code best) and comes back
re-indented, with the selection's trailing newline kept, so the ``TextEdit``
fits where the selection was. The whole document with the edit applied is then
checked by the agent's verifier; only problems the edit *introduced* are
reported, so an editor shows the user what the rewrite broke, not what was
broken before.
"""

from __future__ import annotations

import textwrap
import threading
from dataclasses import dataclass, field

from redline.agent.checks.verify import Problem, check_source
from redline.agent.editing.edits import rewrite
from redline.errors import EditError
from redline.providers.base import Provider

PRESET_INSTRUCTIONS = (
    "Add a docstring",
    "Add type hints",
    "Fix bugs",
    "Simplify",
)
"""Offered by ``window/showMessageRequest`` when an edit command comes without an instruction."""


@dataclass
class EditOutcome:
    """The replacement for the selection and what the verifier thinks of it."""

    new_text: str
    introduced: list[Problem] = field(default_factory=list)
    checked: bool = False
    finish_reason: str = "stop"

    def summary(self) -> str:
        """One message for ``window/showMessage``."""
        if not self.checked:
            return "redline: edit ready (not a Python file: not verified)"
        if not self.introduced:
            return "redline: edit verified (syntax and names OK)"
        shown = "; ".join(f"line {p.line}: {p.message}" for p in self.introduced[:3])
        more = f" (+{len(self.introduced) - 3} more)" if len(self.introduced) > 3 else ""
        return f"redline: the edit introduces {len(self.introduced)} problem(s): {shown}{more}"


def common_indent(text: str) -> str:
    """The whitespace every non-blank line of ``text`` starts with."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    first = lines[0]
    indent = first[: len(first) - len(first.lstrip())]
    for line in lines[1:]:
        while indent and not line.startswith(indent):
            indent = indent[:-1]
    return indent


def fit_to_selection(new: str, old: str, indent: str) -> str:
    """``new`` re-indented by ``indent``, with ``old``'s trailing-newline shape."""
    body = new.strip("\n")
    if indent:
        body = textwrap.indent(body, indent, lambda line: bool(line.strip()))
    if old.endswith("\n"):
        body += "\n"
    return body


def rewrite_selection(
    provider: Provider,
    instruction: str,
    selection: str,
    *,
    path: str,
    max_tokens: int,
    cancel: threading.Event | None = None,
) -> tuple[str, str]:
    """The selection rewritten per ``instruction``: (replacement text, finish reason)."""
    if not instruction.strip():
        raise EditError("an instruction is needed for an edit")
    if not selection.strip():
        raise EditError("select the code to edit first")
    indent = common_indent(selection)
    plain = textwrap.dedent(selection)
    result = rewrite(provider, instruction, plain, path=path, max_tokens=max_tokens, cancel=cancel)
    if result.finish_reason == "cancelled":
        raise EditError("the edit was cancelled")
    if result.finish_reason == "length":
        raise EditError("the rewrite was cut off (editMaxTokens); nothing applied")
    if result.finish_reason == "loop":
        raise EditError("the rewrite fell into a loop; nothing applied")
    if not result.text.strip():
        raise EditError("the model returned an empty rewrite; nothing applied")
    return fit_to_selection(result.text, selection, indent), result.finish_reason


def introduced_problems(before: str, after: str, *, path: str) -> list[Problem]:
    """Errors in ``after`` that ``before`` did not have (by message, not by line)."""
    old = {p.key() for p in check_text(before, path)}
    return [p for p in check_text(after, path) if p.severity == "error" and p.key() not in old]


def check_text(text: str, path: str, *, use_ruff: bool = False) -> list[Problem]:
    """The agent's verifier on editor text (never reads the file on disk)."""
    # check_source treats a one-line string naming an existing file as a path.
    if "\n" not in text:
        text += "\n"
    return check_source(text, filename=path, use_ruff=use_ruff)


def is_python(path: str) -> bool:
    return path.endswith((".py", ".pyi"))
