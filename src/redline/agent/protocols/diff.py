"""``diff``: the one-reply protocol with fenced search/replace blocks (aider's ``diff``).

Only the changed lines travel; each SEARCH section must match the file once
(loosely on indentation and blank lines, see ``apply_blocks``). A new file is a
block with an empty SEARCH. Any bad block and nothing is applied.
"""

from __future__ import annotations

import re

from redline.agent.editing.edits import Block, apply_blocks, show_file
from redline.agent.editing.formats import ParsedEdits, body, match_path, new_file, without
from redline.agent.protocols.reply import ReplyProtocol
from redline.agent.templates import render
from redline.errors import EditError

_BLOCK = re.compile(
    r"(?:^|\n)[ \t]*(?:#+ *|\*\*|`)?(?P<path>[\w./\\-]+\.\w+)?(?:`|\*\*|:)?[ \t]*\n?"
    r"(?:```[\w+.-]*[ \t]*\n)?"
    r"<{5,9} SEARCH[^\n]*\n(?P<search>.*?)\n?={5,9}[ \t]*\n(?P<replace>.*?)\n?>{5,9} REPLACE[^\n]*"
    r"(?:\n```)?",
    re.DOTALL,
)


class DiffFormat:
    """Fenced search/replace blocks (aider's ``diff``): only the changed lines travel."""

    name = "diff"

    def system_prompt(self) -> str:
        return render("format_diff.md")

    def show(self, path: str, text: str) -> str:
        return show_file(path, text)

    def prediction(self, files: dict[str, str]) -> str | None:
        return None  # the reply quotes pieces of the files: prompt lookup drafts those

    def stops(self, files: dict[str, str]) -> list[str]:
        return []  # how many blocks a reply will have is not known until it ends

    def parse(self, reply: str, files: dict[str, str]) -> ParsedEdits:
        by_path: dict[str, list[Block]] = {}
        spans: list[tuple[int, int]] = []
        last: str | None = next(iter(files)) if len(files) == 1 else None
        for m in _BLOCK.finditer(reply):
            name = m.group("path")
            path = (match_path(name, files) or new_file(name)) if name else last
            if path is None:
                raise EditError("a SEARCH/REPLACE block does not name its file on the line above")
            last = path
            by_path.setdefault(path, []).append(Block(m.group("search"), m.group("replace")))
            spans.append(m.span())
        out: dict[str, str] = {}
        for path, blocks in by_path.items():
            old = files.get(path)
            if old is None:  # a new file: one block with an empty SEARCH
                if any(b.search.strip() for b in blocks):
                    raise EditError(f"{path} is not one of the files shown; nothing applied")
                out[path] = body("".join(b.replace + "\n" for b in blocks))
                continue
            if any(not b.search.strip() for b in blocks):
                raise EditError(f"{path}: a SEARCH section is empty; quote the lines to change")
            out[path] = apply_blocks(old, blocks, path)
        return ParsedEdits(out, without(reply, spans))


def PROTOCOL() -> ReplyProtocol:  # noqa: N802 (a protocol factory, named as the others)
    return ReplyProtocol(DiffFormat())
