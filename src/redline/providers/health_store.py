"""Router health that outlives one process, for a short while.

Each ``redline exec`` is a new process; without this, every run would start by
trusting a backend the previous run just saw die. The store keeps, per
provider (name, base URL and model), the circuit breaker (open until when,
recent outcomes) and the latency estimates, as JSON in the user state dir.
Entries older than ``ttl_s`` are ignored: health is news, not history. Times
are stored as wall-clock seconds and mapped onto the router's monotonic clock.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from redline.config import state_dir
from redline.providers.member import Member

FILE_NAME = "router-health.json"
DEFAULT_TTL_S = 300.0


def member_key(member: Member) -> str:
    """Who a provider is: the same name on another URL or model is another backend."""
    provider = member.provider
    url = getattr(provider, "base_url", "") or ""
    model = getattr(provider, "model", "") or ""
    return f"{member.name}|{url}|{model}"


class HealthStore:
    """A JSON file of router health entries, each valid for ``ttl_s`` seconds."""

    def __init__(self, path: Path | None = None, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.path = path or state_dir() / FILE_NAME
        self.ttl_s = ttl_s

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a torn or foreign file: start afresh, it is only a cache
        now = time.time()
        return {
            k: v
            for k, v in (data if isinstance(data, dict) else {}).items()
            if isinstance(v, dict) and now - float(v.get("saved_at", 0)) <= self.ttl_s
        }

    def restore(self, members: Sequence[Member], clock: Callable[[], float]) -> None:
        """Load fresh entries into ``members`` (breakers and latency estimates)."""
        entries = self._load()
        offset = clock() - time.time()  # wall -> monotonic
        for member in members:
            entry = entries.get(member_key(member))
            if entry is None:
                continue
            breaker, stats = member.breaker, member.stats
            breaker.failures = int(entry.get("failures", 0))
            breaker.outcomes.extend(bool(x) for x in entry.get("outcomes", []))
            if entry.get("opened_at") is not None:
                breaker.opened_at = float(entry["opened_at"]) + offset
            stats.seen = int(entry.get("seen", 0))
            stats.samples = int(entry.get("samples", 0))
            stats.ttft_ewma = entry.get("ttft_ewma")
            stats.tok_s_ewma = entry.get("tok_s_ewma")
            stats.recent_ttft.extend(float(x) for x in entry.get("recent_ttft", []))
            if entry.get("last_sample_at") is not None:
                stats.last_sample_at = float(entry["last_sample_at"]) + offset

    def save(self, members: Sequence[Member], clock: Callable[[], float]) -> None:
        """Merge ``members``' state into the file (atomically; other keys are kept)."""
        entries = self._load()
        now = time.time()
        offset = now - clock()  # monotonic -> wall
        for member in members:
            breaker, stats = member.breaker, member.stats
            entries[member_key(member)] = {
                "saved_at": now,
                "failures": breaker.failures,
                "outcomes": list(breaker.outcomes),
                "opened_at": None if breaker.opened_at is None else breaker.opened_at + offset,
                "seen": stats.seen,
                "samples": stats.samples,
                "ttft_ewma": stats.ttft_ewma,
                "tok_s_ewma": stats.tok_s_ewma,
                "recent_ttft": list(stats.recent_ttft),
                "last_sample_at": (
                    None if stats.last_sample_at is None else stats.last_sample_at + offset
                ),
            }
        self._write(entries)

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".router-health.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entries, fh)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
