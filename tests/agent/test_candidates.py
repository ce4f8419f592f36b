"""Candidates on the sample project: scratch copies, the real sandbox, real git.

A scripted model gives the replies (the policy's logic is what is tested); the
checks are real: pytest runs each candidate's tests inside the sandbox, in its
own scratch copy of a real git repository.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from agent_helpers import SAMPLE, make_agent, snapshot_tree

from redline.agent.environment.checkpoints import Checkpoints

PRICING = "inventory/pricing.py"
OLD = (SAMPLE / PRICING).read_text()
FIXED = OLD.replace("(1 - discount_percent)", "(1 - discount_percent / 100)")
WRONG = OLD.replace("(1 - discount_percent)", "(1 - discount_percent / 10)")
WRONG_TOO = OLD.replace("(1 - discount_percent)", "(discount_percent - 1)")
FIXED_LONGER = FIXED.replace(
    '    """The total of an order after a percentage discount, rounded to cents."""\n',
    '    """The total of an order after a percentage discount, rounded to cents."""\n'
    "    share = discount_percent / 100\n",
).replace("(1 - discount_percent / 100)", "(1 - share)")


def listing(text: str, path: str = PRICING) -> str:
    return f"{path}\n```python\n{text}```\n"


@pytest.fixture
def repo(sample: Path) -> Path:
    """The sample project as a git repository with one commit (and a CRLF file)."""
    (sample / "notes.txt").write_bytes(b"line one\r\nline two")  # no final newline
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"],
    ):
        subprocess.run(["git", *args], cwd=sample, check=True, capture_output=True)
    return sample


def run(root: Path, replies: list[str], n: int, **config):
    events: list[dict] = []
    seen: list[dict[str, bytes]] = []

    def watch(event: dict) -> None:
        events.append(event)
        if event["type"] in ("candidate", "candidates_done", "turn_end"):
            seen.append(snapshot_tree(root))  # the user's tree while candidates run

    agent, provider = make_agent(
        root, replies, events=None, edit_format="whole", candidates=n, **config
    )
    agent._emit = watch
    result = agent.run("make the failing test pass")
    return result, events, seen, provider


def test_candidates_leave_the_tree_alone_until_the_one_that_passes_is_applied(repo: Path):
    before = snapshot_tree(repo)
    replies = [listing(WRONG), listing(WRONG), listing(FIXED), listing(WRONG)]
    result, events, seen, provider = run(repo, replies, 4)
    assert result.status == "finished" and result.verified
    assert len(provider.requests) == 4 and provider.remaining == 0
    assert seen and all(tree == before for tree in seen)  # untouched while they ran
    checked = [e for e in events if e["type"] == "candidate"]
    assert len(checked) == 4 and all(e["tests_run"] for e in checked)
    assert [e["passed"] for e in sorted(checked, key=lambda e: e["index"])] == [
        False,
        False,
        True,
        False,
    ]
    done = next(e for e in events if e["type"] == "candidates_done")
    # the one passing candidate beats three that agree on the same wrong code
    assert done["kept"] == 2 and done["passed"] == 1 and done["ran"] == 4
    assert done["decoded"] == 4 and done["test_runs"] == 4
    assert (repo / PRICING).read_text() == FIXED
    applied = [e for e in events if e["type"] == "edit_applied"]
    assert [e["path"] for e in applied] == [PRICING]
    # nothing else changed: every other file has its old bytes
    after = snapshot_tree(repo)
    assert {k for k in after if after[k] != before.get(k)} == {PRICING}


def test_an_unusable_candidate_is_dropped_and_the_round_stays_well_formed(repo: Path):
    replies = ["I would divide by a hundred.", listing(FIXED)]  # no file in the first
    result, events, _, _ = run(repo, replies, 2)
    assert result.verified and (repo / PRICING).read_text() == FIXED
    end = next(e for e in events if e["type"] == "turn_end")
    assert end["well_formed"] and end["unusable"] == 1  # the answer applied was readable
    dropped = next(e for e in events if e["type"] == "candidate" and not e["applied"])
    assert dropped["problem"]  # why it could not be used, for the session's line
    unreadable = ["No code here.", "Nor here."]
    result, events, _, _ = run(repo, unreadable, 2, reflections=0)
    assert result.status == "format_errors"
    end = next(e for e in events if e["type"] == "turn_end")
    assert not end["well_formed"] and end["unusable"] == 2


def test_undo_after_a_chosen_candidate_restores_byte_for_byte(repo: Path):
    before = snapshot_tree(repo)
    result, _, _, _ = run(repo, [listing(FIXED_LONGER), listing(FIXED)], 2)
    assert result.verified and (repo / PRICING).read_text() == FIXED  # the smaller change
    Checkpoints(repo).undo()
    assert snapshot_tree(repo) == before
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert status.stdout == ""  # the user's git sees the tree exactly as committed


def test_a_task_that_fails_everywhere_applies_nothing_and_says_so(repo: Path):
    before = snapshot_tree(repo)
    replies = [listing(WRONG), listing(WRONG_TOO), listing(WRONG), listing(WRONG_TOO)]
    result, events, seen, provider = run(repo, replies, 2, reflections=1)
    assert result.status == "verification_failed" and not result.verified
    assert "nothing was applied" in result.summary and "none of 4 candidates" in result.summary
    assert snapshot_tree(repo) == before and all(tree == before for tree in seen)
    assert not any(e["type"] == "edit_applied" for e in events)
    assert Checkpoints(repo).tasks() == []  # no checkpoint: nothing to undo
    # round 2 repaired each failing candidate with its own test failure
    repairs = provider.requests[2:]
    assert len(repairs) == 2
    for request in repairs:
        assert request.messages[-2]["role"] == "assistant"
        assert "FAILED" in request.messages[-1]["content"]
    assert repairs[0].messages[-2]["content"] != repairs[1].messages[-2]["content"]


def test_a_repaired_candidate_is_kept_with_its_own_conversation(repo: Path):
    replies = [listing(WRONG), listing(WRONG_TOO), listing(FIXED), listing(WRONG)]
    result, events, _, provider = run(repo, replies, 2, reflections=1)
    assert result.verified and (repo / PRICING).read_text() == FIXED
    done = next(e for e in events if e["type"] == "candidates_done")
    assert done["rounds"] == 2 and done["kept"] == 2 and done["decoded"] == 4
    parent = next(e for e in events if e["type"] == "candidate" and e["index"] == 2)["parent"]
    assert parent in (0, 1)
    assert "FAILED" in provider.requests[2].messages[-1]["content"]


def test_static_errors_are_caught_before_any_test_runs(repo: Path):
    broken = FIXED.replace("return round(", "return rounded(")
    result, events, _, _ = run(repo, [listing(broken), listing(FIXED)], 2)
    assert result.verified
    checked = {e["index"]: e for e in events if e["type"] == "candidate"}
    assert checked[0]["static_errors"] >= 1 and not checked[0]["tests_run"]
    assert checked[1]["tests_run"] and checked[1]["passed"]


def test_without_tests_the_candidates_vote_when_asked(sample: Path):
    other = OLD.replace("(1 - discount_percent)", "(1 - discount_percent / 100.0)")
    agreeing = FIXED.replace("/ 100), 2)", "/ 100), 2)  # percent")
    replies = [listing(other), listing(FIXED), listing(agreeing)]
    result, events, _, _ = run(sample, replies, 3, run_tests=False, candidate_vote=True)
    start = next(e for e in events if e["type"] == "candidates_start")
    assert start["check"] == "vote"
    done = next(e for e in events if e["type"] == "candidates_done")
    assert done["kept"] == 1 and "kept by vote" in done["reason"]
    assert "2 of 3 candidates reached the same code" in done["reason"]
    assert (sample / PRICING).read_text() == FIXED and result.status == "finished"


def test_without_tests_or_a_vote_one_reply_and_the_events_say_why(sample: Path):
    result, events, _, provider = run(sample, [listing(FIXED)], 3, run_tests=False)
    assert len(provider.requests) == 1 and provider.requests[0].n == 1
    skipped = next(e for e in events if e["type"] == "candidates_skipped")
    assert skipped["asked"] == 3 and "nothing to check" in skipped["reason"]
    assert not any(e["type"] == "candidates_start" for e in events)
    assert (sample / PRICING).read_text() == FIXED and result.status == "finished"


def test_one_candidate_is_the_ordinary_single_reply(sample: Path):
    result, events, _, provider = run(sample, [listing(FIXED)], 1)
    assert result.verified and len(provider.requests) == 1
    assert not any(e["type"].startswith("candidate") for e in events)


def test_replies_still_decoding_stop_once_a_candidate_passes(repo: Path):
    # reply 0 passes; reply 1 streams slowly (2 s a chunk, a minute in all): the policy
    # stops it as soon as reply 0's tests pass instead of waiting for a tie-break
    slow = {"text": listing(FIXED_LONGER), "delay_s": 2.0}
    started = time.perf_counter()
    result, events, _, provider = run(repo, [listing(FIXED), slow], 2)
    assert result.verified and (repo / PRICING).read_text() == FIXED
    assert time.perf_counter() - started < 50
    checked = [e for e in events if e["type"] == "candidate"]
    assert [e["index"] for e in checked] == [0]
    done = next(e for e in events if e["type"] == "candidates_done")
    assert done["ran"] == 1 and done["kept"] == 0 and done["decoded"] == 2
