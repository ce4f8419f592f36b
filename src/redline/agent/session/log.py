"""Session logs: every event of a session as JSON lines under the state dir.

The log is the record (what the model said, which tools ran, how long each
turn took) and the means of ``redline resume``: replaying its ``message``
events rebuilds the conversation. Lines are flushed one by one, so a crash
loses at most the event being written.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.config import state_dir
from redline.errors import AgentError


def sessions_dir() -> Path:
    path = state_dir() / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_session_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


class SessionLog:
    """Append-only JSONL writer for one session."""

    def __init__(self, session_id: str | None = None, folder: Path | None = None):
        self.id = session_id or new_session_id()
        self.path = (folder or sessions_dir()) / f"{self.id}.jsonl"
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, event: dict[str, Any]) -> None:
        record = {"t": round(time.time(), 3), **event}
        self._fh.write(json.dumps(record, default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


@dataclass
class SessionSummary:
    id: str
    started: float
    root: str
    task: str
    status: str
    turns: int


def read_events(session_id: str, folder: Path | None = None) -> list[dict[str, Any]]:
    path = (folder or sessions_dir()) / f"{session_id}.jsonl"
    if not path.is_file():
        raise AgentError(f"no session {session_id!r}", hint="`redline log` lists sessions")
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash: the rest of the log is still good
    return events


def list_sessions(folder: Path | None = None) -> list[SessionSummary]:
    """Sessions, newest last."""
    out = []
    for path in sorted((folder or sessions_dir()).glob("*.jsonl")):
        events = read_events(path.stem, folder)
        start = next((e for e in events if e.get("type") == "session_start"), {})
        tasks = [e.get("task", "") for e in events if e.get("type") == "task_start"]
        dones = [e for e in events if e.get("type") == "done"]
        out.append(
            SessionSummary(
                id=path.stem,
                started=float(start.get("t", 0.0)),
                root=str(start.get("root", "")),
                task=tasks[0] if tasks else "",
                status=dones[-1].get("status", "") if dones else "open",
                turns=sum(1 for e in events if e.get("type") == "turn_end"),
            )
        )
    return out


def load_messages(session_id: str, folder: Path | None = None) -> list[dict[str, Any]]:
    """The conversation of a session, rebuilt from its ``message`` events."""
    messages: list[dict[str, Any]] = []
    for e in read_events(session_id, folder):
        if e.get("type") == "message":
            messages.append(e["message"])
        elif e.get("type") == "clear":
            messages = messages[:1]
    return messages
