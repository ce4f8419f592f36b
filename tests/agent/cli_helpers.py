"""Run ``redline exec`` as a user would, against fake OpenAI-compatible servers on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))

from fakeserver import FakeServer, Faults  # noqa: E402

CLI = "from redline.cli import main; main()"


def call(name: str, **arguments: Any) -> dict[str, Any]:
    """One scripted turn: a native tool call."""
    return {"tool_call": {"name": name, "arguments": json.dumps(arguments)}}


def serve(script: list[dict[str, Any]], **faults: Any) -> FakeServer:
    return FakeServer(Faults(script=script, **faults))


def write_config(root: Path, servers: dict[str, FakeServer], router: dict[str, Any] | None) -> None:
    lines = []
    for name, server in servers.items():
        lines += [
            f"[providers.{name}]",
            f'base_url = "{server.base_url}"',
            'model = "fake"',
            "read_timeout = 1.5",
            "max_retries = 0",
            "",
        ]
    if router is not None:
        lines.append("[router]")
        lines.append("providers = [" + ", ".join(f'"{n}"' for n in servers) + "]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in router.items()]
    (root / "redline.toml").write_text("\n".join(lines) + "\n")


def exec_json(
    root: Path, task: str, *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """``redline exec TASK --json ARGS``; returns the process and its events."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_APPROVAL")}
    full.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", CLI, "exec", task, "--json", *args],
        cwd=root,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc, events


def sent(server: FakeServer) -> str:
    """Everything the server was sent, as one string (for leak checks)."""
    return json.dumps(server.stats.requests)
