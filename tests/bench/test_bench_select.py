"""``bench humaneval --select``: the judge (examples filter, agreement ranks) in the real
sandbox, pass@k, and the mode on the real engine's batched samples."""

from __future__ import annotations

import math

import pytest

from redline.bench import humaneval
from redline.bench.codegen import Attempt, CompletionModel
from redline.bench.examples import docstring_examples
from redline.bench.judge import Verdict, choose, judge, pass_at_k, probe_calls
from redline.bench.sandbox import Limits
from redline.bench.selection import Selection

PROBLEM = humaneval.load_problems(ids=["HumanEval/0"])[0]
PROMPT, ENTRY = PROBLEM["prompt"], PROBLEM["entry_point"]
EXAMPLES = docstring_examples(PROMPT, ENTRY)
RIGHT = PROMPT + (
    "    ordered = sorted(numbers)\n"
    "    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))\n"
)
# right too, written another way: it must land in the same group as RIGHT
RIGHT_TOO = PROMPT + (
    "    return any(abs(x - y) < threshold for i, x in enumerate(numbers)"
    " for y in numbers[i + 1:])\n"
)
# passes both docstring examples, wrong elsewhere (only neighbours in input order)
ADJACENT = PROMPT + (
    "    return any(abs(a - b) < threshold for a, b in zip(numbers, numbers[1:]))\n"
)
WRONG = PROMPT + "    return False\n"
BROKEN = PROMPT + "    return any(\n"
LOOPS = PROMPT + "    while True:\n        pass\n"


def test_probes_are_the_examples_arguments_changed_one_at_a_time() -> None:
    probes = probe_calls(EXAMPLES, ENTRY)
    assert all(p.startswith(f"{ENTRY}(") for p in probes)
    assert len(set(probes)) == len(probes) <= 16
    assert f"{ENTRY}([3.0, 2.0, 1.0], 0.5)" in probes  # the first example's list reversed
    assert probes[-len(EXAMPLES) :] == [e.call for e in EXAMPLES]


def test_the_judge_filters_by_examples_and_groups_by_outputs() -> None:
    programs = [WRONG, ADJACENT, RIGHT, BROKEN, RIGHT_TOO, LOOPS]
    verdicts = judge(programs, EXAMPLES, probe_calls(EXAMPLES, ENTRY))
    assert [v.passed for v in verdicts] == [1, 2, 2, 0, 2, 0]
    assert [v.loads for v in verdicts] == [True, True, True, False, True, True]
    assert verdicts[2].signature == verdicts[4].signature  # right answers agree
    assert verdicts[1].signature != verdicts[2].signature  # the look-alike does not
    assert any(s == "!_Slow" for s in verdicts[5].signature)  # a runaway is cut, not waited
    assert choose(programs, verdicts) in (2, 4)
    assert choose(programs, verdicts) == 4 or len(RIGHT) < len(RIGHT_TOO)


def test_choose_prefers_the_greedy_answer_on_a_tie_then_the_shortest() -> None:
    a, b = Verdict(2, True, ("1",)), Verdict(2, True, ("2",))
    assert choose(["xx", "y"], [a, b], preferred=0) == 0
    assert choose(["xx", "y"], [a, b], preferred=5) == 1
    assert choose(["xx", "y", "zzz"], [a, b, b], preferred=0) == 1  # the bigger group wins


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(8, 0, 1) == 0.0 and pass_at_k(8, 8, 4) == 1.0
    assert math.isclose(pass_at_k(8, 2, 1), 2 / 8)
    assert math.isclose(pass_at_k(8, 2, 4), 1 - math.comb(6, 4) / math.comb(8, 4))
    assert pass_at_k(8, 5, 4) == 1.0  # fewer than k failures: some k-subset always passes
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 4)


class FixedSamples:
    """A code model whose first answer is wrong and whose batch of samples is fixed."""

    name, mode = "fixed", "completion"

    def __init__(self, samples: list[str]) -> None:
        self.samples = samples
        self.asked: list[tuple[int, float]] = []
        self.caps: list[int | None] = []

    def first(self, prompt, entry_point, seed):
        return Attempt(WRONG, "wrong", 0.5, completion_tokens=4)

    def retry(self, prompt, entry_point, previous, seed):
        return Attempt(WRONG, "wrong", 0.5, completion_tokens=4)

    def sample(self, prompt, entry_point, n, seed, temperature, max_tokens=None):
        self.asked.append((n, temperature))
        self.caps.append(max_tokens)
        return [Attempt(p, p, 0.0, completion_tokens=3) for p in self.samples[:n]], 1.5


def test_select_mode_keeps_the_agreed_answer_and_counts_pass_at_k() -> None:
    model = FixedSamples([ADJACENT, RIGHT, WRONG, RIGHT_TOO])
    modes = humaneval.solve_problem(
        model, PROBLEM, retries=0, limits=Limits(timeout_s=5), select=Selection(n=4)
    )
    sel = modes["select"]
    assert model.asked == [(4, 0.8)] and model.caps == [64]  # 1.5 x 4 tokens, 64 at least
    assert modes["single"]["passed"] is False and sel["passed"] is True
    assert sel["sampled"] and sel["chosen"] in (2, 4) and sel["samples_passed"] == 2
    assert sel["seconds"] >= 0.5 + 1.5  # the first answer and the batch of samples
    rows = [{"task_id": "x", **modes}]
    summary = humaneval._modes(rows, Selection(n=4))["select"]
    assert summary["pass_at_1"] == 1.0 and summary["sampled"] == 1
    assert summary["pass_at_k"] == {"1": 0.5, "2": round(pass_at_k(4, 2, 2), 4), "4": 1.0}


def test_select_mode_leaves_a_first_answer_that_passes_its_examples() -> None:
    model = FixedSamples([RIGHT])
    model.first = lambda *a: Attempt(RIGHT, "right", 0.5)  # type: ignore[method-assign]
    modes = humaneval.solve_problem(model, PROBLEM, retries=0, select=Selection(n=1))
    assert model.asked == [] and modes["select"]["sampled"] is False
    assert modes["select"]["passed"] is True


def test_completion_model_samples_n_in_one_batch(gemma_engine) -> None:
    model = CompletionModel(gemma_engine, max_tokens=48)
    rows = gemma_engine.group.scheduler.rows if gemma_engine.group else 0
    samples, seconds = model.sample(PROMPT, ENTRY, 4, seed=3, temperature=0.8)
    assert len(samples) == 4 and seconds > 0
    assert len({s.raw for s in samples}) >= 2
    assert all(s.program.startswith(PROMPT) for s in samples)
    assert gemma_engine.group.scheduler.rows > rows  # decoded by the group's batches
