"""The repository overview: files and their top-level symbols, ranked to a budget.

A fast model needs to know where things are without reading every file. Python
files are outlined with ``ast`` (functions with signatures, classes with their
methods); other files are listed by name. Files the task mentions come first,
then tests and shallow files, until the character budget is spent.
"""

from __future__ import annotations

import re
from pathlib import Path

from redline.agent.checks.symbols import module_facts
from redline.agent.environment.workspace import Workspace
from redline.agent.templates import render

_TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".txt", ".json", ".yaml", ".yml", ".ini", ".rst"}


def _score(path: str, task_words: set[str]) -> tuple[int, int, str]:
    parts = re.split(r"[/._-]", path.lower())
    mentioned = -10 if task_words & set(parts) or path.lower() in task_words else 0
    tests = -2 if "test" in path.lower() else 0
    return (mentioned + tests + path.count("/"), len(path), path)


def repo_overview(ws: Workspace, task: str = "", budget: int = 3000) -> str:
    """A compact map of the project, at most about ``budget`` characters."""
    files = ws.list_files()
    words = {w for w in re.split(r"[^a-z0-9_./]+", task.lower()) if len(w) > 2}
    words |= {w.rsplit(".", 1)[0] for w in words}
    ranked = sorted(files, key=lambda f: _score(f, words))
    out: list[str] = []
    used = 0
    left_out = 0
    for rel in ranked:
        if not ws.is_file(rel):  # list_files already drops outside links; re-checked here
            continue
        entry = _entry(ws.root / rel, rel)
        if used + len(entry) > budget:
            if used + len(rel) + 1 <= budget:
                out.append(rel)
                used += len(rel) + 1
            else:
                left_out += 1
            continue
        out.append(entry)
        used += len(entry) + 1
    if left_out:
        out.append(f"... and {left_out} more files")
    return "\n".join(out) if out else "(empty workspace)"


def _entry(path: Path, rel: str) -> str:
    if path.suffix != ".py":
        return rel if path.suffix in _TEXT_SUFFIXES or not path.suffix else f"{rel} (binary?)"
    facts = module_facts(path)
    if facts is None:
        return f"{rel} (does not parse)"
    if not facts.outline:
        return rel
    return rel + "\n" + "\n".join(f"    {line}" for line in facts.outline[:30])


def project_context(ws: Workspace, task: str, budget: int = 3000) -> str:
    """The project's files (ranked for ``task``) and its AGENTS.md: what a new
    conversation's first task message starts with."""
    agents_md = ws.read_optional("AGENTS.md")  # symlinks resolved, inside only
    instructions = render("instructions.md", text=agents_md[:4000]) if agents_md else ""
    overview = repo_overview(ws, task, budget)
    return render("context.md", overview=overview, instructions=instructions)
