"""The mechanical half of an edit task, said again where a small model reads it last.

Asked to "rename the helper function _v to _hue_to_value everywhere" over a part
that held the definition and three calls, Qwen2.5-Coder-0.5B renamed the definition
(or wrote a new function by that name) and left the calls; with the sentence
"Replace every `_v` with `_hue_to_value`: the definition and every use." after the
reply request, it renamed all four. Asked to "delete the isatty method" over the
method and the one after it, it copied both, or kept the deleted method's header
over its neighbour's body; with "Leave out the isatty method." it replied with the
neighbour alone. (Measured on the ``redline bench edit`` cases.)
The closing "keep every other line exactly as it is" pulls a small model towards a
copy; a last sentence that names what changes pulls it back. Only these two task
shapes are restated: each is a rule the reply must follow everywhere (every use,
nothing left), which a small model applies to the first place it sees and no more.

A task that states its change plainly also gives a better predicted output than
the old text (``likely``): a rename made, a unit left out, "change NAME from A to
B" made on NAME's lines, "add LINE after LINE" and "add the docstring <quoted> to
NAME" put in. The model still writes every token of its reply (a draft is kept
only where the model would have written it); the prediction only decides how
many of them come in one verify batch instead of one at a time. Measured on the
0.5B (``redline bench edit``, same cases, dev runs before and after ``likely``;
insert-function's part also gained its neighbour between them): the median share
of drafted tokens kept rose from 0.77 to 0.92 and the median speed-up from 2.1x
to 2.75x (of a 3.7x ceiling).
"""

from __future__ import annotations

import ast
import keyword
import re

_NAME = r"`?([A-Za-z_][A-Za-z0-9_.]*)`?"
_RENAME = re.compile(
    rf"^\s*(?:please\s+)?rename\s+(?:the\s+)?(?:[a-z]+\s+){{0,3}}?{_NAME}\s+to\s+{_NAME}"
    r"(?:\s+everywhere)?\s*\.?\s*$",
    re.IGNORECASE,
)
_CHANGE = re.compile(
    rf"^\s*(?:please\s+)?change\s+(?:the\s+)?(?:[a-z]+\s+){{0,2}}?{_NAME}\s+from\s+"
    r"`?([^\s`]+)`?\s+to\s+`?([^\s`]+?)`?\s*\.?\s*$",
    re.IGNORECASE,
)
_ADD_AFTER = re.compile(r"^\s*(?:please\s+)?add\s+`?(.+?)`?\s+after\s+`?(.+?)`?\s*\.?\s*$", re.I)
_DOCSTRING = re.compile(
    r"^\s*(?:please\s+)?add\s+(?:the\s+|a\s+)?docstring\s+((\"{3}|'{3}).+?\2)"
    rf"\s+to\s+(?:the\s+)?(?:[a-z]+\s+)?{_NAME}\s*\.?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_DELETE = re.compile(r"^\s*(?:please\s+)?(?:delete|remove)\s+(the\s+[^,;]{1,60}?)\s*\.?\s*$", re.I)


def restate(instruction: str, text: str) -> str:
    """A sentence that says a rename's or a deletion's rule once more; else "".
    A rename is restated only when its old name is a word of ``text`` and no
    keyword (so "rename the class to Foo" is not read as renaming `class`)."""
    rename = _renamed(instruction, text)
    if rename:
        old, new = rename
        return f"Replace every `{old}` with `{new}`: the definition and every use."
    delete = _DELETE.match(instruction)
    if delete and " and " not in delete.group(1):
        return f"Leave out {delete.group(1)}."
    return ""


def _renamed(instruction: str, text: str) -> tuple[str, str] | None:
    """A plainly stated rename's old and new name (see ``restate``), or None."""
    m = _RENAME.match(instruction)
    if m is None or m.group(1) == m.group(2) or keyword.iskeyword(m.group(1)):
        return None
    return (m.group(1), m.group(2)) if _has_word(text, m.group(1)) else None


def _has_word(text: str, name: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text) is not None


def likely(instruction: str, text: str) -> str:
    """``text`` as the task likely leaves it, when the instruction is one of the
    plainly stated shapes above; else ``text`` unchanged."""
    rename = _renamed(instruction, text)
    if rename:
        old, new = rename
        return re.sub(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])", lambda _: new, text)
    change = _CHANGE.match(instruction)
    if change and _has_word(text, change.group(1)):
        name, old, new = change.groups()
        value = rf"(?<![A-Za-z0-9_.]){re.escape(old)}(?![A-Za-z0-9_.])"
        return "".join(
            re.sub(value, lambda _: new, ln) if _has_word(ln, name) else ln
            for ln in text.splitlines(True)
        )
    doc = _DOCSTRING.match(instruction)
    if doc:
        return _with_docstring(text, doc.group(1), doc.group(3))
    add = _ADD_AFTER.match(instruction)
    if add:
        return _after_line(text, add.group(1), add.group(2))
    delete = _DELETE.match(instruction)
    if delete and " and " not in delete.group(1):
        return _without(text, set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", delete.group(1))))
    return text


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _first_def(
    text: str, names: set[str]
) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    """The first function or class of ``text`` named one of ``names``; None when
    there is none or ``text`` does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):  # ValueError: a null byte
        return None
    found = [n for n in ast.walk(tree) if isinstance(n, _DEFS) and n.name in names]
    return min(found, key=lambda n: n.lineno) if found else None


def _without(text: str, words: set[str]) -> str:
    """``text`` without the first function or class named by one of ``words``
    (decorators and the blank lines after it included)."""
    unit = _first_def(text, words)
    if unit is None:
        return text
    lines = text.splitlines(True)
    start = min([unit.lineno, *(d.lineno for d in unit.decorator_list)]) - 1
    end = unit.end_lineno or unit.lineno
    while end < len(lines) and not lines[end].strip():
        end += 1
    return "".join(lines[:start] + lines[end:])


def _after_line(text: str, new: str, anchor: str) -> str:
    """``text`` with the line ``new`` after its one line that reads ``anchor``
    (same indent); unchanged unless exactly one line reads so."""
    lines = text.splitlines(True)
    at = [i for i, ln in enumerate(lines) if ln.strip() == anchor.strip()]
    if len(at) != 1 or "\n" in new:
        return text
    line = lines[at[0]]
    indent = line[: len(line) - len(line.lstrip())]
    added = f"{indent}{new.strip()}\n" if line.endswith("\n") else f"\n{indent}{new.strip()}"
    return "".join([*lines[: at[0] + 1], added, *lines[at[0] + 1 :]])


def _with_docstring(text: str, doc: str, name: str) -> str:
    """``text`` with ``doc`` as the first line of the body of the function or class
    ``name``; unchanged when there is none, or it has a docstring already."""
    unit = _first_def(text, {name})
    if unit is None or ast.get_docstring(unit) is not None:
        return text
    first = unit.body[0]
    if first.lineno == unit.lineno:  # `def f(): return 1`, one line
        return text
    lines = text.splitlines(True)
    at = lines[first.lineno - 1]
    indent = at[: len(at) - len(at.lstrip())]
    return "".join([*lines[: first.lineno - 1], f"{indent}{doc}\n", *lines[first.lineno - 1 :]])
