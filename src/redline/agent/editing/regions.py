"""The part of a Python file a change is about, so a small model rewrites only that.

Measured with ``redline bench edit``: asked for a whole 110-185-line module back,
Qwen2.5-Coder-0.5B drops whole functions or the module docstring on the way (4 of 8
edits carried out); asked for the 15-65 lines the task names, it carries out 6 and
writes a fifth of the tokens (by that time's check, which counted a rename of the
definition alone; by today's, 4 of 8, and the 1.5B 8 of 8). The part is found from
the task's words, with no model call: the functions and classes it names (for a
rename, every line that uses them too), else the first place each name it mentions
is defined (an import, an assignment, a parameter), widened to whole functions or
top-level statements (an import to its block of imports). A task that deletes a
unit or places code after or before one gets the unit's neighbour too (what the
reply keeps; where new code goes); any other gets the unit alone: given the `run`
method and the `queue` property after it for "add a parameter to the run method",
the 0.5B dropped the property. A task that names nothing in the file, or a part
over 60 % of the file, gets the whole file, as does any file that does not parse.

The part goes to the model dedented (a method looks like top-level code; the
0.5B rewrote an indented method at column 0) and comes back re-indented.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

MIN_LINES = 60
"""Files shorter than this are rewritten whole: a small model copies them well."""
MAX_SHARE = 0.6
"""A part this big a share of the file saves little; the whole file is clearer."""

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RENAME = re.compile(r"\b(rename|renames|renaming|everywhere)\b", re.IGNORECASE)
_ROOM = re.compile(
    r"\b(delete|deletes|deleting|remove|removes|removing|after|before|above|below)\b",
    re.IGNORECASE,
)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BODIES = ("body", "orelse", "finalbody")


@dataclass(frozen=True)
class Region:
    """Lines ``start``..``end`` (1-based, inclusive) of a text, and their common indent."""

    start: int
    end: int
    indent: str
    anchor: int
    """The last line of the first unit the task names: where new code the reply
    adds on its own (without the part's definitions) is inserted."""
    names: frozenset[str]
    """The definitions at the part's top level (to tell a reply that lists only
    new code from one that rewrites the part)."""

    def part(self, text: str) -> str:
        """The region's lines, dedented."""
        return textwrap.dedent("".join(text.splitlines(True)[self.start - 1 : self.end]))

    def splice(self, text: str, reply: str) -> str:
        """``text`` with the region replaced by ``reply`` (the new part, dedented).

        A reply that defines only new names and none of the part's is new code
        alone (small models answer "add f after g" with f): it goes in after the
        named unit and the part is kept."""
        lines = text.splitlines(True)
        new = reply if reply.endswith("\n") or not reply else reply + "\n"
        new = textwrap.indent(new, self.indent)
        if self._only_new_code(text, reply):
            gap = "\n" if self.anchor < len(lines) and lines[self.anchor].strip() else ""
            return "".join([*lines[: self.anchor], "\n", new, gap, *lines[self.anchor :]])
        return "".join([*lines[: self.start - 1], new, *lines[self.end :]])

    def _only_new_code(self, text: str, reply: str) -> bool:
        """The reply defines only names the part does not, and repeats little of it
        (a renamed function keeps its body's lines: that is a rewrite, not new code)."""
        added = _top_names(reply)
        if not self.names or not added or added & self.names:
            return False
        old = {ln.strip() for ln in self.part(text).splitlines() if ln.strip()}
        new = [ln.strip() for ln in reply.splitlines() if ln.strip()]
        return sum(ln in old for ln in new) * 2 < len(new)


def find_region(text: str, instruction: str) -> Region | None:
    """The part of ``text`` that ``instruction`` is about, or None for the whole file."""
    named = _named_units(text, instruction)
    return None if named is None else _one_region(text, named, instruction)


def find_parts(text: str, instruction: str) -> list[Region] | None:
    """For a rename whose uses span too much of the file for one part: the units
    that use the names, grouped into parts of up to ``PART_LINES`` lines (a longer
    unit is a part of its own), top to bottom; None when that is not the case.

    Measured with ``redline bench edit`` (rename-parameter: 13 uses in four
    functions of a 182-line file): asked for the whole file, Qwen2.5-Coder-0.5B
    renamed the first nine and copied the rest; asked for three parts one after
    the other, it renamed all 13."""
    named = _named_units(text, instruction)
    if named is None or _one_region(text, named, instruction) is not None:
        return None
    return _rename_parts(text, instruction, named)


def parts_for(text: str, instruction: str) -> list[Region]:
    """What a rewrite asks for: ``[find_region]``, else ``find_parts``, else nothing
    (the whole file), from one parse of ``text``."""
    named = _named_units(text, instruction)
    if named is None:
        return []
    one = _one_region(text, named, instruction)
    return [one] if one is not None else _rename_parts(text, instruction, named) or []


def _one_region(text: str, named: Named, instruction: str) -> Region | None:
    """The named units as one part; None when over ``MAX_SHARE``. A task that
    deletes a unit or places code after or before one gets the unit's neighbour
    too (what a deletion's reply keeps; where an insertion goes), except in a
    block of imports, which is room enough (``_import_block``)."""
    lines, found, anchor = named
    start = min(_start(u[2]) for u in found)
    end = max(u[2].end_lineno or u[2].lineno for u in found)
    imports_only = all(isinstance(u[2], _IMPORTS) for u in found)
    if _ROOM.search(instruction) and not imports_only:
        start, end = _with_neighbour(found, start, end)
    if end - start + 1 > MAX_SHARE * len(lines):
        return None
    return _region(text, start, end, anchor)


def _with_neighbour(found: list[Unit], start: int, end: int) -> tuple[int, int]:
    """``start``..``end`` widened by the unit after the last one (else the one
    before the first): what the reply keeps when the named unit is deleted."""
    body, i, _ = max(found, key=lambda u: u[2].end_lineno or 0)
    if i + 1 < len(body):
        return start, max(end, body[i + 1].end_lineno or end)
    body, i, _ = min(found, key=lambda u: _start(u[2]))
    return (min(start, _start(body[i - 1])) if i > 0 else start), end


def _rename_parts(text: str, instruction: str, named: Named) -> list[Region] | None:
    """A rename's units grouped into parts (see ``find_parts``); None for fewer than two."""
    if not _RENAME.search(instruction):
        return None
    spans = sorted({(_start(u[2]), u[2].end_lineno or u[2].lineno) for u in named[1]})
    groups: list[list[int]] = []
    for start, end in spans:
        last = groups[-1] if groups else None
        if last is not None and start <= last[1]:  # nested in or overlapping the last
            last[1] = max(last[1], end)
        elif last is not None and start - last[1] <= PART_GAP and end - last[0] < PART_LINES:
            last[1] = end
        else:
            groups.append([start, end])
    if len(groups) < 2:
        return None
    return [_region(text, start, end, end) for start, end in groups]


PART_LINES = 60
"""Most lines of one part when a rename is asked for in several parts."""
PART_GAP = 3
"""Units this close (blank lines between) go in one part."""


def _named_units(text: str, instruction: str) -> Named | None:
    """The file's lines, the units the task names (for a rename, every unit that
    uses the names too) and the last line of the first of them; None when the file
    is short, does not parse, or the task names nothing in it."""
    lines = text.splitlines()
    if len(lines) < MIN_LINES:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):  # ValueError: a null byte
        return None
    found_words = _WORD.findall(instruction)
    if found_words and found_words[0].lower() in _VERBS:  # "add ...": no name `add`
        found_words = found_words[1:]
    words = {w for w in found_words if _name_like(w)}
    stmts = _statements(tree)
    first: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        name = _defined(node)
        if name in words and (name not in first or node.lineno < first[name].lineno):  # type: ignore[attr-defined]
            first[name] = node
    if not first:
        return None
    named = {w: n for w, n in first.items() if isinstance(n, _DEFS)}
    if named:  # a function or class the task names is the strongest signal
        first = named
    units = [_unit_of(n, stmts, tree) for n in sorted(first.values(), key=lambda n: n.lineno)]  # type: ignore[attr-defined]
    units += [b for u in units if u is not None for b in _import_block(u)]
    anchor = units[0][2].end_lineno if units and units[0] else None
    if _RENAME.search(instruction):
        targets = set(first)
        units += [_unit_of(n, stmts, tree) for n in ast.walk(tree) if _used(n) in targets]
    found = [u for u in units if u is not None]
    if not found or anchor is None:
        return None
    return lines, found, anchor


