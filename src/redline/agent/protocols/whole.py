"""``whole``: the one-reply protocol with each changed file listed whole.

What the smallest coder models drive best (measured beside aider on the
polyglot benchmark): the reply is mostly the old file, sent as the predicted
output, so a speculative engine verifies the copied lines in batches. A reply
that lists only the changed function is merged into the file by name.
"""

from __future__ import annotations

from redline.agent.editing.edits import show_file
from redline.agent.editing.formats import (
    BARE_FENCE,
    LISTING,
    LISTING_END,
    ParsedEdits,
    body,
    match_path,
    new_file,
    whole_or_merged,
    without,
)
from redline.agent.protocols.reply import ReplyProtocol
from redline.agent.templates import render


class WholeFormat:
    """The changed files, each listed whole: ``path`` then a fenced block."""

    name = "whole"

    def system_prompt(self) -> str:
        return render("format_whole.md")

    def show(self, path: str, text: str) -> str:
        return show_file(path, text)

    def prediction(self, files: dict[str, str]) -> str | None:
        return "".join(show_file(p, t) for p, t in files.items()) or None

    def parse(self, reply: str, files: dict[str, str]) -> ParsedEdits:
        out: dict[str, str] = {}
        spans: list[tuple[int, int]] = []
        for m in LISTING.finditer(reply):
            path = match_path(m.group("path"), files) or new_file(m.group("path"))
            if path is None:
                continue
            out[path] = whole_or_merged(files.get(path), body(m.group("body")))
            spans.append(m.span())
        if not out and len(files) == 1:
            # One file in play and one bare fenced block: that file (aider does the same).
            blocks = [b for b in BARE_FENCE.finditer(reply) if b.group("body").strip()]
            if len(blocks) == 1:
                path = next(iter(files))
                out[path] = whole_or_merged(files[path], body(blocks[0].group("body")))
                spans.append(blocks[0].span())
        return ParsedEdits(out, without(reply, spans))

    def stops(self, files: dict[str, str]) -> list[str]:
        """One file in play: stop at its listing's closing fence when a blank line
        follows (the prose begins; an opening fence is followed by code, not a blank
        line). With several files a reply may list any of them, so it runs on."""
        return [LISTING_END] if len(files) == 1 else []


def PROTOCOL() -> ReplyProtocol:  # noqa: N802 (a protocol factory, named as the others)
    return ReplyProtocol(WholeFormat())
