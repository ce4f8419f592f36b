"""Edit formats: replies parsed into new file texts, all or nothing."""

from __future__ import annotations

import pytest

from redline.agent.editing.formats import merge_snippet
from redline.agent.model_settings import settings_for
from redline.agent.protocols.diff import DiffFormat
from redline.agent.protocols.whole import WholeFormat
from redline.errors import ConfigError, EditError

OLD = "def add(a, b):\n    return a - b\n"
FILES = {"calc/ops.py": OLD}


def test_whole_listing_with_path_line():
    reply = "Fixed the sign.\n\ncalc/ops.py\n```python\ndef add(a, b):\n    return a + b\n```\n"
    parsed = WholeFormat().parse(reply, FILES)
    assert parsed.files == {"calc/ops.py": "def add(a, b):\n    return a + b\n"}
    assert parsed.prose == "Fixed the sign."


def test_whole_matches_base_name_and_bare_fence_for_one_file():
    fmt = WholeFormat()
    by_base = fmt.parse("ops.py\n```\nX = 1\n```", FILES)
    assert by_base.files == {"calc/ops.py": "X = 1\n"}
    bare = fmt.parse("Here you go:\n```python\nX = 2\n```", FILES)
    assert bare.files == {"calc/ops.py": "X = 2\n"}


def test_whole_answer_without_listing_is_prose_only():
    parsed = WholeFormat().parse("It adds two numbers (with a bug).", FILES)
    assert parsed.files == {}
    assert parsed.prose.startswith("It adds")


def test_whole_prediction_is_the_expected_listing():
    pred = WholeFormat().prediction(FILES)
    assert pred == "calc/ops.py\n```python\ndef add(a, b):\n    return a - b\n```\n"
    # the model's reply in the same shape parses back to the same text
    assert WholeFormat().parse(pred, FILES).files == FILES


def test_whole_refuses_paths_that_climb_out():
    parsed = WholeFormat().parse("../evil.py\n```\nx\n```\n/etc/x.py\n```\ny\n```", {})
    assert parsed.files == {}


def test_diff_blocks_apply_in_order():
    reply = (
        "calc/ops.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n"
        "    return a + b\n>>>>>>> REPLACE\n```\n"
    )
    parsed = DiffFormat().parse(reply, FILES)
    assert parsed.files == {"calc/ops.py": "def add(a, b):\n    return a + b\n"}


def test_diff_with_a_missing_search_applies_nothing():
    reply = (
        "calc/ops.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
        "    return a + b\n>>>>>>> REPLACE\n"
        "calc/ops.py\n<<<<<<< SEARCH\n    nothing like this\n=======\n    x\n>>>>>>> REPLACE\n"
    )
    with pytest.raises(EditError, match="not found"):
        DiffFormat().parse(reply, FILES)


def test_diff_new_file_with_empty_search():
    reply = "pkg/new.py\n<<<<<<< SEARCH\n=======\nVALUE = 3\n>>>>>>> REPLACE\n"
    parsed = DiffFormat().parse(reply, FILES)
    assert parsed.files == {"pkg/new.py": "VALUE = 3\n"}


def test_model_settings_pick_formats_by_name():
    assert settings_for("qwen2.5-coder-0.5b", local=True).edit_format == "whole"
    assert settings_for("qwen2.5-coder:7b", local=False).edit_format == "diff"
    assert settings_for("gpt-4.1", local=False).edit_format == "tools"
    assert settings_for("/models/mystery.gguf", local=True).edit_format == "whole"
    assert settings_for("gpt-4.1", local=False, override="diff").edit_format == "diff"
    with pytest.raises(ConfigError):
        settings_for("x", local=False, override="udiff")


def test_a_snippet_replaces_only_its_function():
    old = "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n"
    reply = "Change b:\n```python\n    def b():\n        return 3\n```"
    parsed = WholeFormat().parse(reply, {"m.py": old})
    assert (
        parsed.files["m.py"]
        == "import os\n\n\ndef a():\n    return 1\n\n\ndef b():\n    return 3\n"
    )


def test_a_snippet_with_a_new_function_and_import_is_added():
    old = "def a():\n    return 1\n"
    snippet = "import math\n\ndef a():\n    return math.pi\n\ndef c():\n    return 0\n"
    merged = merge_snippet(old + "\n\ndef keep():\n    pass\n", snippet)
    assert merged is not None
    assert merged.startswith("import math\n") and "return math.pi" in merged
    assert "def keep():" in merged and merged.rstrip().endswith("return 0")