_VERBS = frozenset(
    _WORD.findall("add change rename delete remove insert make move replace fix update use set put")
)
"""A task's first word when it is the imperative, not a name: fnmatch.translate
has a local `add`, and "add import sys after import re" had asked for all of it."""
_SHORT_WORDS = frozenset(
    _WORD.findall("a i an as at be by do go he if in is it me my no of on or so to up us we")
)


def _name_like(word: str) -> bool:
    """Whether a task's word may name something in the file: not a one- or
    two-letter English word (`os`, `re`, `lo` may: "add import sys after import re")."""
    return len(word) >= 3 or not word.isalpha() or (len(word) == 2 and word not in _SHORT_WORDS)


def _region(text: str, start: int, end: int, anchor: int) -> Region:
    """Lines ``start``..``end`` of ``text`` as a part: their indent and top-level names."""
    raw = "".join(text.splitlines(True)[start - 1 : end])
    dedented = textwrap.dedent(raw)
    first_line = next((ln for ln in raw.splitlines() if ln.strip()), "")
    first_new = next((ln for ln in dedented.splitlines() if ln.strip()), "")
    indent = first_line[: len(first_line) - len(first_new)]
    return Region(start, end, indent, anchor, frozenset(_top_names(dedented) or ()))


Unit = tuple[list[ast.stmt], int, ast.stmt]
Named = tuple[list[str], list[Unit], int]
"""A file's lines, the units a task names, the last line of the first of them."""


