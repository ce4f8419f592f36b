"""Files put into the task message, so the model starts with them instead of reading.

A task names files two ways: explicitly (``redline exec --file PATH``, the
benchmark's stub, like aider's chat files) or with ``@path`` mentions in its
text (as in Claude Code). Their contents go into the task message verbatim,
without line numbers, so search/replace blocks can quote them exactly. A small
model otherwise spends its first turn (a whole prompt evaluation) on ``read``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from redline.agent.environment.workspace import Workspace
from redline.errors import WorkspaceError

MENTION = re.compile(r"(?<![\w@])@([\w./-]*\w)")
FILE_CAP = 12000
"""Characters of one file put into the message; the rest is left to ``read``."""


def mentioned(ws: Workspace, task: str) -> list[str]:
    """Workspace files mentioned as ``@path`` in ``task`` (others are left as text)."""
    found: list[str] = []
    for m in MENTION.finditer(task):
        try:
            if ws.resolve(m.group(1)).is_file():
                found.append(m.group(1))
        except WorkspaceError:
            continue  # outside the workspace or not a path: plain text
    return found


def attach(ws: Workspace, task: str, files: Sequence[str] = ()) -> str:
    """The attached files as message text ('' for none).

    ``files`` must exist in the workspace (a clear :class:`WorkspaceError`
    otherwise); mentions that are not files are ignored.
    """
    names = list(dict.fromkeys([*files, *mentioned(ws, task)]))
    blocks = []
    for name in names:
        text = ws.read_text(name)
        if len(text) > FILE_CAP:
            more = text.count("\n", FILE_CAP)
            text = text[:FILE_CAP] + f"\n[... {more} more lines: use read]\n"
        blocks.append(f"{name}:\n```\n{text.rstrip()}\n```")
    return "\n\n".join(blocks)
