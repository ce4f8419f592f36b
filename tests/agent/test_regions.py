"""The part of a file a rewrite asks for: found from the task's words, spliced back."""

from __future__ import annotations

import ast
from importlib import resources

from redline.agent.editing.edits import rewrite
from redline.agent.editing.regions import find_region
from redline.providers.scripted import ScriptedProvider


def source(name: str) -> str:
    return (resources.files("redline.bench") / "data" / "edit" / name).read_text()


def lines(text: str, region) -> list[str]:
    return text.splitlines()[region.start - 1 : region.end]


def test_a_named_function_alone_unless_the_task_deletes_or_places_code() -> None:
    """A change inside a function needs only the function; a deletion or an
    insertion after it gets its neighbour (what the reply keeps, where new code goes)."""
    text = source("fnmatch.py")
    region = find_region(text, "add a docstring to _compile_pattern")
    assert region is not None and region.indent == ""
    part = lines(text, region)
    assert part[0].startswith("@functools.lru_cache") and part[1].startswith("def _compile_pattern")
    assert not any(ln.startswith("def ") for ln in part[2:])
    chunk = source("chunk.py")
    deleted = find_region(chunk, "delete the isatty method")
    assert deleted is not None
    assert [ln.strip() for ln in lines(chunk, deleted) if ln.strip().startswith("def ")] == [
        "def isatty(self):",
        "def seek(self, pos, whence=0):",
    ]
    placed = find_region(source("bisect.py"), "add a function contains(a, x) after insort_left")
    assert placed is not None
    assert "def bisect_left" in "\n".join(lines(source("bisect.py"), placed))


def test_an_import_names_its_block_of_imports() -> None:
    text = source("genericpath.py")
    region = find_region(text, "add import sys after import stat")
    assert region is not None
    assert lines(text, region) == ["import os", "import stat"]
    # `re` is two letters and `add` the verb (fnmatch.translate has a local `add`)
    text = source("fnmatch.py")
    region = find_region(text, "add import sys after import re")
    assert region is not None
    assert lines(text, region) == ["import os", "import posixpath", "import re", "import functools"]


def test_a_rename_takes_every_use_and_a_method_is_dedented() -> None:
    text = source("colorsys.py")
    region = find_region(text, "rename the helper function _v to _hue_to_value everywhere")
    assert region is not None
    part = "\n".join(lines(text, region))
    assert "def _v(" in part and part.count("_v(") == 4  # the definition and its three calls
    sched = source("sched.py")
    method = find_region(sched, "add a parameter max_events=None to the run method")
    assert method is not None and method.indent == "    "
    assert method.part(sched).startswith("def run(")


def test_an_attribute_is_found_where_it_is_first_assigned() -> None:
    text = source("reprlib.py")
    region = find_region(text, "change the default maxlevel from 6 to 8")
    assert region is not None
    assert "self.maxlevel = 6" in "\n".join(lines(text, region))


def test_whole_file_when_nothing_is_named_the_part_is_big_or_the_file_short() -> None:
    assert find_region(source("chunk.py"), "make it faster") is None
    assert find_region(source("linecache.py"), "rename module_globals to g everywhere") is None
    assert find_region("def f():\n    return 1\n", "change f") is None
    assert find_region("def f(:\n" * 80, "change f") is None


def test_splice_replaces_the_part_and_reindents() -> None:
    sched = source("sched.py")
    region = find_region(sched, "add a parameter max_events=None to the run method")
    assert region is not None
    reply = region.part(sched).replace(
        "def run(self, blocking=True):", "def run(self, blocking=True, max_events=None):"
    )
    new = region.splice(sched, reply)
    assert "    def run(self, blocking=True, max_events=None):" in new
    assert len(new.splitlines()) == len(sched.splitlines())
    ast.parse(new)


def test_a_reply_with_only_new_code_is_inserted_after_the_named_unit() -> None:
    text = source("bisect.py")
    region = find_region(text, "add a function contains(a, x) after insort_left")
    assert region is not None
    reply = "def contains(a, x):\n    return x in a\n"
    new = region.splice(text, reply)
    assert new.index("def insort_left") < new.index("def contains") < new.index("def bisect_left")
    assert all(line in new.splitlines() for line in text.splitlines())  # nothing lost
    ast.parse(new)


def test_rewrite_asks_for_the_part_and_returns_the_whole_file() -> None:
    text = source("reprlib.py")
    region = find_region(text, "change the default maxlevel from 6 to 8")
    assert region is not None
    reply = region.part(text).replace("self.maxlevel = 6", "self.maxlevel = 8")
    provider = ScriptedProvider([f"```python\n{reply}```"])
    result = rewrite(provider, "change the default maxlevel from 6 to 8", text, path="reprlib.py")
    assert result.text == text.replace("self.maxlevel = 6", "self.maxlevel = 8")
    request = provider.requests[0]
    # the likeliest reply: the part with the stated change made (restate.likely)
    assert request.prediction == f"```python\n{reply}```"
    assert f"lines {region.start}-{region.end}" in request.messages[-1]["content"]
    assert len(request.messages[-1]["content"]) < len(text) / 2