def _statements(tree: ast.Module) -> list[Unit]:
    """Every statement with the body it sits in and its index there."""
    out: list[Unit] = []

    def walk(body: list[ast.stmt]) -> None:
        for i, st in enumerate(body):
            out.append((body, i, st))
            for field in _BODIES:
                sub = getattr(st, field, None)
                if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                    walk(sub)
            for handler in getattr(st, "handlers", []) or []:
                walk(handler.body)

    walk(tree.body)
    return out


_IMPORTS = (ast.Import, ast.ImportFrom)


def _import_block(unit: Unit) -> list[Unit]:
    """The import statements next to an import, one after the other: a task about
    one import ("add import sys after import stat") is about the block. Given the
    import and the statement after it, the 0.5B wrote `import sys` over `import
    stat`; given the block, it added the line."""
    body, i, st = unit
    if not isinstance(st, _IMPORTS):
        return []
    lo = hi = i
    while lo > 0 and isinstance(body[lo - 1], _IMPORTS):
        lo -= 1
    while hi + 1 < len(body) and isinstance(body[hi + 1], _IMPORTS):
        hi += 1
    return [(body, k, body[k]) for k in range(lo, hi + 1) if k != i]


def _start(node: ast.AST) -> int:
    """A statement's first line, decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])  # type: ignore[attr-defined]


def _unit_of(node: ast.AST, stmts: list[Unit], tree: ast.Module) -> Unit | None:
    """A definition itself; anything else: the innermost function around it, else
    the top-level statement holding it (a class's method, not the whole class)."""
    if isinstance(node, _DEFS):
        return next((u for u in stmts if u[2] is node), None)
    line = getattr(node, "lineno", None)
    if line is None:
        return None
    around = [
        u
        for u in stmts
        if isinstance(u[2], _FUNCS) and _start(u[2]) <= line <= (u[2].end_lineno or 0)
    ]
    if around:
        return max(around, key=lambda u: _start(u[2]))
    for u in stmts:
        st = u[2]
        if st.lineno <= line <= (st.end_lineno or st.lineno) and not isinstance(st, ast.ClassDef):
            return u
    return None


def _defined(node: ast.AST) -> str | None:
    """The name a node defines (a def, class, import, parameter or assignment)."""
    if isinstance(node, _DEFS):
        return node.name
    if isinstance(node, ast.alias):
        return (node.asname or node.name).split(".")[0]
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
        return node.attr
    return None


def _used(node: ast.AST) -> str | None:
    """The name a node defines or refers to."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.keyword):
        return node.arg
    return _defined(node)


def _top_names(code: str) -> set[str] | None:
    """The functions and classes defined at the top level of ``code``; None if it
    does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: a null byte
        return None
    return {st.name for st in tree.body if isinstance(st, _DEFS)}
