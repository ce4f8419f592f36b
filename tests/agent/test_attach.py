"""Files given with a task (``--file``, ``@path``) go into the task message verbatim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_helpers import make_agent

from redline.agent.editing.attach import attach, mentioned
from redline.agent.environment.workspace import Workspace
from redline.errors import WorkspaceError

DONE = {"calls": [{"name": "done", "arguments": {"summary": "ok"}}]}


def test_named_and_mentioned_files_go_into_the_task_message(sample: Path) -> None:
    agent, provider = make_agent(sample, [DONE])
    agent.run("fix the discount in @inventory/pricing.py.", files=["inventory/stock.py"])
    task = provider.requests[0].messages[-1]["content"]
    for name in ("inventory/stock.py", "inventory/pricing.py"):
        body = (sample / name).read_text().rstrip()
        assert f"{name}:\n```\n{body}\n```" in task  # verbatim: no line numbers
    assert task.index("inventory/stock.py:") < task.index("inventory/pricing.py:")


def test_mentions_that_are_not_workspace_files_stay_text(sample: Path, tmp_path: Path) -> None:
    ws = Workspace(sample)
    text = "mail me@example.com about @nothing.py and @../../etc/passwd, see @inventory/stock.py"
    assert mentioned(ws, text) == ["inventory/stock.py"]
    assert attach(ws, "no files here") == ""


def test_a_named_file_outside_the_workspace_is_refused(sample: Path) -> None:
    agent, provider = make_agent(sample, [DONE])
    with pytest.raises(WorkspaceError):
        agent.run("look", files=["../outside.py"])
    with pytest.raises(WorkspaceError):
        agent.run("look", files=["missing.py"])
    assert provider.requests == []


def test_files_go_only_into_the_task_they_came_with(sample: Path) -> None:
    events: list[dict[str, Any]] = []
    agent, provider = make_agent(sample, [DONE, DONE], events=events)
    agent.run("first", files=["inventory/stock.py"])
    agent.run("second")
    assert "```" in provider.requests[0].messages[-1]["content"]
    assert provider.requests[1].messages[-1]["content"].strip() == "Task: second"
