"""Static checks for fast models' typical mistakes, reusable by the LSP and benchmarks.

``check_source`` runs, cheapest first: syntax (``ast``), pyflakes (undefined
names, in-process), imports that do not resolve and names or keyword arguments
that a *local* module does not define (the fabricated-API class of error), and
``ruff`` with the project's own configuration. It imports nothing from the
checked code and has no side effects, so an editor can call it on every keystroke.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from redline.agent.checks.symbols import (
    facts_from_tree,
    local_module_path,
    module_facts,
    module_file,
)

_PYFLAKES_ERRORS = {
    "UndefinedName",
    "UndefinedExport",
    "UndefinedLocal",
    "DuplicateArgument",
    "ReturnOutsideFunction",
    "YieldOutsideFunction",
    "ContinueOutsideLoop",
    "BreakOutsideLoop",
    "TooManyExpressionsInStarredAssignment",
    "TwoStarredExpressions",
}


@dataclass(frozen=True)
class Problem:
    """One finding; ``line`` and ``col`` are 1-based, ``severity`` error or warning."""

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"
    source: str = "syntax"
    code: str = ""

    def key(self) -> tuple[str, str, str]:
        """Identity that survives line shifts: used to tell new problems from old."""
        return (self.source, self.code, self.message)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        code = f" [{self.code}]" if self.code else ""
        return f"{self.path}:{self.line}:{self.col}: {self.severity}{code}: {self.message}"


def check_source(
    path_or_text: str | Path,
    *,
    filename: str | None = None,
    root: str | Path | None = None,
    use_ruff: bool = True,
) -> list[Problem]:
    """Problems in Python source: a :class:`Path` (or an existing file name) or the text itself.

    ``filename`` names text for messages and ruff's config lookup; ``root`` is
    the project folder used to resolve local imports (default: the file's folder).
    """
    if isinstance(path_or_text, Path) or (
        "\n" not in path_or_text and len(path_or_text) < 4096 and os.path.isfile(path_or_text)
    ):
        path = Path(path_or_text)
        text = path.read_text(encoding="utf-8", errors="replace")
        filename = filename or str(path)
    else:
        text = str(path_or_text)
    filename = filename or "<text>"
    if root is not None:
        base: Path | None = Path(root).resolve()
    else:
        base = Path(filename).resolve().parent if filename != "<text>" else None
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        return [Problem(filename, exc.lineno or 1, exc.offset or 1, exc.msg or "invalid syntax")]
    problems = _pyflakes(tree, text, filename)
    if base is not None:
        here = (base / filename).resolve().parent if filename != "<text>" else base
        problems += _imports_and_calls(tree, filename, base, here)
    if use_ruff:
        problems += _ruff(text, filename, base)
    return sorted(set(problems), key=lambda p: (p.line, p.col, p.message))


def _pyflakes(tree: ast.Module, text: str, filename: str) -> list[Problem]:
    from pyflakes import checker

    found = checker.Checker(tree, filename=filename)
    out = []
    for msg in found.messages:
        kind = type(msg).__name__
        out.append(
            Problem(
                filename,
                msg.lineno,
                (getattr(msg, "col", 0) or 0) + 1,
                msg.message % msg.message_args,
                "error" if kind in _PYFLAKES_ERRORS else "warning",
                "pyflakes",
                kind,
            )
        )
    return out


def _guarded(tree: ast.Module) -> set[int]:
    """Ids of import nodes inside ``try: ... except ImportError`` (optional imports)."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            names = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if (
                not names
                or names & {"ImportError", "ModuleNotFoundError", "Exception"}
                or any("ImportError" in n for n in names)
            ):
                ids.update(id(sub) for stmt in node.body for sub in ast.walk(stmt))
    return ids


def _resolves(top: str, base: Path, here: Path) -> bool:
    if top in sys.stdlib_module_names or top in sys.builtin_module_names or top == "__future__":
        return True
    if local_module_path(base, top) or local_module_path(here, top):
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _imports_and_calls(tree: ast.Module, filename: str, base: Path, here: Path) -> list[Problem]:
    """Unresolvable imports, names missing from local modules, phantom keyword args."""
    guarded = _guarded(tree)
    out: list[Problem] = []
    local_funcs = dict(facts_from_tree(tree).functions)
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if not _resolves(top, base, here):
                    out.append(_p(filename, node, f"cannot resolve import '{alias.name}'", "F401X"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0]
            if not _resolves(top, base, here):
                out.append(_p(filename, node, f"cannot resolve import '{node.module}'", "F401X"))
                continue
            found = local_module_path(base, node.module) or local_module_path(here, node.module)
            if found is None:
                if local_module_path(base, top):
                    msg = f"module '{node.module}' does not exist in this project"
                    out.append(_p(filename, node, msg, "F401X"))
                continue
            facts = module_facts(module_file(found)) if module_file(found) else None
            for alias in node.names:
                if alias.name == "*" or facts is None or facts.open_ended:
                    continue
                sub = found / alias.name if found.is_dir() else None
                if alias.name in facts.names or (
                    sub is not None and (sub.with_suffix(".py").is_file() or sub.is_dir())
                ):
                    if alias.name in facts.functions:
                        local_funcs[alias.asname or alias.name] = facts.functions[alias.name]
                    continue
                msg = f"'{alias.name}' is not defined in local module '{node.module}'"
                out.append(_p(filename, node, msg, "F811X"))
    out += _phantom_keywords(tree, filename, local_funcs)
    return out


def _phantom_keywords(tree: ast.Module, filename: str, funcs: dict) -> list[Problem]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            sig = funcs.get(node.func.id)
            if sig is None or sig.var_kw:
                continue
            for kw in node.keywords:
                if kw.arg is not None and kw.arg not in sig.params:
                    msg = f"{node.func.id}() has no parameter named '{kw.arg}'"
                    out.append(_p(filename, node, msg, "E1123X"))
    return out


def _p(filename: str, node: ast.AST, message: str, code: str) -> Problem:
    line = getattr(node, "lineno", 1)
    return Problem(
        filename, line, getattr(node, "col_offset", 0) + 1, message, "error", "names", code
    )


def ruff_command() -> list[str]:
    """The ruff next to this interpreter, else ``python -m ruff``."""
    exe = Path(sys.executable).parent / "ruff"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "ruff"]


def _ruff(text: str, filename: str, base: Path | None) -> list[Problem]:
    cmd = [*ruff_command(), "check", "--output-format=json", "--no-cache", "--exit-zero"]
    cmd += ["--stdin-filename", filename if filename != "<text>" else "snippet.py", "-"]
    try:
        proc = subprocess.run(
            cmd, input=text.encode(), capture_output=True, timeout=30, cwd=base or None
        )
        rows = json.loads(proc.stdout or b"[]")
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError) as exc:
        return [Problem(filename, 1, 1, f"ruff could not run: {exc}", "warning", "ruff")]
    out = []
    for row in rows:
        code = row.get("code") or ""
        if code.startswith("F"):  # pyflakes already ran in-process
            continue
        loc = row.get("location") or {}
        severity = "error" if not code or code.startswith(("E9", "PLE")) else "warning"
        out.append(
            Problem(
                filename,
                loc.get("row", 1),
                loc.get("column", 1),
                row.get("message", ""),
                severity,
                "ruff",
                code,
            )
        )
    return out
