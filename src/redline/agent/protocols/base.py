"""Edit protocols: how a model is asked for a change and how its reply is read.

Read this after :mod:`redline.agent.loop`. The loop runs turns; a protocol
decides what a turn says. Three exist, one file each:

- ``tools`` (:mod:`.tools`): a multi-turn dialogue of tool calls (read, search,
  edit, write, run, test, done), native OpenAI tools or JSON in text. What a
  large model that calls tools well drives best.
- ``whole`` (:mod:`.whole`) and ``diff`` (:mod:`.diff`): the one-reply protocol
  (:mod:`.reply`): the files in play are in the task message, the model answers
  once with whole files or search/replace blocks, the checks' failures go back
  as the next message. What small models follow (aider's edit formats).

A protocol has four steps, each handed the task's :class:`~redline.agent.state.TaskState`:

``start``
    Put the task into the conversation (the system prompt first when the
    conversation is new).
``query``
    This turn's request (and, optionally, a test that says a streaming reply
    has started repeating itself, so the loop can cut it).
``record``
    The reply as it goes into the conversation.
``observe``
    Act on the reply through ``state.env`` (the environment), check what changed
    with ``state.verify``, and put what the model is shown next into the
    conversation; or raise :class:`~redline.agent.state.Stop` to end the task.

Adding a protocol is adding one module here that defines ``PROTOCOL`` (a
callable returning a fresh protocol object per task, with a ``name``):
:func:`redline.agent.protocols.get_protocol` finds it by that name. Protocols
never import each other or the loop (an import-linter contract says so); the
one-reply ones share :mod:`.reply`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redline.agent.query import Streamed
from redline.agent.state import TaskState
from redline.agent.telemetry import TurnStats
from redline.providers.base import ChatRequest


@dataclass
class Query:
    """One turn's request, and how to watch its reply stream."""

    request: ChatRequest
    looping: Callable[[str], bool] | None = None
    """Asked about the text so far; True closes the stream (the reply repeats itself)."""


class EditProtocol(Protocol):
    """A strategy for one task's turns (see the module docstring)."""

    name: str
    keeps_history: bool
    """True: the conversation carries over to the session's next task (the tool
    protocol, for models that follow a long dialogue). False: each task starts a
    fresh conversation with a short summary of the earlier ones (small models)."""

    def start(self, st: TaskState) -> None:
        """Put the task (and the system prompt, for a new conversation) into ``st.messages``."""
        ...

    def query(self, st: TaskState) -> Query:
        """This turn's request, built from the conversation and the files."""
        ...

    def record(self, st: TaskState, stats: TurnStats, got: Streamed) -> None:
        """Add the reply (marked when partial or failed) to the conversation."""
        ...

    def observe(self, st: TaskState, stats: TurnStats, got: Streamed) -> None:
        """Act on a complete reply; add what the model sees next, or raise ``Stop``."""
        ...
