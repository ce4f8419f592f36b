"""``bench humaneval --select N``: N answers sampled in one batch, one kept by checks.

Selection is only worth its time where the first (greedy) answer is in doubt:
by default it runs for a problem whose first answer fails a check the task
itself gives (a static error, or a docstring example it gets wrong), and with
``--select-all`` for every problem. Then N answers are sampled in ONE request
(``n``: the engine reads the prompt once and decodes the N continuations in
one batch), the greedy answer and the N samples are judged together
(:mod:`redline.bench.judge`: the examples filter, agreement on nearby inputs
ranks) and one is kept. The hidden tests only score: the kept answer for
pass@1, and every sample for pass@k (the unbiased estimator), which says how
much a perfect judge could get from the same samples.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from redline.bench.codegen import Attempt, CodeModel
from redline.bench.examples import docstring_examples
from redline.bench.judge import choose, judge, pass_at_k, probe_calls
from redline.bench.sandbox import RunOutcome

Scorer = Callable[[str, dict[str, Any]], RunOutcome]


@dataclass
class Selection:
    """How ``--select`` samples and when."""

    n: int = 8
    """Answers sampled together for a problem in doubt."""
    temperature: float = 0.8
    always: bool = False
    """Sample for every problem (``--select-all``), not only where the first answer fails."""
    length_cap: float = 1.5
    """Samples stop at this many times the first answer's tokens (64 at least). A batch
    runs until its longest row ends: one sample that runs on to the budget kept eight
    rows' worth of time for one useless answer (measured: 156 s for a problem whose
    first answer took 226 s under load, the longest sample far past the rest)."""

    def settings(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ks(self) -> list[int]:
        return [k for k in (1, 2, 4, 8, 16) if k <= self.n]


def select_mode(
    model: CodeModel,
    problem: dict[str, Any],
    first_run: tuple[Attempt, float, RunOutcome],
    sel: Selection,
    seed: int | None,
    score: Scorer,
) -> dict[str, Any]:
    """The select mode's record for one problem (the same fields as the other modes')."""
    first, first_check_s, first_outcome = first_run
    record: dict[str, Any] = {
        "passed": first_outcome.passed,
        "outcome": first_outcome.reason,
        "attempts": 1,
        "errors_first": len(first.errors),
        "errors_final": len(first.errors),
        "model_s": round(first.seconds, 3),
        "seconds": round(first.seconds + first_check_s, 3),
        "completion_tokens": first.completion_tokens,
        "prompt_tokens": first.prompt_tokens,
        "test_s": round(first_outcome.duration_s, 3),
        "sampled": False,
        "chosen": 0,
    }
    if not first.errors and not sel.always:
        return record
    prompt, entry = problem["prompt"], problem["entry_point"]
    examples = docstring_examples(prompt, entry)
    cap = max(64, int(sel.length_cap * first.completion_tokens)) if sel.length_cap else None
    samples, sample_s = model.sample(
        prompt, entry, sel.n, 1 + 1000 * (seed or 0), sel.temperature, cap
    )
    t0 = time.perf_counter()
    programs = [first.program] + [a.program for a in samples]
    verdicts = judge(programs, examples, probe_calls(examples, entry))
    chosen = choose(programs, verdicts, preferred=0)
    judge_s = time.perf_counter() - t0
    scored: dict[str, RunOutcome] = {first.program: first_outcome}
    for program in programs[1:]:  # scoring only: not part of the mode's time
        if program not in scored:
            scored[program] = score(program, problem)
    outcome = scored[programs[chosen]]
    best = max((v.loads, v.passed) for v in verdicts)
    record.update(
        passed=outcome.passed,
        outcome=outcome.reason,
        attempts=1 + sel.n,
        errors_final=0
        if verdicts[chosen].passed == len(examples) and verdicts[chosen].loads
        else 1,
        model_s=round(first.seconds + sample_s, 3),
        seconds=round(first.seconds + first_check_s + sample_s + judge_s, 3),
        completion_tokens=first.completion_tokens + sum(a.completion_tokens for a in samples),
        sampled=True,
        chosen=chosen,
        sample_s=round(sample_s, 3),
        judge_s=round(judge_s, 3),
        survivors=sum((v.loads, v.passed) == best for v in verdicts),
        examples=len(examples),
        samples_n=sel.n,
        samples_passed=sum(scored[p].passed for p in programs[1:]),
        answer=samples[chosen - 1].raw[:1500] if chosen else first.raw[:1500],
    )
    return record


def summarize_select(rows: list[dict[str, Any]], sel: Selection) -> dict[str, Any]:
    """pass@k over the problems that were sampled, and how often selection changed the answer."""
    recs = [r["select"] for r in rows if r["select"].get("sampled")]
    out: dict[str, Any] = {
        "sampled": len(recs),
        "changed": sum(r["chosen"] != 0 for r in recs),
        "fixed": sum(r["passed"] and r["chosen"] != 0 for r in recs),
    }
    if recs:
        out["pass_at_k"] = {
            str(k): round(
                sum(pass_at_k(r["samples_n"], r["samples_passed"], k) for r in recs) / len(recs), 4
            )
            for k in sel.ks
        }
    else:
        out["pass_at_k"] = {}
    return out
