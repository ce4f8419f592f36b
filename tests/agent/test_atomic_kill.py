"""kill -9 in the middle of large writes leaves every file old or new, never torn."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

WRITER = r"""
import sys, pathlib
from redline.agent.environment.workspace import Workspace
ws = Workspace(sys.argv[1])
old, new = pathlib.Path(sys.argv[2]).read_text(), pathlib.Path(sys.argv[3]).read_text()
print("ready", flush=True)
i = 0
while True:
    ws.write_text("big.txt", new if i % 2 == 0 else old)
    i += 1
"""


def test_kill_9_during_large_writes_never_truncates(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    old = "old line\n" * 400_000  # ~3.6 MB: each write takes a while
    new = "NEW LINE!\n" * 400_000
    (tmp_path / "old").write_text(old)
    (tmp_path / "new").write_text(new)
    (root / "big.txt").write_text(old)
    for delay in (0.05, 0.13, 0.21, 0.34, 0.5):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(tmp_path / "old"), str(tmp_path / "new")],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        content = (root / "big.txt").read_text()
        assert content in (old, new), f"torn file after kill at {delay}s ({len(content)} chars)"
    leftovers = [p.name for p in root.iterdir() if p.name != "big.txt"]
    assert all(name.endswith(".redline-tmp") for name in leftovers)
