"""Which files a one-reply edit shows the model, and what the task allows.

A small model cannot explore a project: it edits what it is shown. So the
files in play are chosen for it, cheapest evidence first: the files the user
attached or mentioned, then the local modules that failing tests import (when
the task is about failing tests, they run first: the error-detection loop's
"catch what static checks cannot"), then source files the task names. Test
files are shown for reading only unless the task asks for test changes, and
edits to them are refused otherwise (a model that "fixes" a failing test by
editing the test solves nothing).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from redline.agent.checks.checking import is_test_file
from redline.agent.checks.symbols import local_module_path, module_file
from redline.agent.environment.testrun import TestRun
from redline.agent.environment.workspace import Workspace
from redline.errors import WorkspaceError

PLAY_CAP = 24000
"""Characters of files in play shown at once (a 0.5B turn pays ~5.5 ms a token)."""

_TESTS_ASKED = re.compile(
    r"\b(add|write|create|update|edit|extend|modify|rename|change|fix)\w*\b[^.\n]{0,40}"
    r"\b(unit )?tests?\b|\btest (it|them|this|that)\b",
    re.IGNORECASE,
)
_FAILING_TESTS = re.compile(
    r"\b(fail\w*|broken|red)\b[^.\n]{0,30}\btests?\b|\btests?\b[^.\n]{0,30}\b(fail\w*|pass\w*)\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"^\s*(what|why|how|where|which|who|when|explain|describe|does|do|is|are|can|could)\b",
    re.IGNORECASE,
)
_TEST_REF = re.compile(r"([\w./-]+\.py)(?=::|:\d+)")


def tests_may_change(task: str) -> bool:
    """Whether the task asks for test changes (else test files are read-only)."""
    return bool(_TESTS_ASKED.search(task)) and not re.search(
        r"\bmake (the )?(failing )?tests? pass", task, re.IGNORECASE
    )


def wants_failing_tests(task: str) -> bool:
    """Whether the task is about failing tests, so running them first shows the bug."""
    return bool(_FAILING_TESTS.search(task))


def is_question(task: str) -> bool:
    """A question gets an answer, not an edit (and no predicted file listing)."""
    text = task.strip()
    return text.endswith("?") or bool(_QUESTION.match(text))


@dataclass
class Focus:
    """The files the model may edit (``editable``) and may only read (``context``)."""

    editable: list[str] = field(default_factory=list)
    context: list[str] = field(default_factory=list)


def choose_files(
    ws: Workspace, task: str, attached: list[str], failing: TestRun | None = None
) -> Focus:
    """The files in play for ``task`` (attached first, then evidence, then names)."""
    tests_ok = tests_may_change(task)
    picked: list[str] = list(dict.fromkeys(attached))
    if failing is not None and not failing.passed:
        for test in _failing_test_files(ws, failing.output):
            picked += _local_imports(ws, test)
            picked.append(test)
    picked += _named_in_task(ws, task)
    if not picked:
        picked += _small_project_sources(ws)
    focus = Focus()
    used = 0
    for rel in dict.fromkeys(picked):
        size = _size(ws, rel)
        if size is None or used + size > PLAY_CAP:
            continue
        used += size
        readonly = is_test_file(rel) and not tests_ok and rel not in attached
        (focus.context if readonly else focus.editable).append(rel)
    return focus


def _size(ws: Workspace, rel: str) -> int | None:
    try:
        path = ws.resolve(rel)
        return path.stat().st_size if path.is_file() else None
    except (WorkspaceError, OSError):
        return None


def _failing_test_files(ws: Workspace, output: str) -> list[str]:
    found = []
    for name in _TEST_REF.findall(output):
        name = name.removeprefix("./")
        if is_test_file(name) and _size(ws, name) is not None:
            found.append(name)
    return list(dict.fromkeys(found))[:2]


def _local_imports(ws: Workspace, rel: str) -> list[str]:
    """Workspace files for the local modules that ``rel`` imports."""
    try:
        tree = ast.parse(ws.read_text(rel))
    except (SyntaxError, WorkspaceError, ValueError):
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [a.name for a in node.names]
    out = []
    here = (ws.root / rel).parent
    for dotted in names:
        found = local_module_path(ws.root, dotted) or local_module_path(here, dotted)
        target = module_file(found) if found else None
        if target is None or target.name == "__init__.py":
            continue
        try:
            out.append(ws.rel(target))
        except WorkspaceError:
            continue
    return out


def _named_in_task(ws: Workspace, task: str) -> list[str]:
    """Files whose path or file name (with or without ``.py``) the task mentions."""
    words = {w.lower() for w in re.findall(r"[\w./-]+", task)}
    words |= {w.removesuffix(".py") for w in words}
    hits = []
    for rel in ws.list_files():
        stem = rel.rsplit("/", 1)[-1]
        if (
            rel.lower() in words
            or stem.lower() in words
            or (rel.endswith(".py") and stem[:-3].lower() in words and stem != "__init__.py")
        ):
            hits.append(rel)
    return hits[:4]


def _small_project_sources(ws: Workspace) -> list[str]:
    """In a project of at most three source files, all of them."""
    sources = [
        f
        for f in ws.list_files()
        if f.endswith(".py") and not is_test_file(f) and not f.endswith("__init__.py")
    ]
    return sources if len(sources) <= 3 else []
