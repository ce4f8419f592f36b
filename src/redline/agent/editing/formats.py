"""Edit formats: how a model that edits in one reply writes its changes.

Small models (0.5-1.5B) follow one simple reply far better than a multi-turn
tool dialogue: they are shown the files in play and answer with the changed
files (``whole``: each changed file listed whole) or with fenced
search/replace blocks (``diff``), as aider's edit formats do. Each format is
one small class behind one interface (:class:`EditFormat`): the system prompt,
how the files are shown, the predicted reply (the speculative engine's drafts:
a whole-file reply is mostly the old file), and the parser that turns a reply
into new file texts. Parsing is all-or-nothing: a reply with one bad block
changes nothing. The classes live with their protocols
(:mod:`redline.agent.protocols.whole`, :mod:`redline.agent.protocols.diff`);
this module holds what they share.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Protocol


@dataclass
class ParsedEdits:
    """New texts by path (only the files the reply changes) and the reply's prose."""

    files: dict[str, str]
    prose: str


class EditFormat(Protocol):
    name: str

    def system_prompt(self) -> str: ...

    def show(self, path: str, text: str) -> str:
        """A file as the model is shown it (and as its reply should quote it)."""
        ...

    def prediction(self, files: dict[str, str]) -> str | None:
        """The likeliest reply, sent as the predicted output (None: no drafts)."""
        ...

    def parse(self, reply: str, files: dict[str, str]) -> ParsedEdits:
        """New texts from ``reply``; :class:`EditError` (nothing applied) if malformed."""
        ...

    def stops(self, files: dict[str, str]) -> list[str]:
        """Stop sequences that end a reply once it holds every edit it can make (the
        prose after it costs ~25 ms a token on a small CPU model and is never used)."""
        ...


_FENCE_LINE = re.compile(r"^[ \t]*```", re.MULTILINE)


def fences_balanced(reply: str) -> bool:
    """Whether every fenced block ``reply`` opened is closed."""
    return len(_FENCE_LINE.findall(reply)) % 2 == 0


LISTING_END = "\n```\n\n"


def restore_fence(reply: str) -> str:
    """A reply that a :data:`LISTING_END` stop ended, with its closing fence put back
    (the conversation shows the model well-formed replies of its own)."""
    return reply if fences_balanced(reply) else reply.rstrip("\n") + "\n```\n"


LISTING = re.compile(
    r"(?:^|\n)[ \t]*(?:#+ *|\*\*|`)?(?P<path>[\w./\\-]+\.\w+)(?:`|\*\*|:)?[ \t]*\n"
    r"```[\w+.-]*[ \t]*\n(?P<body>.*?)(?:\n```[ \t]*(?:\n|$)|$)",
    re.DOTALL,
)
BARE_FENCE = re.compile(r"```[\w+.-]*[ \t]*\n(?P<body>.*?)(?:\n```|$)", re.DOTALL)


def match_path(name: str, files: dict[str, str]) -> str | None:
    """The file in play a reply's file name means (exact, then by base name)."""
    name = name.strip().strip("`*").replace("\\", "/").removeprefix("./")
    if name in files:
        return name
    base = name.rsplit("/", 1)[-1]
    hits = [p for p in files if p.rsplit("/", 1)[-1] == base]
    return hits[0] if len(hits) == 1 else None


def whole_or_merged(old: str | None, new: str) -> str:
    """``new`` as the whole file, or merged into ``old`` when it is only a snippet.

    Small models often answer with just the function they changed. Taken as the
    whole file, that would delete the rest; so when ``new`` lacks top-level
    definitions the old file has, its definitions replace their namesakes in
    ``old`` (new ones are appended, new imports go on top) instead.
    """
    if not old:
        return new
    merged = merge_snippet(old, new)
    return new if merged is None else merged


def _defs(tree: ast.Module) -> dict[str, ast.stmt]:
    return {
        n.name: n
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def merge_snippet(old: str, snippet: str) -> str | None:
    """``old`` with ``snippet``'s definitions put in; None if ``snippet`` is a whole file
    (it defines everything ``old`` does) or cannot be merged (does not parse)."""
    try:
        old_tree = ast.parse(old)
        new_tree = ast.parse(textwrap.dedent(snippet))
    except (SyntaxError, ValueError):
        return None
    old_defs, new_defs = _defs(old_tree), _defs(new_tree)
    if not new_defs or set(old_defs) <= set(new_defs):
        return None
    lines = old.splitlines(keepends=True)
    new_lines = textwrap.dedent(snippet).splitlines(keepends=True)

    def span(node: ast.stmt) -> tuple[int, int]:
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
        return start, node.end_lineno or node.lineno

    appended: list[str] = []
    for name, node in sorted(new_defs.items(), key=lambda kv: -span(kv[1])[0]):
        lo, hi = span(node)
        text = "".join(new_lines[lo:hi])
        if name in old_defs:
            olo, ohi = span(old_defs[name])
            lines[olo:ohi] = text.splitlines(keepends=True)
        else:
            appended.insert(0, text)
    body = "".join(lines)
    if appended:
        body = body.rstrip("\n") + "\n\n\n" + "\n\n".join(t.rstrip("\n") for t in appended) + "\n"
    imports = [
        ast.get_source_segment(textwrap.dedent(snippet), n) or ""
        for n in new_tree.body
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    missing = [i for i in imports if i and i not in old]
    return "\n".join(missing) + "\n" + body if missing else body


def new_file(name: str) -> str | None:
    """A path the reply creates: relative, plain characters, no ``..``."""
    name = name.strip().replace("\\", "/").removeprefix("./")
    if not name or name.startswith("/") or ".." in name.split("/") or "/" not in name + "/":
        return None
    return name if re.fullmatch(r"[\w./-]+\.\w+", name) else None


def body(text: str) -> str:
    return text.rstrip("\n") + "\n" if text.strip() else ""


def without(reply: str, spans: list[tuple[int, int]]) -> str:
    parts, at = [], 0
    for lo, hi in sorted(spans):
        parts.append(reply[at:lo])
        at = hi
    parts.append(reply[at:])
    return "".join(parts).strip()
