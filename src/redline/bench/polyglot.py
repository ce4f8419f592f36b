"""The polyglot-python exercises: what the agent is given, and how its work is scored.

Each exercise (``<dir>/<name>/``) has ``.docs/instructions*.md``, a stub and a
pytest file, named in ``config.json``. A case runs in a temporary copy; the
test files are *not* in the workspace while an agent works (so no agent can
read or edit them, and none gets test feedback before the protocol allows),
and are copied back from the read-only source right before scoring, so whatever
an agent wrote at those paths is discarded.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from redline.bench.sandbox import Limits, RunOutcome, run_limited
from redline.errors import ConfigError

DATA_ENV = "REDLINE_POLYGLOT_DIR"
TEST_OUTPUT_CAP = 2500
FIRST_ASK = """{instructions}

Use the instructions above to complete the code in {files}.
Keep the names of existing functions and classes: unit tests call them.
Use only the Python standard library."""
SECOND_ASK = """The unit tests failed with this output:

{output}

The tests are correct and must not be changed. Fix the code in {files} so that they pass."""


@dataclass(frozen=True)
class Exercise:
    name: str
    source: Path
    solution: tuple[str, ...]
    tests: tuple[str, ...]

    def instructions(self) -> str:
        docs = self.source / ".docs"
        parts = [
            (docs / f).read_text(encoding="utf-8")
            for f in ("introduction.md", "instructions.md", "instructions.append.md")
            if (docs / f).is_file()
        ]
        return "\n\n".join(p.strip() for p in parts)

    def first_message(self) -> str:
        return FIRST_ASK.format(instructions=self.instructions(), files=", ".join(self.solution))

    def second_message(self, test_output: str) -> str:
        tail = test_output[-TEST_OUTPUT_CAP:]
        return SECOND_ASK.format(output=tail.strip(), files=", ".join(self.solution))


def default_root() -> Path:
    """``$REDLINE_POLYGLOT_DIR``, else ``../shared/benchmarks/polyglot-python`` near here."""
    env = os.environ.get(DATA_ENV)
    candidates = [Path(env)] if env else []
    here = Path.cwd().resolve()
    for base in (here, *here.parents):
        candidates.append(base / "shared" / "benchmarks" / "polyglot-python")
    for cand in candidates:
        if cand.is_dir():
            return cand
    raise ConfigError(
        "polyglot-python exercises not found",
        hint=f"set ${DATA_ENV} to the folder holding the exercises, or pass --data",
    )


def load_exercise(folder: Path) -> Exercise:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    files = config.get("files", {})
    return Exercise(
        folder.name,
        folder,
        tuple(files.get("solution") or [f"{folder.name.replace('-', '_')}.py"]),
        tuple(files.get("test") or [f"{folder.name.replace('-', '_')}_test.py"]),
    )


def list_exercises(root: Path, select: str | int | None = None) -> list[Exercise]:
    """All exercises in name order; ``select`` is a count (the first N) or comma-separated names."""
    all_ex = [load_exercise(p) for p in sorted(root.iterdir()) if (p / "config.json").is_file()]
    if select is None or select == "":
        return all_ex
    if isinstance(select, int) or str(select).isdigit():
        return all_ex[: int(select)]
    names = [s.strip() for s in str(select).split(",") if s.strip()]
    by_name = {e.name: e for e in all_ex}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise ConfigError(f"unknown exercises: {', '.join(missing)}")
    return [by_name[n] for n in names]


def _writable(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        mode = item.stat().st_mode
        item.chmod(mode | stat.S_IWUSR | (stat.S_IXUSR if item.is_dir() else 0))


def prepare(exercise: Exercise, parent: Path | None = None) -> Path:
    """A writable temporary copy of the exercise without its test files or hidden docs."""
    ws = Path(tempfile.mkdtemp(prefix=f"redline-{exercise.name}-", dir=parent))
    for item in exercise.source.iterdir():
        if item.name in exercise.tests or item.name.startswith("."):
            continue
        if item.name == "config.json":
            continue
        dest = ws / item.name
        if item.is_dir():
            shutil.copytree(item, dest)
        else:
            shutil.copy2(item, dest)
    _writable(ws)
    return ws


def hide_tests(exercise: Exercise, ws: Path) -> None:
    """Remove test files (and caches) before an agent works in ``ws``."""
    for name in exercise.tests:
        (ws / name).unlink(missing_ok=True)
    shutil.rmtree(ws / "__pycache__", ignore_errors=True)


def restore_tests(exercise: Exercise, ws: Path) -> None:
    """Put the pristine test files back, replacing anything an agent wrote there."""
    for name in exercise.tests:
        dest = ws / name
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        else:
            dest.unlink(missing_ok=True)
        shutil.copyfile(exercise.source / name, dest)


def run_tests(exercise: Exercise, ws: Path, timeout_s: float = 60.0) -> RunOutcome:
    """Restore the tests and run them with pytest in a limited child process.

    Plain pytest: the plugins installed beside redline (hypothesis, schemathesis,
    ...) are not loaded. The exercises need none, and importing them took 5-6 s
    of every 6 s test run here, a fixed cost on both agents' seconds per case.
    """
    restore_tests(exercise, ws)
    argv = [sys.executable, "-m", "pytest", "-q", "-x", "--no-header", "-p", "no:cacheprovider"]
    argv += ["-o", "addopts=", *exercise.tests]
    outcome = run_limited(
        argv,
        cwd=ws,
        limits=Limits(timeout_s=timeout_s, memory_mb=2048),
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    hide_tests(exercise, ws)
    return outcome
