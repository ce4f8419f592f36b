"""The HumanEval harness: scoring in a sandbox, the error-detection loop, the result schema."""

from __future__ import annotations

import json
import sys
import time

import pytest
from bench_helpers import MACHINE_SCHEMA, check_schema

from redline.bench import humaneval
from redline.bench.codegen import Attempt, ChatModel, assemble, extract_code
from redline.bench.sandbox import Limits, run_limited

PROBLEM = humaneval.load_problems(ids=["HumanEval/0"])[0]

# Written for this test: a correct body for has_close_elements.
CORRECT_BODY = """    ordered = sorted(numbers)
    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))
"""
WRONG_BODY = "    return False\n"
LOOP_BODY = "    while True:\n        pass\n"
ALLOC_BODY = "    hog = []\n    while True:\n        hog.append(bytearray(50_000_000))\n"
FAST = Limits(timeout_s=3.0, memory_mb=256)


def test_known_correct_solution_passes():
    outcome = humaneval.score(PROBLEM["prompt"] + CORRECT_BODY, PROBLEM, FAST)
    assert outcome.passed, outcome.output


def test_known_wrong_solution_fails():
    outcome = humaneval.score(PROBLEM["prompt"] + WRONG_BODY, PROBLEM, FAST)
    assert not outcome.passed
    assert outcome.reason == "failed"
    assert "AssertionError" in outcome.output


def test_infinite_loop_is_killed_and_the_run_goes_on():
    start = time.perf_counter()
    outcome = humaneval.score(PROBLEM["prompt"] + LOOP_BODY, PROBLEM, Limits(timeout_s=1.5))
    assert outcome.timed_out and not outcome.passed and outcome.reason == "timeout"
    assert time.perf_counter() - start < 30  # killed, not waited out (generous bound)
    after = humaneval.score(PROBLEM["prompt"] + CORRECT_BODY, PROBLEM, FAST)
    assert after.passed


def test_unbounded_allocation_is_stopped_and_scored_as_failure():
    outcome = humaneval.score(PROBLEM["prompt"] + ALLOC_BODY, PROBLEM, FAST)
    assert not outcome.passed
    assert "MemoryError" in outcome.output or outcome.reason in ("killed", "timeout")
    assert humaneval.score(PROBLEM["prompt"] + CORRECT_BODY, PROBLEM, FAST).passed


def test_child_processes_are_killed_with_the_group(tmp_path):
    marker = tmp_path / "late.txt"
    (tmp_path / "child.py").write_text(
        f"import time\ntime.sleep(3)\nopen({str(marker)!r}, 'w').write('x')\n"
    )
    (tmp_path / "parent.py").write_text(
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, 'child.py'])\n"
        "while True:\n    pass\n"
    )
    outcome = run_limited([sys.executable, "parent.py"], cwd=tmp_path, limits=Limits(timeout_s=1.0))
    assert outcome.timed_out
    time.sleep(3.5)
    assert not marker.exists()


def test_assemble_keeps_prompt_helpers_and_prefers_the_models_function():
    whole = "def has_close_elements(numbers, threshold):\n    return True\n"
    program = assemble(PROBLEM["prompt"], whole, "has_close_elements")
    assert program.startswith(PROBLEM["prompt"]) and program.rstrip().endswith("return True")
    assert assemble(PROBLEM["prompt"], CORRECT_BODY, "has_close_elements").endswith(CORRECT_BODY)
    assert extract_code("Sure:\n```python\nx = 1\n```\nDone") == "x = 1\n"


