"""The agent loop, driven deterministically by scripted replies."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import fix_script, make_agent, snapshot_tree

from redline.agent.session.log import SessionLog, load_messages


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if e["type"] not in ("text_delta", "message")]


@pytest.mark.parametrize("native", [False, True])
def test_scripted_fix_of_the_sample_project(sample: Path, native: bool) -> None:
    events: list[dict[str, Any]] = []
    before = snapshot_tree(sample)
    agent, provider = make_agent(sample, fix_script(), native=native, events=events)
    result = agent.run("make the failing test pass")
    assert (result.status, result.exit_code, result.verified) == ("finished", 0, True)
    assert result.changed == ["inventory/pricing.py"]
    assert "discount_percent / 100" in (sample / "inventory/pricing.py").read_text()
    kinds = _types(events)
    assert kinds[0] == "task_start" and kinds[-1] == "done"
    assert "edit_applied" in kinds and "verification" in kinds
    turn_ends = [e for e in events if e["type"] == "turn_end"]
    assert len(turn_ends) == 4 and all(e["well_formed"] for e in turn_ends)
    for e in turn_ends:
        assert {"ttft_s", "tok_s", "model_s", "tools_s", "verify_s"} <= set(e["timings"])
    edit_verification = next(e for e in events if e["type"] == "verification")
    assert edit_verification["passed"] and edit_verification["tests"]["passed"]
    if native:
        assert provider.requests[0].tools and provider.requests[0].response_format is None
        assert provider.requests[0].parallel_tool_calls is False
        assert any(m["role"] == "tool" for m in agent.messages)
    else:
        assert provider.requests[0].tools is None
        assert provider.requests[0].response_format["type"] == "json_schema"
    # The file read in turn 2 is what turn 3's edit call quotes: the draft source.
    assert provider.requests[0].quotes is None
    assert "def order_total" in (provider.requests[2].quotes or "")
    assert agent.checkpoints.undo(1) == [("inventory/pricing.py", "restored")]
    assert snapshot_tree(sample) == before


def test_first_task_message_has_overview_and_agents_md(sample: Path, tmp_path: Path) -> None:
    done = {"calls": [{"name": "done", "arguments": {"summary": "ok"}}]}
    agent, provider = make_agent(sample, [done, done])
    assert agent.run("look around").status == "finished"
    system, first = provider.requests[0].messages[:2]
    assert first["role"] == "user" and first["content"].index("# Project files") == 0
    assert "inventory/pricing.py" in first["content"] and "def order_total(" in first["content"]
    assert "do not edit the tests" in first["content"]
    assert "look around" in first["content"]
    # A later task in the conversation does not repeat the project context.
    assert agent.run("and again").status == "finished"
    assert "# Project files" not in provider.requests[1].messages[-1]["content"]
    # The system message names no project: it is one cacheable prefix for every task.
    other = tmp_path / "other"
    other.mkdir()
    (other / "main.py").write_text("print('hi')\n")
    agent2, provider2 = make_agent(other, [done])
    assert agent2.run("something else").status == "finished"
    assert provider2.requests[0].messages[0] == system


def test_done_is_refused_while_verification_fails(sample: Path) -> None:
    bad_edit = {
        "name": "edit",
        "arguments": {
            "path": "inventory/stock.py",
            "edits": [
                {"search": "return self._items.get(name, 0)", "replace": "return missing_name"}
            ],
        },
    }
    done = {"name": "done", "arguments": {"summary": "done"}}
    replies = [{"calls": [bad_edit]}, {"calls": [done]}, {"calls": [done]}]
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, replies, events=events, verify_retries=1)
    result = agent.run("break it")
    assert result.status == "verification_failed" and result.exit_code == 1
    assert not result.verified
    failed = [e for e in events if e["type"] == "verification" and not e["passed"]]
    assert any("missing_name" in p["message"] for p in failed[0]["errors"])
    assert "verification of your changes failed" in provider.requests[2].messages[-1]["content"]


def test_malformed_replies_end_the_task(sample: Path) -> None:
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, ["I think", "hmm", "no json"], events=events)
    result = agent.run("do it")
    assert result.status == "format_errors" and result.exit_code == 4
    assert [e["well_formed"] for e in events if e["type"] == "turn_end"] == [False] * 3
    assert "Your reply could not be used" in provider.requests[1].messages[-1]["content"]


def test_loose_reply_is_used_but_not_well_formed(sample: Path) -> None:
    loose = 'Sure! ```json\n{"name": "done", "arguments": {"summary": "ok"}}\n```'
    events: list[dict[str, Any]] = []
    agent, _ = make_agent(sample, [loose], events=events)
    assert agent.run("finish").status == "finished"
    assert [e["well_formed"] for e in events if e["type"] == "turn_end"] == [False]


def test_step_limit_and_provider_error(sample: Path) -> None:
    read = {"calls": [{"name": "read", "arguments": {"path": "README.md"}}]}
    agent, _ = make_agent(sample, [read] * 5, max_steps=2)
    result = agent.run("loop forever")
    assert (result.status, result.turns, result.exit_code) == ("step_limit", 2, 3)
    agent, _ = make_agent(sample, [{"error": "backend down"}])
    assert agent.run("x").status == "error"


def test_write_sends_old_file_as_prediction(sample: Path) -> None:
    old = (sample / "inventory/stock.py").read_text()
    new = old.replace("Stock levels.", "Stock levels, by name.")
    replies = [
        {
            "calls": [
                {"name": "write", "arguments": {"path": "inventory/stock.py", "instruction": "doc"}}
            ]
        },
        new,
        {"calls": [{"name": "done", "arguments": {"summary": "ok"}}]},
    ]
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, replies, events=events)
    assert agent.run("improve the docstring").status == "finished"
    assert provider.requests[1].prediction == f"```python\n{old}```"
    assert (sample / "inventory/stock.py").read_text() == new
    first = next(e for e in events if e["type"] == "turn_end")
    assert first["timings"]["drafted_tokens"] > 0 and first["timings"]["accepted_tokens"] > 0


def test_suggest_mode_asks_and_respects_no(sample: Path) -> None:
    before = snapshot_tree(sample)
    edit = {"name": "write", "arguments": {"path": "x.py", "content": "x = 1\n"}}
    run = {"name": "run", "arguments": {"command": "touch ran.txt"}}
    done = {"name": "done", "arguments": {"summary": "ok"}}
    asked: list[str] = []
    agent, _ = make_agent(sample, [{"calls": [edit, run]}, {"calls": [done]}], approval="suggest")
    agent.ask = lambda kind, what: asked.append(kind) or False
    assert agent.run("try").status == "finished"
    assert asked == ["edit", "run"] and snapshot_tree(sample) == before


def test_cancel_mid_stream_keeps_partial_reply_in_context(sample: Path) -> None:
    cancel = threading.Event()
    events: list[dict[str, Any]] = []

    def emit(event: dict[str, Any]) -> None:
        events.append(event)
        if (
            event["type"] == "text_delta"
            and len([e for e in events if e["type"] == "text_delta"]) == 3
        ):
            cancel.set()

    long_text = {"text": "thinking " * 50, "chunk": 5}
    agent, provider = make_agent(
        sample, [long_text, {"calls": [{"name": "done", "arguments": {"summary": "ok"}}]}]
    )
    agent._emit = emit
    result = agent.run("start", cancel)
    assert result.status == "interrupted" and result.exit_code == 130
    assert agent.messages[-1]["content"].endswith("[interrupted by the user]")
    assert len(agent.messages[-1]["content"]) < 100
    assert agent.run("steer: just finish").status == "finished"
    assert provider.requests[1].messages[-1]["content"].endswith("steer: just finish\n")


def test_session_log_rebuilds_the_conversation(sample: Path, tmp_path: Path) -> None:
    log = SessionLog("s-test", folder=tmp_path)
    agent, _ = make_agent(sample, [{"calls": [{"name": "done", "arguments": {"summary": "ok"}}]}])
    agent._emit = log.write
    agent.run("hello")
    log.close()
    assert load_messages("s-test", folder=tmp_path) == agent.messages


def test_repeated_identical_calls_are_not_rerun_and_end_the_task(sample: Path) -> None:
    test = {"calls": [{"name": "test", "arguments": {}}]}
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, [test] * 6, events=events, max_steps=10)
    result = agent.run("fix it")
    assert (result.status, result.exit_code, result.turns) == ("loop", 3, 3)
    assert [e["name"] for e in events if e["type"] == "tool_result"] == ["test"]
    assert [e["count"] for e in events if e["type"] == "repeated_call"] == [1, 2]
    assert "You already called test" in provider.requests[2].messages[-1]["content"]


def test_a_call_repeated_after_an_edit_runs_again(sample: Path) -> None:
    test = {"calls": [{"name": "test", "arguments": {}}]}
    fix = {
        "calls": [
            {
                "name": "edit",
                "arguments": {
                    "path": "inventory/pricing.py",
                    "edits": [
                        {
                            "search": "(1 - discount_percent)",
                            "replace": "(1 - discount_percent / 100)",
                        }
                    ],
                },
            }
        ]
    }
    events: list[dict[str, Any]] = []
    agent, _ = make_agent(sample, [test, fix, test], events=events, max_steps=3)
    agent.run("fix it")
    assert [e["name"] for e in events if e["type"] == "tool_result"] == ["test", "edit", "test"]
    assert not [e for e in events if e["type"] == "repeated_call"]


def test_a_cut_off_native_answer_is_not_taken_as_the_final_one(sample: Path) -> None:
    cut = {"text": '{"tool_calls": [{"name": "read", "arguments": {"pa', "finish_reason": "length"}
    done = {"calls": [{"name": "done", "arguments": {"summary": "ok"}}]}
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, [cut, done], native=True, events=events)
    result = agent.run("look")
    assert result.status == "finished" and result.turns == 2
    assert [e["type"] for e in events if e["type"] == "format_error"] == ["format_error"]
    assert "ended early (length)" in provider.requests[1].messages[-1]["content"]


@pytest.mark.parametrize("native", [True, False])
def test_a_call_closed_at_the_token_limit_is_well_formed_but_not_run(
    sample: Path, native: bool
) -> None:
    """The engine closes a runaway call's JSON at the limit; half a file is never written."""
    cut = {
        "calls": [
            {
                "name": "write",
                "arguments": {"path": "inventory/stock.py", "content": "def add(a, b"},
            }
        ],
        "finish_reason": "length",
    }
    done = {"calls": [{"name": "done", "arguments": {"summary": "gave up"}}]}
    before = snapshot_tree(sample)
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, [cut, done], native=native, events=events)
    result = agent.run("rewrite inventory/stock.py")
    assert result.status == "finished" and result.turns == 2
    assert snapshot_tree(sample) == before  # the cut write was not applied
    assert [e["well_formed"] for e in events if e["type"] == "turn_end"] == [True, True]
    assert [e["name"] for e in events if e["type"] == "reply_cut"] == ["write"]
    assert not [e for e in events if e["type"] == "tool_result"]
    told = provider.requests[1].messages[-1]
    assert "limit of 1024 tokens" in told["content"] and "not run" in told["content"]
    assert told["role"] == ("tool" if native else "user")


