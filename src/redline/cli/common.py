"""State shared by the CLI modules (the --debug flag) and small helpers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _State:
    debug: bool = False


state = _State()
