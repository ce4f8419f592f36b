"""A scratch copy of the workspace: where one candidate is applied and checked.

A candidate must never touch the user's tree until it is chosen, and N
candidates must not see each other's edits, so each gets a private copy of
the project's files (what :meth:`Workspace.list_files` calls the project:
tracked and untracked-not-ignored files, no ``.git``, no virtualenvs) in a
temporary folder. Files are copied, never hard-linked: a test run writing a
file in the copy must not write the user's inode.

Commands in the copy run in a :class:`ScratchSandbox`: the ordinary sandbox
(writes confined to the copy) whose ``PYTHONPATH`` puts the copy first, so an
editable install of the project cannot make the tests import the user's files
instead of the candidate's.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from redline.agent.environment.sandbox import Sandbox
from redline.agent.environment.workspace import Workspace, atomic_write


@dataclass
class ScratchSandbox(Sandbox):
    """The sandbox of a scratch copy: its own root first on ``PYTHONPATH``."""

    @contextmanager
    def command(
        self, argv: list[str], extra_env: Mapping[str, str] | None = None
    ) -> Iterator[tuple[list[str], dict[str, str]]]:
        first = [str(self.root)] + (
            [str(self.root / "src")] if (self.root / "src").is_dir() else []
        )
        rest = os.environ.get("PYTHONPATH", "")
        path = os.pathsep.join([*first, *([rest] if rest else [])])
        with super().command(argv, {**(extra_env or {}), "PYTHONPATH": path}) as pair:
            yield pair


class ScratchCopy:
    """A private copy of ``source``'s project files; ``close`` removes it."""

    def __init__(self, source: Workspace, files: list[str] | None = None, prefix: str = "cand"):
        self.source = source
        self.folder = Path(tempfile.mkdtemp(prefix=f"redline-{prefix}-"))
        for rel in files if files is not None else source.list_files():
            src = source.root / rel
            if not src.is_file():
                continue
            dest = self.folder / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest, follow_symlinks=True)
        self.ws = Workspace(self.folder)

    def write(self, files: Mapping[str, str]) -> None:
        """Put a candidate's file texts in the copy (refused paths raise WorkspaceError)."""
        for rel, text in files.items():
            target = self.ws.resolve(rel)
            atomic_write(target, text.encode("utf-8"))

    def sandbox(self, template: Sandbox) -> ScratchSandbox:
        """A sandbox like ``template`` (mode, network) but rooted in this copy; it never
        asks: a confined test run needs no approval and the copy is throwaway."""
        return ScratchSandbox(
            self.folder, template.mode, network=template.network, approval="full-auto"
        )

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ScratchCopy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
