"""The LSP's pure parts: prompt layout, completion boundaries, settings, selection fitting."""

from __future__ import annotations

import pytest

from redline.errors import ConfigError, EditError
from redline.ide.editing import (
    common_indent,
    fit_to_selection,
    introduced_problems,
    rewrite_selection,
)
from redline.ide.prompting import Boundary, CompletionContext, build_prompt, window_start
from redline.ide.settings import IdeSettings
from redline.providers.scripted import ScriptedProvider

FILE = "".join(f"x{i} = {i}\n" for i in range(200))


def prompt_at(text: str, cursor: int, **kw) -> str:
    return build_prompt(CompletionContext(text[:cursor], text[cursor:], "m.py"), **kw)


def test_typing_at_the_cursor_only_extends_the_prompt():
    """Consecutive keystrokes share the whole previous prompt: the KV cache is reused."""
    doc = FILE[:1000] + FILE[1000:]
    cursor = 1000
    before = prompt_at(doc, cursor, context_lines=60)
    typed = doc[:cursor] + "y = 4" + doc[cursor:]
    after = prompt_at(typed, cursor + 5, context_lines=60)
    assert after.startswith(before) and after[len(before) :] == "y = 4"


def test_suffix_is_context_before_the_prefix():
    text = "def f():\n    \n\nprint(f())\n"
    p = build_prompt(CompletionContext(text[:13], text[13:], "m.py"))
    assert p.index("print(f())") < p.index("def f():")
    assert p.endswith("def f():\n    ")
    assert "| print(f())" in p


def test_window_start_moves_in_steps():
    starts = {window_start(0, line, 60) for line in range(60, 90)}
    assert starts == {30}
    assert window_start(0, 10, 60) == 0
    assert window_start(0, 90, 60) == 60


def ctx(prefix: str, suffix: str = "") -> CompletionContext:
    return CompletionContext(prefix, suffix, "m.py")


def test_boundary_stops_at_dedent():
    b = Boundary(ctx("def fibonacci(n):\n    "))
    assert not b.feed("if n < 2:\n        return n\n    return fib(n - 1)")
    assert b.feed("\ndef other():")
    assert b.text == "if n < 2:\n        return n\n    return fib(n - 1)"


def test_boundary_stops_at_blank_line_and_after_opener_body():
    b = Boundary(ctx("def f():"))
    assert b.feed("\n    return 1\n\n")
    assert b.text == "\n    return 1"
    b = Boundary(ctx("def f():"))
    assert b.feed("\n    return 1\nx = 2\n")
    assert b.text == "\n    return 1"


def test_boundary_stops_before_repeating_the_suffix():
    b = Boundary(ctx("x = [\n    ", "\n    3,\n]\n"))
    assert b.feed("1,\n    2,\n    3,\n")
    assert b.text == "1,\n    2,"


def test_boundary_keep_whole_lines():
    b = Boundary(ctx("def f():\n    "))
    b.feed("a = 1\n    b = ca")
    b.keep_whole_lines()
    assert b.done and b.text == "a = 1"
    b = Boundary(ctx("def f():\n    "))
    b.feed("a = ca")
    b.keep_whole_lines()
    assert b.text == "a = ca"  # nothing whole yet: the partial first line is better than nothing


def test_settings_merge_and_validate():
    s = IdeSettings().merged({"redline": {"maxTokens": 12, "debounceMs": 0, "model": "x.gguf"}})
    assert (s.max_tokens, s.debounce_ms, s.model) == (12, 0, "x.gguf")
    assert IdeSettings().merged({"somethingElse": 1}) == IdeSettings()
    for bad in ({"maxTokens": 0}, {"maxTokens": "many"}, {"diagnostics": "yes"}, {"model": ""}):
        with pytest.raises(ConfigError):
            IdeSettings().merged(bad)
    with pytest.raises(ConfigError):
        IdeSettings().merged([1, 2])


def test_fit_to_selection_reindents_and_keeps_newline_shape():
    old = "    def m(self):\n        return 1\n"
    assert common_indent(old) == "    "
    new = fit_to_selection('def m(self):\n    """One."""\n    return 1', old, "    ")
    assert new == '    def m(self):\n        """One."""\n        return 1\n'
    assert fit_to_selection("b\n", "a", "") == "b"


def test_rewrite_selection_with_scripted_provider():
    """Exact content through the agent's rewrite path: dedented out, re-indented back."""
    new_body = 'def m(self):\n    """Return one."""\n    return 1\n'
    provider = ScriptedProvider([new_body])
    old = "    def m(self):\n        return 1\n"
    text, finish = rewrite_selection(provider, "Add a docstring", old, path="c.py", max_tokens=64)
    assert text == '    def m(self):\n        """Return one."""\n        return 1\n'
    assert finish == "stop"
    request = provider.requests[0]
    # the old text, dedented, in the fence the reply is asked for
    assert request.prediction == "```python\ndef m(self):\n    return 1\n```"
    assert "Add a docstring" in request.messages[-1]["content"]


def test_rewrite_selection_refuses_empty_and_cut_off():
    with pytest.raises(EditError):
        rewrite_selection(ScriptedProvider(["x"]), "", "a = 1\n", path="a.py", max_tokens=8)
    cut = ScriptedProvider([{"text": "a = ", "finish_reason": "length"}])
    with pytest.raises(EditError, match="cut off"):
        rewrite_selection(cut, "do it", "a = 1\n", path="a.py", max_tokens=8)
    looping = ScriptedProvider(["a = 1\n" + "b = a\n" * 300])
    with pytest.raises(EditError, match="loop"):
        rewrite_selection(looping, "do it", "a = 1\n", path="a.py", max_tokens=4000)


def test_introduced_problems_reports_only_new_errors(tmp_path):
    path = str(tmp_path / "m.py")
    before = "import os\nprint(missing)\n"
    after = "import os\nprint(missing)\nprint(also_missing)\n"
    found = introduced_problems(before, after, path=path)
    assert [p.message for p in found] == ["undefined name 'also_missing'"]
    assert introduced_problems(before, before, path=path) == []
