"""The one-reply edit protocol, driven by a scripted model on the sample project."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent_helpers import SAMPLE, make_agent, snapshot_tree

from redline.agent.editing.edits import repeating_lines
from redline.agent.environment.checkpoints import Checkpoints

FIXED = (
    (SAMPLE / "inventory" / "pricing.py")
    .read_text()
    .replace("(1 - discount_percent)", "(1 - discount_percent / 100)")
)


def listing(path: str, text: str, prose: str = "") -> str:
    return f"{prose}\n\n{path}\n```python\n{text}```\n"


def test_fixes_the_failing_test_in_one_reply(sample: Path):
    events: list[dict] = []
    agent, provider = make_agent(
        sample,
        [listing("inventory/pricing.py", FIXED, "Divide by 100.")],
        events=events,
        edit_format="whole",
    )
    result = agent.run("make the failing test pass")
    assert result.status == "finished" and result.verified
    assert (sample / "inventory/pricing.py").read_text() == FIXED
    request = provider.requests[0]
    first = request.messages[1]["content"]
    # the failing test's output and the module it imports are in the one prompt
    assert "inventory/pricing.py\n```python\n" in first
    assert (
        "`order_total([(10.0, 2)], discount_percent=10)` returns -180.0 but must return 18.0"
        in first
    )
    # the old file goes along as the predicted reply
    assert request.prediction is not None and "discount_percent)" in request.prediction
    assert any(e["type"] == "verification" and e["passed"] for e in events)


def test_test_file_edits_are_refused_and_nothing_applied(sample: Path):
    before = snapshot_tree(sample)
    cheat = (sample / "tests/test_pricing.py").read_text().replace("== 18.0", "== -180.0")
    agent, provider = make_agent(
        sample,
        [listing("tests/test_pricing.py", cheat), listing("inventory/pricing.py", FIXED)],
        edit_format="whole",
    )
    result = agent.run("make the failing test pass")
    assert result.status == "finished" and result.verified
    assert (sample / "tests/test_pricing.py").read_bytes() == before["tests/test_pricing.py"]
    assert "must not be changed" in provider.requests[1].messages[-1]["content"]


def test_a_reply_that_breaks_syntax_is_not_kept(sample: Path):
    broken = FIXED.replace("def order_total(", "def order_total(:")
    agent, provider = make_agent(
        sample,
        [listing("inventory/pricing.py", broken), listing("inventory/pricing.py", FIXED)],
        edit_format="whole",
    )
    result = agent.run("make the failing test pass")
    assert result.verified
    note = provider.requests[1].messages[-1]["content"]
    assert "does not parse" in note and "Nothing was changed" in note


def test_failing_checks_go_back_with_the_test_output(sample: Path):
    wrong = FIXED.replace("/ 100", "/ 10")
    agent, provider = make_agent(
        sample,
        [listing("inventory/pricing.py", wrong), listing("inventory/pricing.py", FIXED)],
        edit_format="whole",
    )
    result = agent.run("make the failing test pass")
    assert result.status == "finished" and result.verified and result.turns == 2
    note = provider.requests[1].messages[-1]["content"]
    assert "FAILED" in note and "test_pricing" in note


def test_gives_up_after_the_reflections_and_undo_restores(sample: Path):
    wrong = FIXED.replace("/ 100", "/ 10")
    wrong2 = FIXED.replace("/ 100", "/ 1000")
    before = snapshot_tree(sample)
    agent, _ = make_agent(
        sample,
        [listing("inventory/pricing.py", wrong), listing("inventory/pricing.py", wrong2)],
        edit_format="whole",
        reflections=1,
    )
    result = agent.run("make the failing test pass")
    assert result.status == "verification_failed" and not result.verified
    Checkpoints(sample).undo(1)
    assert snapshot_tree(sample) == before


def test_a_question_gets_an_answer_not_an_edit(sample: Path):
    before = snapshot_tree(sample)
    agent, provider = make_agent(
        sample, ["It totals order lines and applies a discount."], edit_format="whole"
    )
    result = agent.run("what does inventory/pricing.py do? answer in one sentence")
    assert result.status == "finished"
    assert result.summary == "It totals order lines and applies a discount."
    assert snapshot_tree(sample) == before
    assert provider.requests[0].prediction is None
    assert "def order_total" in provider.requests[0].messages[1]["content"]


def test_the_same_reply_twice_ends_the_task(sample: Path):
    wrong = FIXED.replace("/ 100", "/ 10")
    agent, _ = make_agent(sample, [listing("inventory/pricing.py", wrong)] * 2, edit_format="whole")
    result = agent.run("make the failing test pass")
    assert result.status == "loop" and result.turns == 2


def test_a_reply_cut_after_its_listing_is_applied_one_cut_inside_is_not(sample: Path):
    from redline.agent.protocols.reply import closed_reply

    done = listing("inventory/pricing.py", FIXED) + "This works because the discount is"
    assert closed_reply(done)
    assert not closed_reply(done.split("def order_total")[0])
    cut_inside = {"text": listing("inventory/pricing.py", FIXED)[:200], "finish_reason": "length"}
    cut_after = {"text": done, "finish_reason": "length"}
    agent, _ = make_agent(sample, [cut_inside, cut_after], edit_format="whole")
    result = agent.run("make the failing test pass")
    assert result.status == "finished" and result.verified and result.turns == 2
    assert (sample / "inventory/pricing.py").read_text() == FIXED


def test_a_one_file_reply_stops_at_its_listing_and_keeps_its_fence(sample: Path):
    """The prose after the only listing is never used: the request stops there (a
    stop sequence every OpenAI-compatible server honours), and the stopped reply
    goes into the conversation with its closing fence back."""
    from redline.agent.editing.formats import LISTING_END

    full = listing("inventory/pricing.py", FIXED, "Divide by 100.") + "\nThis works because"
    stopped = full[: full.index(LISTING_END)]
    agent, provider = make_agent(
        sample, [{"text": stopped, "finish_reason": "stop"}], edit_format="whole"
    )
    result = agent.run("make the failing test pass")
    assert result.status == "finished" and result.verified
    assert provider.requests[0].stop == [LISTING_END]
    assert (sample / "inventory/pricing.py").read_text() == FIXED
    reply = next(m for m in agent.messages if m["role"] == "assistant")["content"]
    assert reply.endswith("\n```\n") and reply.count("```") == 2


def test_a_diff_reply_and_a_question_run_to_their_end(sample: Path):
    agent, provider = make_agent(sample, ["It totals order lines."], edit_format="whole")
    agent.run("what does inventory/pricing.py do? answer in one sentence")
    assert provider.requests[0].stop == []
    from redline.agent.protocols.diff import DiffFormat

    assert DiffFormat().stops({"a.py": "x = 1\n"}) == []


def test_edit_blocks_draft_from_the_files_in_play(sample: Path):
    """A diff reply quotes the file in pieces: it goes along as ``quotes``, not as a
    predicted reply (a remote API bills the prediction's rejected tokens)."""
    block = (
        "inventory/pricing.py\n```python\n<<<<<<< SEARCH\n"
        "(1 - discount_percent)\n=======\n(1 - discount_percent / 100)\n"
        ">>>>>>> REPLACE\n```\n"
    )
    agent, provider = make_agent(sample, [block], edit_format="diff")
    result = agent.run("make the failing test pass")
    assert result.status == "finished" and result.verified
    request = provider.requests[0]
    assert request.prediction is None
    assert request.quotes is not None and "(1 - discount_percent)" in request.quotes


COUNTING = "".join(
    f"        if pins % 10 == {n}:\n            return pins // 10 + {n}\n" for n in range(0, 200, 5)
)


def test_repeating_lines_sees_counting_and_growing_runs_not_code():
    assert repeating_lines("def score(pins):\n" + COUNTING)
    growing = "".join(
        f"    # case {n}\n    if len(b) == {n}:\n        return "
        + " + ".join(f"b[{i}]" for i in range(n))
        + "\n\n"
        for n in range(1, 12)
    )
    assert repeating_lines(growing)
    assert not repeating_lines(FIXED)
    assert not repeating_lines((SAMPLE / "tests" / "test_pricing.py").read_text())
    # a line still being written does not count against the cycle
    assert not repeating_lines("def score(pins):\n" + COUNTING[:300] + "        if pi")


def test_a_reply_in_a_counting_run_is_stopped_and_ends_the_task(sample: Path):
    before = snapshot_tree(sample)
    runaway = listing(
        "inventory/pricing.py", "def order_total(lines, discount_percent=0.0):\n" + COUNTING
    )
    events: list[dict] = []
    agent, provider = make_agent(
        sample, [{"text": runaway, "chunk": 16}], events=events, edit_format="whole"
    )
    result = agent.run("make the failing test pass")
    assert result.status == "loop"
    # the generation was stopped where the run became plain, not read to its end
    cut = next(m["content"] for m in agent.messages if m["role"] == "assistant")
    assert 200 < len(cut) < len(runaway) / 2
    assert snapshot_tree(sample) == before  # nothing of the cut reply applied
    assert any(e["type"] == "reply_cut" and e["looped"] for e in events)


def test_each_task_of_a_session_starts_as_a_one_shot_task_with_a_summary(
    sample: Path, tmp_path: Path
):
    """The session and `exec` are one path: after a question, the fix's request is
    byte for byte a one-shot task's (system prompt, files in play, the failing test
    run first), and a later task gets one line per earlier task that changed files,
    never the earlier conversation."""
    one_shot = tmp_path / "one-shot"
    shutil.copytree(sample, one_shot)
    exec_agent, exec_provider = make_agent(
        one_shot, [listing("inventory/pricing.py", FIXED)], edit_format="whole"
    )
    assert exec_agent.run("make the failing test pass").status == "finished"
    answer = "It totals order lines and applies a discount."
    agent, provider = make_agent(
        sample,
        [answer, listing("inventory/pricing.py", FIXED), answer],
        edit_format="whole",
    )
    question = agent.run("what does inventory/pricing.py do? answer in one sentence")
    assert question.status == "finished"
    asked = provider.requests[0].messages
    assert [m["role"] for m in asked] == ["system", "user"]
    assert "asks a question" in asked[0]["content"]  # answered from the files shown
    assert "def order_total" in asked[1]["content"]  # named without @: read all the same
    fix = agent.run("make the failing test pass")
    assert fix.status == "finished" and fix.verified
    assert provider.requests[1].messages == exec_provider.requests[0].messages
    agent.run("what does order_total do now?")
    later = provider.requests[2].messages
    assert [m["role"] for m in later] == ["system", "user"]
    recap = "Earlier in this session:\n- make the failing test pass (changed inventory/pricing.py)"
    assert recap in later[1]["content"]
    assert answer not in later[1]["content"]


def test_a_follow_up_goes_on_in_the_same_conversation(sample: Path):
    """A second try with the test output (the benchmark's try 2) keeps the history."""
    wrong = FIXED.replace("/ 100", "/ 10")
    agent, provider = make_agent(
        sample,
        [listing("inventory/pricing.py", wrong), listing("inventory/pricing.py", FIXED)],
        edit_format="whole",
        reflections=0,
    )
    first = agent.run("make the failing test pass")
    assert first.status == "verification_failed"
    second = agent.run("the tests still fail; fix it", follow_up=True)
    assert second.status == "finished" and second.verified
    history = provider.requests[1].messages
    assert history[: len(provider.requests[0].messages)] == provider.requests[0].messages
    assert "Earlier in this session" not in history[-1]["content"]


def test_a_line_after_an_interrupted_task_steers_it_in_the_same_conversation(sample: Path):
    import io

    from rich.console import Console

    from redline.agent.session.interactive import InteractiveSession

    cut = {"text": "I will change order_total to", "finish_reason": "cancelled"}
    agent, provider = make_agent(
        sample,
        [cut, listing("inventory/pricing.py", FIXED), "It totals orders."],
        edit_format="whole",
    )
    session = InteractiveSession(agent, Console(file=io.StringIO()))
    session.task("make the failing test pass")
    assert session.continues  # interrupted: the next line steers
    session.task("divide the percentage by 100")
    steered = provider.requests[1].messages
    assert steered[: len(provider.requests[0].messages)] == provider.requests[0].messages
    assert "I will change order_total to" in steered[2]["content"]
    assert not session.continues
    session.task("what does inventory/pricing.py do?")
    assert [m["role"] for m in provider.requests[2].messages] == ["system", "user"]


def test_a_resumed_session_goes_on_in_its_conversation(sample: Path):
    import io

    from rich.console import Console

    from redline.agent.session.interactive import InteractiveSession

    agent, provider = make_agent(sample, ["It totals orders."], edit_format="whole")
    earlier = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    agent.messages = [*earlier, {"role": "assistant", "content": "a"}]
    session = InteractiveSession(agent, Console(file=io.StringIO()))
    assert session.continues  # `redline resume`: the loaded conversation is kept
    session.task("what does inventory/pricing.py do?")
    assert provider.requests[0].messages[:3] == agent.messages[:3]
