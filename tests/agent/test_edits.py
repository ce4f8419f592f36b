"""Search/replace application and the predicted-output rewrite path."""

from __future__ import annotations

import pytest

from redline.agent.editing.edits import (
    Block,
    apply_blocks,
    looping_text,
    parse_blocks,
    rewrite,
    rewrite_budget,
    rewrite_with_prediction,
    strip_fence,
)
from redline.errors import EditError
from redline.providers.scripted import ScriptedProvider

SOURCE = """def area(w, h):
    return w * h


def perimeter(w, h):
    return 2 * (w + h)
"""


def test_exact_match_replaces_once() -> None:
    out = apply_blocks(SOURCE, [Block("return w * h", "return float(w * h)")])
    assert "return float(w * h)" in out
    assert out.count("\n") == SOURCE.count("\n")


def test_whitespace_tolerant_match_keeps_file_indentation() -> None:
    block = Block(
        "def perimeter(w,  h):\n  return 2 * (w + h)", "def perimeter(w, h):\n  return 2*w + 2*h"
    )
    out = apply_blocks(SOURCE, [block])
    assert out.endswith("def perimeter(w, h):\n    return 2*w + 2*h\n")
    assert out.startswith("def area(w, h):\n    return w * h\n")


def test_all_or_nothing_and_closest_lines_in_error() -> None:
    blocks = [Block("return w * h", "return 0"), Block("return 3 * (w + h)", "x")]
    with pytest.raises(EditError) as err:
        apply_blocks(SOURCE, blocks, "geo.py")
    message = err.value.message
    assert "geo.py: edit #2 of 2" in message
    assert "closest lines" in message and "return 2 * (w + h)" in message
    assert "    6|" in message


def test_ambiguous_search_is_refused() -> None:
    with pytest.raises(EditError, match="occurs 2 times"):
        apply_blocks("a = 1\na = 1\n", [Block("a = 1", "a = 2")])


def test_parse_blocks_rejects_bad_shapes() -> None:
    for bad in ([], [{"replace": "x"}], [{"search": "", "replace": "x"}], "text"):
        with pytest.raises(EditError):
            parse_blocks(bad)
    assert parse_blocks([{"search": "a", "replace": "b"}]) == [Block("a", "b")]


def test_strip_fence() -> None:
    assert strip_fence("```python\nx = 1\n```") == "x = 1\n"
    assert strip_fence("x = 1\n") == "x = 1\n"


def test_rewrite_sends_old_text_as_prediction() -> None:
    new = SOURCE.replace("w * h", "w * h * 1.0")
    provider = ScriptedProvider([f"```python\n{new}```"])
    assert rewrite_with_prediction(provider, "return floats", SOURCE) == new
    request = provider.requests[0]
    assert request.prediction == f"```\n{SOURCE}```"  # the likeliest reply: the old text
    listing = request.messages[-1]["content"]
    assert listing.index(SOURCE) < listing.index("return floats")  # the instruction last
    assert request.tools is None and request.response_format is None
    assert "return floats" in request.messages[-1]["content"]


def test_rewrite_reports_speculation_and_cutoff() -> None:
    provider = ScriptedProvider([SOURCE, {"text": "def area(", "finish_reason": "length"}])
    result = rewrite(provider, "same", SOURCE)
    assert result.timings is not None and result.timings.accepted_tokens > 0
    with pytest.raises(EditError, match="cut off"):
        rewrite_with_prediction(provider, "same", SOURCE)


def test_rewrite_budget_scales_with_the_file(tmp_path) -> None:
    """A rewrite may take one reply's budget, or twice the old file, whichever is more."""
    from redline.agent.environment import Environment
    from redline.agent.environment.checkpoints import Checkpoints
    from redline.agent.protocols.toolbox import ToolBox

    assert rewrite_budget("", 1024) == 1024
    big = "x = 1\n" * 3000  # 18,000 characters, ~6,000 tokens
    assert rewrite_budget(big, 1024) == 2 * (len(big) // 3) + 256
    (tmp_path / "geo.py").write_text(SOURCE)
    provider = ScriptedProvider([SOURCE.replace("w * h", "h * w")])
    box = ToolBox(
        Environment(
            tmp_path,
            approval="full-auto",
            checkpoints=Checkpoints(tmp_path, base=tmp_path.parent / f"{tmp_path.name}-cp"),
        ),
        "t/1",
        provider=provider,
        reply_tokens=700,
    )
    assert box.call("write", {"path": "geo.py", "instruction": "swap"}).ok
    assert provider.requests[0].max_tokens == 700
    assert "h * w" in (tmp_path / "geo.py").read_text()


def test_looping_text() -> None:
    assert looping_text("x = [" + "react.js" * 100)
    assert looping_text("def f():\n" + "    pass\n" * 80)
    assert not looping_text(SOURCE * 3)  # a period longer than 128 characters
    assert not looping_text("\n".join(f"line {i}" for i in range(200)))


def test_a_looping_rewrite_is_stopped_and_nothing_is_written(tmp_path) -> None:
    from redline.agent.environment import Environment
    from redline.agent.environment.checkpoints import Checkpoints
    from redline.agent.protocols.toolbox import ToolBox

    runaway = "def area(w, h):\n" + "    return w * h\n" * 400
    provider = ScriptedProvider([runaway])
    result = rewrite(provider, "same", SOURCE)
    assert result.finish_reason == "loop" and len(result.text) < len(runaway)
    (tmp_path / "geo.py").write_text(SOURCE)
    box = ToolBox(
        Environment(
            tmp_path,
            approval="full-auto",
            checkpoints=Checkpoints(tmp_path, base=tmp_path.parent / f"{tmp_path.name}-cp"),
        ),
        "t/1",
        provider=ScriptedProvider([runaway]),
    )
    outcome = box.call("write", {"path": "geo.py", "instruction": "same"})
    assert not outcome.ok and "repeating" in outcome.output
    assert (tmp_path / "geo.py").read_text() == SOURCE
