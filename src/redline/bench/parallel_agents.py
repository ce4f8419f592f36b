"""``redline bench parallel``: N polyglot exercises by N sub-agents at once vs one by one.

One git repository holds N exercises, each in its own folder, tests hidden (as in
``redline bench agent``). The same N tasks (the exercise's first ask, its stub
attached with ``@folder/file``) are run twice on fresh copies, same model:

* **one after another**: one agent per task, in turn, on a one-sequence engine;
* **together**: ``redline exec --parallel N --task ... --task ...`` in-process
  (:class:`redline.agent.parallel.ParallelRun`: each sub-agent in its own git
  worktree, merged back one by one), the engine loaded with N sequences so
  their requests decode in one batch.

Then each exercise's tests are put back and run. Reported: wall time of each way,
the ratio, and which exercises pass in each. A single try per exercise (no
second try with the test output): this measures the parallel machinery, not the
agent protocol, which ``redline bench agent`` does.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from redline.agent.environment.checkpoints import Checkpoints
from redline.agent.loop import Agent
from redline.agent.subagents.parallel import ParallelRun
from redline.bench.polyglot import (
    FIRST_ASK,
    Exercise,
    default_root,
    hide_tests,
    list_exercises,
    prepare,
    run_tests,
)
from redline.bench.redline_runner import bench_config
from redline.bench.results import print_machine
from redline.engine.machine import machine_record
from redline.providers.local import LocalProvider


def task_for(exercise: Exercise) -> str:
    """The exercise's first ask, its stub named from the repository root (attached)."""
    files = ", ".join(f"@{exercise.name}/{name}" for name in exercise.solution)
    return FIRST_ASK.format(instructions=exercise.instructions(), files=files)


def _repo(exercises: list[Exercise], base: Path) -> Path:
    """A fresh git repository with each exercise (tests hidden) in its own folder."""
    repo = Path(tempfile.mkdtemp(prefix="redline-bench-parallel-", dir=base))
    for ex in exercises:
        copy = prepare(ex)
        hide_tests(ex, copy)
        shutil.copytree(copy, repo / ex.name)
        shutil.rmtree(copy, ignore_errors=True)
    git = ["git", "-C", str(repo), "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "exercises"], check=True)
    return repo


def _score(exercises: list[Exercise], repo: Path) -> dict[str, bool]:
    return {ex.name: run_tests(ex, repo / ex.name).passed for ex in exercises}


def _one_by_one(provider: LocalProvider, exercises: list[Exercise], repo: Path) -> float:
    started = time.perf_counter()
    for ex in exercises:
        agent = Agent(
            provider,
            repo,
            config=bench_config(),
            approval="full-auto",
            session_id=f"bench-seq-{ex.name}",
            checkpoints=Checkpoints(repo, base=repo.parent / f"{repo.name}-ckpt"),
        )
        agent.run(task_for(ex))
    return time.perf_counter() - started


def _together(provider: LocalProvider, exercises: list[Exercise], repo: Path) -> dict[str, Any]:
    run = ParallelRun(
        provider,
        repo,
        parallel=len(exercises),
        config=bench_config(),
        approval="full-auto",
        session_id="bench-parallel",
        checkpoints=Checkpoints(repo, base=repo.parent / f"{repo.name}-ckpt"),
    )
    started = time.perf_counter()
    result = run.run("the exercises", [task_for(ex) for ex in exercises])
    return {"seconds": time.perf_counter() - started, "result": result}


def run_parallel_bench(
    model: str = "qwen2.5-coder-0.5b",
    quick: bool = False,
    *,
    exercises: str | int = 4,
    data: Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    console = console or Console()
    chosen = list_exercises(data or default_root(), exercises)
    n = len(chosen)
    base = Path(tempfile.mkdtemp(prefix="redline-bench-parallel-runs-"))
    try:
        alone = LocalProvider(model)
        seq_repo = _repo(chosen, base)
        seq_s = _one_by_one(alone, chosen, seq_repo)
        seq_pass = _score(chosen, seq_repo)
        alone.engine().close()
        together = LocalProvider(model, parallel=n)
        par_repo = _repo(chosen, base)
        par = _together(together, chosen, par_repo)
        par_pass = _score(chosen, par_repo)
        merged = sum(1 for sub in par["result"].subs if sub.merge == "merged")
        together.engine().close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result: dict[str, Any] = {
        "model": model,
        "machine": machine_record(),
        "exercises": [ex.name for ex in chosen],
        "one_by_one": {"seconds": round(seq_s, 1), "passed": seq_pass},
        "together": {"seconds": round(par["seconds"], 1), "passed": par_pass, "merged": merged},
        "wall_ratio": round(par["seconds"] / seq_s, 2) if seq_s else 0.0,
        "same_passed": seq_pass == par_pass,
    }
    title = f"bench parallel: {n} polyglot exercises ({model}, one try each)"
    t = Table(title=title)
    for col in ("way", "wall s", "passed", *(ex.name for ex in chosen)):
        t.add_column(col)
    for label, key in (("one after another", "one_by_one"), (f"--parallel {n}", "together")):
        row = result[key]
        marks = ["pass" if row["passed"][ex.name] else "fail" for ex in chosen]
        t.add_row(label, f"{row['seconds']:.1f}", str(sum(row["passed"].values())), *marks)
    print_machine(console, result["machine"])
    console.print(t)
    console.print(
        f"wall time together / one after another: {result['wall_ratio']}x; "
        f"{merged} of {n} sub-agents' changes merged; same exercises pass: {result['same_passed']}"
    )
    return result