def test_a_part_that_breaks_the_syntax_is_asked_for_again_whole() -> None:
    text = source("reprlib.py")
    fixed = text.replace("self.maxlevel = 6", "self.maxlevel = 8")
    provider = ScriptedProvider(["```python\ndef __init__(self:\n```", f"```python\n{fixed}```"])
    result = rewrite(provider, "change the default maxlevel from 6 to 8", text, path="reprlib.py")
    assert result.text == fixed
    assert len(provider.requests) == 2
    assert provider.requests[1].prediction == f"```python\n{fixed}```"  # the likely reply


def test_a_renamed_function_alone_replaces_the_part() -> None:
    """A reply that renames the only definition of its part keeps the body's lines:
    it is the part rewritten, not new code to insert."""
    text = (
        "\n".join(f"X{i} = {i}" for i in range(70))
        + "\n\ndef _v(a):\n    b = a + 1\n    return b * 2\n"
    )
    region = find_region(text, "rename _v to value everywhere")
    assert region is not None and "_v" in region.names
    reply = region.part(text).replace("def _v(", "def value(")
    new = region.splice(text, reply)
    assert "def value(a):" in new and "def _v(" not in new


def test_only_a_python_path_is_cut_into_parts() -> None:
    from redline.agent.editing.edits import plan_rewrite

    text = source("reprlib.py")
    task = "change the default maxlevel from 6 to 8"
    assert plan_rewrite(task, text, path="reprlib.py").region is not None
    assert plan_rewrite(task, text, path="notes.txt").region is None
    assert plan_rewrite(task, text).region is None  # no path: prose can parse as Python
    assert plan_rewrite(task, text, path="reprlib.py", whole=True).region is None


def test_an_interrupted_part_is_not_spliced_and_nothing_is_written(tmp_path) -> None:
    """A cancelled reply is cut short: splicing it would write half a function."""
    from redline.agent.environment import Environment
    from redline.agent.environment.checkpoints import Checkpoints
    from redline.agent.protocols.toolbox import ToolBox

    text = source("reprlib.py")
    task = "change the default maxlevel from 6 to 8"
    cut = {
        "text": "```python\ndef __init__(self):\n    self.fillvalue",
        "finish_reason": "cancelled",
    }
    result = rewrite(ScriptedProvider([cut]), task, text, path="reprlib.py")
    assert result.finish_reason == "cancelled" and "self.maxlevel" not in result.text
    (tmp_path / "reprlib.py").write_text(text)
    box = ToolBox(
        Environment(
            tmp_path,
            approval="full-auto",
            checkpoints=Checkpoints(tmp_path, base=tmp_path.parent / f"{tmp_path.name}-cp"),
        ),
        "t/1",
        provider=ScriptedProvider([cut]),
    )
    outcome = box.call("write", {"path": "reprlib.py", "instruction": task})
    assert not outcome.ok and "interrupted" in outcome.output
    assert (tmp_path / "reprlib.py").read_text() == text


def test_a_null_byte_is_not_python() -> None:
    assert find_region("x = 1\n" * 70 + "\x00", "change x") is None


def test_a_rename_spread_over_a_long_file_is_asked_for_in_parts_from_the_last_up() -> None:
    from redline.agent.editing.regions import find_parts

    text = source("linecache.py")
    task = "rename the parameter module_globals to globals_dict everywhere"
    assert find_region(text, task) is None  # its uses span most of the file
    parts = find_parts(text, task)
    assert parts is not None and len(parts) >= 2
    assert all(p.end - p.start < 70 for p in parts)
    covered = {n for p in parts for n in range(p.start, p.end + 1)}
    uses = {i for i, ln in enumerate(text.splitlines(), 1) if "module_globals" in ln}
    assert uses <= covered  # every use is in some part
    replies = [
        f"```python\n{p.part(text).replace('module_globals', 'globals_dict')}```"
        for p in reversed(parts)
    ]
    provider = ScriptedProvider(replies)
    result = rewrite(provider, task, text, path="linecache.py")
    assert result.finish_reason == "stop"
    assert result.text == text.replace("module_globals", "globals_dict")
    asked = [r.messages[-1]["content"] for r in provider.requests]
    assert len(asked) == len(parts)
    for part, content in zip(reversed(parts), asked, strict=True):
        assert f"lines {part.start}-{part.end}" in content
    assert find_parts(text, "change the default of module_globals to None") is None  # no rename
