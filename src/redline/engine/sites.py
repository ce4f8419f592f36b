"""Where a predicted output is likely to change: the lines the request names.

A rewrite's reply is the prediction with a few lines changed, and the request
says which: "rename ``_v`` to ...", "change ``maxlevel`` from 6 to 8", "delete
the ``isatty`` method", or a traceback that names the failing function. A draft
that runs across such a line is mostly rejected there, and every rejected row
is paid for (about 5 ms a row on the 0.5B here, on top of ~35 ms a verify
batch). So a draft stops at the start of a named line; the next one covers that
line and the line after it (where a docstring or a new statement goes in), two
lines at a time through a run of named lines; elsewhere drafts run as long as
the engine allows, and a draft that would stop just short of a named line goes
on through it (``MERGE``).

Measured on ``redline bench edit`` (Qwen2.5-Coder-0.5B, 8 edits, greedy, clean
clone): the median share of drafted tokens the model kept rose from 0.78 to 0.88
and the median speed-up from 2.0x to 2.8x of a 3.7x ceiling, together with the
engine's other changes of the time (whole tiles of rows, the resync rules, the
0.5B's near-tie margin).

Only words that look like names in the prediction count: the request's words
outside its code listings and quoted prose, without common English and
instruction words, and without those on more than a quarter of the prediction's
lines (``self``, a parameter every line uses), which locate nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from redline.engine.chat import content_text

_FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_QUOTED = re.compile(r"(?<![A-Za-z0-9])(\"\"\"|'''|\"|')(.*?)\1(?![A-Za-z0-9])", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?")
_STOP = frozenset(
    word
    for line in (
        "a an and are as at be but by can do does for from has have in into is it its new no",
        "not of old on one or so than that the their then there these this those to was were",
        "which while will with without all any each every other same only just also up out",
        "if else when where what how why you your we our they them after before above below",
        "between instead add adds added adding change changes changed changing rename",
        "renames renamed renaming delete deletes deleted deleting remove removes removed",
        "removing insert inserts inserted replace replaces replaced make makes use uses used",
        "using set sets call calls called fix fixes fixed keep keeps move moves return",
        "returns function functions method methods parameter parameters argument arguments",
        "class classes variable variables default defaults value values constant everywhere",
        "line lines file files code block fenced reply exactly task please python test tests",
        "error errors don doesn isn won aren",
    )
    for word in line.split()
)
"""Words of requests, not of code; a name that is also one of them (a method
``set``) is simply not used as a site."""
MAX_LINE_SHARE = 0.25
MERGE = 24
"""A draft that would stop fewer than this many tokens before a named line goes on
through it: a short batch pays most of a batch's fixed cost (about 35 ms, the
time of 7-8 rows here), more than the rest of a changed line it may reject.
Simulated on the edit benchmark's replies: median speed-up 2.66x -> 2.78x, the
share of drafted tokens kept unchanged."""
AFTER = 1
"""Lines after a named line that count as named too (a docstring, a statement
inserted after it)."""


def request_words(messages: Sequence[dict[str, Any]], prediction: str) -> set[str]:
    """The name-like words of the last user message, outside code listings."""
    text = ""
    for m in reversed(messages):
        if m.get("role") == "user":
            text = content_text(m.get("content"))
            break
    text = _FENCED.sub(" ", text.replace(prediction, " ") if prediction else text)
    # Quoted prose ("add the docstring \"Compile a pattern...\"") is new text, not a
    # place; a quoted single name ('rename "f" to "g"') still is.
    text = _QUOTED.sub(lambda m: " " if re.search(r"\s", m.group(2)) else m.group(2), text)
    return {
        w for w in _WORD.findall(text) if w.lower() not in _STOP and (len(w) > 1 or w.isdigit())
    }


def hot_lines(prediction: str, words: set[str]) -> set[int]:
    """0-based lines of ``prediction`` on which one of ``words`` stands as a whole
    word, and the ``AFTER`` lines after each; words on too many lines are skipped.
    One pass over the prediction (an index of its words), whatever the number of
    words: a long request costs no more than a short one."""
    lines = prediction.split("\n")
    limit = max(3, MAX_LINE_SHARE * len(lines))
    where: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        for word in set(_WORD.findall(line)) & words:
            where.setdefault(word, []).append(i)
    hot: set[int] = set()
    for found in where.values():
        if len(found) <= limit:
            for i in found:
                hot.update(range(i, min(i + AFTER + 1, len(lines))))
    return hot


def draft_stops(pieces: Sequence[str], hot: set[int]) -> list[int] | None:
    """For each prediction token, where a draft that starts at it must end.

    A token on a hot line: the end of the next line at most, and of the run of hot
    lines it is on. Elsewhere: the first token of the next hot line, or, when that
    is fewer than ``MERGE`` tokens away, where a draft from there would end. None
    when no line is hot (drafts are not cut)."""
    if not hot:
        return None
    n = len(pieces)
    line_of: list[int] = []
    line = 0
    for piece in pieces:
        line_of.append(line)
        line += piece.count("\n")
    stops = [n] * n
    next_hot = n  # first token of the next hot line after i
    run_end = n  # first token after the run of hot lines that i is on
    for i in range(n - 1, -1, -1):
        if i + 1 < n and line_of[i + 1] != line_of[i]:
            if line_of[i + 1] in hot:
                next_hot = i + 1
            else:
                run_end = i + 1
        if line_of[i] in hot:  # line_of rises: the first token two lines on
            stops[i] = min(run_end, bisect_left(line_of, line_of[i] + 2))
        else:
            stops[i] = next_hot
            if next_hot < n and next_hot - i < MERGE:
                stops[i] = stops[next_hot]  # a short way to a named line: through it
    return stops
