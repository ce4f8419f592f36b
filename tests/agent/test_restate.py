"""A rename's or a deletion's rule said once more, and the likeliest reply to a
task that states its change plainly (the prediction a rewrite sends)."""

from __future__ import annotations

import ast

from redline.agent.editing.edits import plan_rewrite
from redline.agent.editing.restate import likely, restate

CODE = """import os
import stat


class Box:
    def _v(self, x):
        return x + 1

    @property
    def isatty(self):
        return False

    def total(self, _value):
        return self._v(_value) * 2


def run(blocking=True):
    limit = 6
    depth = 6
    return limit
"""


def test_a_rename_and_a_deletion_are_restated_and_nothing_else() -> None:
    assert restate("rename the helper function _v to _hue everywhere", CODE) == (
        "Replace every `_v` with `_hue`: the definition and every use."
    )
    assert restate("Rename `total` to `sum_all`.", CODE).startswith("Replace every `total`")
    assert restate("delete the isatty method", CODE) == "Leave out the isatty method."
    assert restate("remove the import of stat", CODE) == "Leave out the import of stat."
    # "class" is no name of the text: not a rename of `class`
    assert restate("rename the class to Crate", CODE) == ""
    assert restate("delete the isatty and total methods", CODE) == ""
    assert restate("add a parameter max_events=None to run", CODE) == ""


def test_a_rename_is_made_on_whole_words_only() -> None:
    new = likely("rename _v to _hue everywhere", CODE)
    assert "def _hue(self, x):" in new and "self._hue(_value)" in new
    assert "_value" in new and "_v(" not in new  # `_value` is another word


def test_a_deletion_leaves_out_the_unit_with_its_decorator_and_blank_lines() -> None:
    new = likely("delete the isatty method", CODE)
    assert "isatty" not in new and "@property" not in new
    assert new == CODE.replace("    @property\n    def isatty(self):\n        return False\n\n", "")
    assert likely("delete the frobnicate method", CODE) == CODE  # no such unit
    ast.parse(new)


def test_a_changed_value_changes_only_on_the_named_lines() -> None:
    new = likely("change the default limit from 6 to 8", CODE)
    assert "limit = 8" in new and "depth = 6" in new
    assert likely("change the default width from 6 to 8", CODE) == CODE


def test_a_line_added_after_a_line_and_a_docstring_added_to_a_function() -> None:
    new = likely("add import sys after import stat", CODE)
    assert new.startswith("import os\nimport stat\nimport sys\n\n")
    assert likely("add import sys after import nothing", CODE) == CODE
    doc = likely('add the docstring """Add one.""" to _v', CODE)
    assert '    def _v(self, x):\n        """Add one."""\n        return x + 1\n' in doc
    assert likely('add the docstring """Again.""" to _v', doc) == doc  # has one already
    ast.parse(doc)


def test_a_rewrite_sends_the_likely_reply_and_the_restated_rule() -> None:
    plan = plan_rewrite("rename _v to _hue everywhere", CODE, path="box.py")
    assert plan.prediction == f"```python\n{CODE.replace('_v(', '_hue(')}```"
    assert plan.messages[-1]["content"].endswith(
        "Replace every `_v` with `_hue`: the definition and every use."
    )
    plain = plan_rewrite("make run faster", CODE, path="box.py")
    assert plain.prediction == f"```python\n{CODE}```"
    assert plain.messages[-1]["content"].endswith("Keep every other line exactly as it is.")