def test_replies_cut_twice_in_a_row_end_the_task(sample: Path) -> None:
    """A model told once to work in smaller steps whose next reply runs away too stops."""
    cut = {
        "calls": [{"name": "edit", "arguments": {"path": "a.py", "edits": []}}],
        "finish_reason": "length",
    }
    read = {"calls": [{"name": "read", "arguments": {"path": "inventory/stock.py"}}]}
    done = {"calls": [{"name": "done", "arguments": {"summary": "never reached"}}]}
    # A cut reply, a good one (the count starts again), then two cut in a row.
    agent, provider = make_agent(sample, [cut, read, cut, cut, done], native=True)
    result = agent.run("change a.py")
    assert result.status == "token_limit" and result.exit_code == 4
    assert result.turns == 4 and len(provider.requests) == 4


def test_a_reply_closed_because_it_looped_ends_the_task_at_once(sample: Path) -> None:
    """More turns of a model that degenerated into repetition give more of the same."""
    looped = {
        "calls": [{"name": "edit", "arguments": {"path": "a.py", "edits": []}}],
        "finish_reason": "length",
        "looped": True,
    }
    done = {"calls": [{"name": "done", "arguments": {"summary": "never reached"}}]}
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, [looped, done], native=True, events=events)
    result = agent.run("change a.py")
    assert result.status == "loop" and result.turns == 1 and len(provider.requests) == 1
    assert [e["looped"] for e in events if e["type"] == "reply_cut"] == [True]


@pytest.mark.parametrize("native", [True, False])
def test_without_tests_the_test_tool_is_not_offered(sample: Path, native: bool) -> None:
    test = {"calls": [{"name": "test", "arguments": {}}]}
    done = {"calls": [{"name": "done", "arguments": {"summary": "ok"}}]}
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(
        sample, [test, done], native=native, events=events, run_tests=False
    )
    assert agent.run("check").status == "finished"
    first = provider.requests[0]
    if native:
        offered = [t["function"]["name"] for t in first.tools or []]
        assert first.tool_choice == "required"  # every turn is a call; `done` ends it
    else:
        variants = (first.response_format or {})["json_schema"]["schema"]["anyOf"]
        offered = [v["properties"]["tool"]["enum"][0] for v in variants]
        assert "- test(" not in first.messages[0]["content"]
        assert "- read(" in first.messages[0]["content"]
    assert "test" not in offered and {"read", "edit", "write", "done"} <= set(offered)
    # A provider without grammars may call it anyway: refused, nothing run.
    result = next(e for e in events if e["type"] == "tool_result")
    assert not result["ok"] and "no tool 'test'" in result["output"]
