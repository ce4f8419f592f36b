"""Checks written in the task: quoted test failures and ``>>>`` examples, run for real."""

from __future__ import annotations

from pathlib import Path

from redline.agent.candidates.examples import module_names, run_examples, task_examples
from redline.agent.environment.sandbox import Sandbox

PYTEST_OUTPUT = """The unit tests failed with this output:

=================================== FAILURES ===================================
___________________ AffineCipherTest.test_decode_a_sentence ____________________

self = <affine_cipher_test.AffineCipherTest testMethod=test_decode_a_sentence>

    def test_decode_a_sentence(self):
>       self.assertEqual(
            decode("qdwju nqcro muwhn odqun oppmd aunwd o", 19, 16),
            "anobstacleisoftenasteppingstone",
        )
E       AssertionError: None != 'anobstacleisoftenasteppingstone'

affine_cipher_test.py:53: AssertionError
    def test_total(self):
>       assert order_total([(10.0, 2)], discount_percent=10) == 18.0
E       assert -180.0 == 18.0
>       self.assertRaises(ValueError)
"""


def test_quoted_failures_become_assertions():
    found = task_examples(PYTEST_OUTPUT)
    assert found == [
        "assert decode('qdwju nqcro muwhn odqun oppmd aunwd o', 19, 16) == "
        "'anobstacleisoftenasteppingstone'",
        "assert order_total([(10.0, 2)], discount_percent=10) == 18.0",
    ]  # assertRaises has no plain-assert form: left out, not guessed


RAISED_INSIDE = """
    def test_decode_a_sentence(self):
        self.assertEqual(
>           decode("qdwju nqcro muwhn odqun oppmd aunwd o", 19, 16),
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
            "anobstacleisoftenasteppingstone",
        )

affine_cipher_test.py:54:
"""


def test_a_failure_raised_inside_a_call_over_lines_is_read_from_its_start():
    # Python 3.11+: pytest marks the line that raised (the decode call), not the
    # assertEqual it is an argument of; the carets under it are not source
    assert task_examples(RAISED_INSIDE) == [
        "assert decode('qdwju nqcro muwhn odqun oppmd aunwd o', 19, 16) == "
        "'anobstacleisoftenasteppingstone'"
    ]


LOCALS = """
    def test_an_optional_qualifier_can_be_added(self):
        input_data = ["nail"]
        unused = 3
        self.assertEqual(
>           proverb(*input_data, qualifier="horseshoe"),
            ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
            ["And all for the want of a horseshoe nail."],
        )
E       TypeError: proverb() got multiple values for argument 'qualifier'
"""


def test_a_failure_that_reads_the_tests_own_variables_brings_their_assignments(tmp_path: Path):
    found = task_examples(LOCALS)
    assert found == [
        "input_data = ['nail']\nunused = 3\n"
        "assert proverb(*input_data, qualifier='horseshoe') == "
        "['And all for the want of a horseshoe nail.']"
    ]
    (tmp_path / "proverb.py").write_text(
        "def proverb(*items, qualifier=None):\n"
        "    return [f'And all for the want of a {qualifier} {items[0]}.']\n"
    )
    passed, failed, _ = run_examples(
        str(tmp_path), ["proverb"], found, Sandbox(tmp_path), timeout=30
    )
    assert (passed, failed) == (1, 0)  # a right answer can pass it
    built = LOCALS.replace("unused = 3", 'input_data.append("shoe")')
    assert task_examples(built) == []  # state made by calls: not rebuilt, not guessed


def test_doctest_examples_become_assertions():
    task = "Write double.\n\n>>> double(2)\n4\n>>> double('a')\n'aa'\n>>> print(1)\n\n"
    assert task_examples(task) == ["assert (double(2)) == (4)", "assert (double('a')) == ('aa')"]
    assert task_examples("make the failing test pass") == []


def test_examples_run_against_the_files_in_the_sandbox(tmp_path: Path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mathy.py").write_text("def double(x):\n    return x * 2\n")
    examples = ["assert (double(2)) == (4)", "assert (double(3)) == (7)"]
    modules = module_names(["pkg/mathy.py", "pkg/__init__.py", "README.md"])
    assert modules == ["pkg.mathy"]
    passed, failed, report = run_examples(
        str(tmp_path), modules, examples, Sandbox(tmp_path), timeout=30
    )
    assert (passed, failed) == (1, 1)
    assert "`assert (double(3)) == (7)` fails: AssertionError" in report
