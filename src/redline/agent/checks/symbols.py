"""What a Python module defines, read with ``ast`` (no imports, no side effects).

Two users: the repository overview (names and signatures to show the model) and
the verifier (is ``from pkg.mod import name`` real? does ``f(kw=...)`` name a
parameter ``f`` has?). Both need the same cheap facts about local modules.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from redline.agent.environment.workspace import inside


@dataclass
class Signature:
    """The parameters of a function that keyword arguments can name."""

    params: set[str]
    var_kw: bool


@dataclass
class ModuleFacts:
    names: set[str] = field(default_factory=set)
    functions: dict[str, Signature] = field(default_factory=dict)
    outline: list[str] = field(default_factory=list)
    open_ended: bool = False
    """Star imports or a module ``__getattr__``: any name may exist."""


def signature_of(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Signature:
    a = fn.args
    params = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs]}
    return Signature(params=params, var_kw=a.kwarg is not None)


def _short_sig(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    try:
        args = ast.unparse(fn.args)
    except Exception:  # unparse of odd defaults: the name alone is still useful
        args = "..."
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    text = f"def {fn.name}({args}){ret}"
    return text if len(text) <= 120 else text[:117] + "..."


def facts_from_tree(tree: ast.Module) -> ModuleFacts:
    facts = ModuleFacts()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            facts.names.add(node.name)
            facts.functions[node.name] = signature_of(node)
            facts.outline.append(_short_sig(node))
            if node.name == "__getattr__":
                facts.open_ended = True
        elif isinstance(node, ast.ClassDef):
            facts.names.add(node.name)
            methods = [
                n.name
                for n in node.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                and (not n.name.startswith("_") or n.name == "__init__")
            ]
            facts.outline.append(f"class {node.name}: " + ", ".join(methods[:12]))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    facts.open_ended = True
                else:
                    facts.names.add((alias.asname or alias.name).split(".")[0])
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    facts.names.add(sub.id)
                elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    facts.names.add(sub.name)
                elif isinstance(sub, ast.Import | ast.ImportFrom):
                    facts.names.update((a.asname or a.name).split(".")[0] for a in sub.names)
    return facts


@lru_cache(maxsize=512)
def _facts_cached(path: str, mtime_ns: int, size: int) -> ModuleFacts | None:
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    return facts_from_tree(tree)


def module_facts(path: Path) -> ModuleFacts | None:
    """Facts for a file (cached by mtime), or None when it cannot be parsed."""
    try:
        st = path.stat()
    except OSError:
        return None
    return _facts_cached(str(path), st.st_mtime_ns, st.st_size)


def local_module_path(root: Path, dotted: str) -> Path | None:
    """The file or package folder of ``dotted`` inside the project, if it is local
    (a symlink that leads out of ``root`` is not local: its facts are never read)."""
    parts = dotted.split(".")
    real_root = Path(os.path.realpath(root))
    for base in (root, root / "src"):
        here = base.joinpath(*parts)
        if (here / "__init__.py").is_file() or here.is_dir() and _is_namespace(here):
            return here if inside(real_root, here) else None
        if here.with_suffix(".py").is_file():
            found = here.with_suffix(".py")
            return found if inside(real_root, found) else None
    return None


def _is_namespace(folder: Path) -> bool:
    return any(folder.glob("*.py"))


def module_file(found: Path) -> Path | None:
    """The source file that defines a module found by :func:`local_module_path`."""
    if found.is_file():
        return found
    init = found / "__init__.py"
    return init if init.is_file() else None