class StubCodeModel:
    """A code model with fixed answers: the first has an undefined name, the retry is fixed."""

    name = "stub"
    mode = "completion"

    def __init__(self, first: str, second: str) -> None:
        self.answers = [first, second]
        self.seen: list[str] = []

    def _attempt(self, prompt: str, body: str) -> Attempt:
        return Attempt(prompt + body, body, 0.01, completion_tokens=len(body) // 4)

    def first(self, prompt, entry_point, seed):
        self.seen.append(prompt)
        return self._attempt(prompt, self.answers[0])

    def retry(self, prompt, entry_point, previous, seed):
        self.seen.append("\n".join(previous.errors))
        return self._attempt(prompt, self.answers[1])


def test_error_loop_fixes_an_undefined_name_without_showing_the_tests():
    broken = "    ordered = sorted(numbrs)\n" + CORRECT_BODY.split("\n", 1)[1]
    model = StubCodeModel(broken, CORRECT_BODY)
    both = humaneval.solve_problem(model, PROBLEM, retries=2, limits=FAST)
    assert both["single"]["passed"] is False and both["single"]["errors_first"] >= 1
    assert both["loop"]["passed"] is True and both["loop"]["attempts"] == 2
    assert any("numbrs" in s for s in model.seen)
    assert not any("def check(candidate)" in s for s in model.seen)


def test_a_failing_docstring_example_is_fed_back_not_the_hidden_tests():
    model = StubCodeModel(WRONG_BODY, CORRECT_BODY)
    both = humaneval.solve_problem(model, PROBLEM, retries=2, limits=FAST)
    assert both["single"]["passed"] is False
    assert both["loop"]["attempts"] == 2 and both["loop"]["passed"] is True
    shown = model.seen[1]
    assert "example fails" in shown and "has_close_elements([1.0, 2.8, 3.0" in shown
    assert "expected True" in shown
    assert not any("def check(candidate)" in s for s in model.seen)


def test_error_loop_is_skipped_for_a_clean_first_answer():
    model = StubCodeModel(CORRECT_BODY, WRONG_BODY)
    both = humaneval.solve_problem(model, PROBLEM, retries=2, limits=FAST)
    assert both["loop"]["attempts"] == 1 and both["loop"]["passed"] is True


def test_docstring_examples_in_both_styles():
    from redline.bench.examples import docstring_examples

    doctests = docstring_examples(PROBLEM["prompt"], "has_close_elements")
    assert [e.want for e in doctests] == ["False", "True"]
    prose = 'def f(x):\n    """Double it.\n    f(2) ➞ 4\n    f(0) == 0\n    """\n'
    assert [(e.call, e.want) for e in docstring_examples(prose, "f")] == [
        ("f(2)", "4"),
        ("f(0)", "0"),
    ]


HUMANEVAL_SCHEMA = {
    "benchmark": str,
    "model": str,
    "generation": str,
    "problems": int,
    "machine": MACHINE_SCHEMA,
    "modes": {
        "single": {"pass_at_1": float, "passed": int, "n": int, "mean_seconds": float},
        "loop": {"pass_at_1": float, "passed": int, "n": int, "mean_seconds": float},
    },
    "per_problem": [{"task_id": str, "single": {"passed": bool}, "loop": {"passed": bool}}],
}


def test_result_schema(monkeypatch):
    model = StubCodeModel(WRONG_BODY, CORRECT_BODY)
    monkeypatch.setattr(humaneval, "make_code_model", lambda m, p=None: model)
    result = humaneval.run_humaneval("stub", ids=["HumanEval/0"])
    check_schema(json.loads(json.dumps(result)), HUMANEVAL_SCHEMA)
    assert result["modes"]["single"]["n"] == 1


def test_chat_model_on_the_real_small_model(smollm2_engine):
    from redline.providers.local import LocalProvider

    model = ChatModel(LocalProvider("smollm2-135m", engine=smollm2_engine), max_tokens=48)
    both = humaneval.solve_problem(model, PROBLEM, retries=1, limits=FAST)
    for mode in ("single", "loop"):
        assert both[mode]["completion_tokens"] > 0
        assert isinstance(both[mode]["passed"], bool)


@pytest.mark.parametrize("missing", ["modes", "per_problem"])
def test_schema_checker_can_fail(missing):
    result = {"benchmark": "x", "modes": {}, "per_problem": []}
    result.pop(missing)
    with pytest.raises(AssertionError):
        check_schema(result, {"benchmark": str, "modes": dict, "per_problem": list})


def test_chat_retry_is_a_fresh_sampled_ask_with_the_finding():
    """A retry does not show the wrong answer back (a small model repeats it): it asks
    again from scratch, sampled, the first time with the failing example as a hint;
    the loop keeps the retry that passes the docstring's examples."""
    from redline.providers.scripted import ScriptedProvider

    fence = "```python\n{}```"
    wrong = fence.format(PROBLEM["prompt"] + WRONG_BODY)
    right = fence.format(PROBLEM["prompt"] + CORRECT_BODY)
    provider = ScriptedProvider([wrong, wrong, right])
    model = ChatModel(provider)
    both = humaneval.solve_problem(model, PROBLEM, retries=3, limits=FAST)
    assert both["single"]["passed"] is False
    assert both["loop"]["passed"] is True and both["loop"]["attempts"] == 3
    first, *retries = provider.requests
    assert first.temperature == 0.0
    for request in retries:
        assert len(request.messages) == 1 and request.temperature > 0
        assert WRONG_BODY.strip() not in request.messages[0]["content"]
    hinted, plain = (r.messages[0]["content"] for r in retries)
    assert "0.3) returned False; expected True" in hinted and "returned" not in plain
    assert len({r.seed for r in retries}) == 2


def test_a_docstring_doctest_cannot_parse_still_gives_its_examples():
    """HumanEval/51's docstring has uneven indentation inside an example: doctest
    refuses it, and that once failed the whole problem in both modes."""
    from redline.bench.examples import docstring_examples

    problem = humaneval.load_problems(ids=["HumanEval/51"])[0]
    found = docstring_examples(problem["prompt"], problem["entry_point"])
    assert found and all("remove_vowels(" in e.call for e in found)
