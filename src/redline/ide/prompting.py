"""Completion prompts that keep the KV cache warm, and where a completion should end.

Neither embedded model has fill-in-the-middle tokens, so a completion is a
plain continuation of a prompt that ends exactly at the cursor. The code
*after* the cursor can then only be context placed *before* the prefix. That
looks cache-hostile but is not: while someone types at one place, the text
after the cursor does not change (typing inserts before it), so the prompt

    <comment header: path>
    <comment block: up to N lines after the cursor>      (only when non-blank)
    <code before the cursor, from a line-aligned window start>

grows only at its end from one keystroke to the next, and the engine's prefix
reuse evaluates just the new characters. The window start moves in steps of
half the window (not one line per Enter), so it, too, stays put for many
keystrokes. The prompt changes wholesale only when the cursor jumps elsewhere,
which is a new context anyway.

A model with FIM tokens gets the same prefix window and suffix as a real
fill-in-the-middle request instead (see ``completion.py``).

:class:`Boundary` decides where a streamed completion stops: at a blank line,
at the first line indented less than the block being written (a dedent ends a
block), when the model starts repeating the code that follows the cursor, or
after ``max_lines`` lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

_SLASH_COMMENT = {
    ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".go", ".java", ".js", ".jsx", ".ts", ".tsx",
    ".kt", ".rs", ".swift", ".scala", ".dart", ".php", ".zig",
}  # fmt: skip
_DASH_COMMENT = {".sql", ".lua", ".hs", ".elm"}


def comment_marker(path: str) -> str:
    """The line-comment marker of the file's language (``#`` when unsure)."""
    ext = PurePosixPath(path).suffix.lower()
    if ext in _SLASH_COMMENT:
        return "//"
    if ext in _DASH_COMMENT:
        return "--"
    return "#"


@dataclass(frozen=True)
class CompletionContext:
    """The document split at the cursor."""

    prefix: str
    suffix: str
    path: str = "untitled"

    @property
    def current_line(self) -> str:
        """The cursor's line, up to the cursor."""
        return self.prefix.rsplit("\n", 1)[-1]

    def next_code_line(self) -> str:
        """The first non-blank line after the cursor's line, stripped ('' if none)."""
        for line in self.suffix.split("\n")[1:]:
            if line.strip():
                return line.strip()
        return ""


def window_start(n_lines: int, cursor_line: int, context_lines: int) -> int:
    """First line of the prefix window: aligned to half-window steps, so it is stable."""
    if cursor_line < context_lines:
        return 0
    step = max(1, context_lines // 2)
    return ((cursor_line - context_lines) // step + 1) * step


def prefix_window(prefix: str, context_lines: int) -> str:
    """The end of ``prefix`` holding between ``context_lines/2`` and ``context_lines`` lines."""
    lines = prefix.split("\n")
    start = window_start(len(lines), len(lines) - 1, context_lines)
    return "\n".join(lines[start:])


def suffix_window(suffix: str, suffix_lines: int) -> str:
    """The first ``suffix_lines`` lines after the cursor, blank lines at the end dropped."""
    return "\n".join(suffix.split("\n")[:suffix_lines]).rstrip()


def build_prompt(ctx: CompletionContext, *, context_lines: int = 60, suffix_lines: int = 12) -> str:
    """A prefix-stable continuation prompt (see the module docstring for the layout)."""
    mark = comment_marker(ctx.path)
    parts = [f"{mark} Path: {ctx.path}\n"]
    after = suffix_window(ctx.suffix, suffix_lines)
    if after.strip():
        parts.append(f"{mark} The code after the cursor, for context:\n")
        parts.extend(f"{mark} | {line}\n" for line in after.split("\n"))
        parts.append(f"{mark} End of context.\n")
    parts.append(prefix_window(ctx.prefix, context_lines))
    return "".join(parts)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


class Boundary:
    """Feed streamed text; :attr:`done` turns true where the completion should end.

    :attr:`text` is always the part to keep (the end of a block is cut off
    before the line that leaves it).
    """

    def __init__(self, ctx: CompletionContext, *, max_lines: int = 16) -> None:
        line = ctx.current_line
        self.block_indent = _indent(line)
        # After "def f():" at the cursor, the block is the body: its lines are deeper.
        self.opener = line.rstrip().endswith((":", "{", "(", "[")) and bool(line.strip())
        self.repeat = ctx.next_code_line()
        self.max_lines = max_lines
        self._buf = ""
        self.done = False

    @property
    def text(self) -> str:
        """What to insert: the kept text, without trailing whitespace."""
        return self._buf.rstrip()

    def keep_whole_lines(self) -> None:
        """Drop an unfinished last line (when generation stops early), unless it is all."""
        if "\n" in self._buf:
            self._buf = self._buf.rsplit("\n", 1)[0]
        self.done = True

    def feed(self, piece: str) -> bool:
        """Add ``piece``; returns :attr:`done`."""
        if self.done or not piece:
            return self.done
        self._buf += piece
        lines = self._buf.split("\n")
        # lines[0] finishes the cursor's line; judge only lines after it.
        for i, line in enumerate(lines[1:], start=1):
            complete = i < len(lines) - 1
            if self._ends_before(line, i, complete):
                self._buf = "\n".join(lines[:i])
                self.done = True
                return True
        return False

    def _ends_before(self, line: str, number: int, complete: bool) -> bool:
        if number > self.max_lines:
            return True
        if not line.strip():
            return complete  # a blank line ends the completion
        indent = _indent(line)
        limit = self.block_indent + 1 if self.opener else self.block_indent
        if indent < limit:
            return True  # dedent: the block is finished
        return complete and bool(self.repeat) and line.strip() == self.repeat


def strip_fence(text: str) -> str:
    """Chat models wrap code in Markdown fences; inline text must not have them."""
    lines = text.strip("\n").split("\n")
    if lines and lines[0].lstrip().startswith("```"):
        lines = lines[1:]
        if lines and lines[-1].strip().startswith("```"):
            lines = lines[:-1]
        return "\n".join(lines)
    return text
