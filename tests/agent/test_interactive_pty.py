"""The interactive session in a real pseudo-terminal: Ctrl-C mid-stream, then /undo."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_helpers import SAMPLE

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


class Terminal:
    def __init__(self, cwd: Path, env: dict[str, str], args: tuple[str, ...] = ()):
        pid, fd = pty.fork()
        if pid == 0:  # the child: become `redline` (with no command: the session)
            os.chdir(cwd)
            argv = [sys.executable, "-c", "from redline.cli import main; main()", *args]
            os.execve(sys.executable, argv, env)
        self.pid, self.fd, self.seen = pid, fd, ""
        self.exit_code: int | None = None

    def expect(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            plain = ANSI.sub("", self.seen)
            if re.search(pattern, plain):
                self.seen = ""
                return plain
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.fd, 4096).decode("utf-8", "replace")
                except OSError:
                    break
        raise AssertionError(f"did not see {pattern!r}; got:\n{ANSI.sub('', self.seen)[-2000:]}")

    def send(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def close(self) -> int:
        """Wait for the child (killing it after 5 s); idempotent."""
        if self.exit_code is None:
            for _ in range(50):
                done, status = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    self.exit_code = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.1)
            else:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                self.exit_code = -9
            os.close(self.fd)
        return self.exit_code


@pytest.mark.timeout(180)
def test_ctrl_c_interrupts_stream_keeps_session_then_undo(sample: Path, tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    replies = [
        {"text": "Let me think about this slowly " * 40, "chunk": 4, "delay_s": 0.05},
        {"calls": [{"name": "write", "arguments": {"path": "notes.md", "content": "hello\n"}}]},
        {"calls": [{"name": "done", "arguments": {"summary": "wrote notes"}}]},
    ]
    script.write_text(json.dumps(replies))
    env = dict(os.environ, REDLINE_PROVIDER="scripted", REDLINE_MODEL=str(script))
    env.update(REDLINE_APPROVAL="full-auto", TERM="xterm", COLUMNS="120")
    term = Terminal(sample, env)
    try:
        term.expect(r"redline> ")
        term.send("explain the project\r")
        term.expect(r"Let me think")
        term.send("\x03")  # Ctrl-C while the model is streaming
        out = term.expect(r"interrupted.*\n?.*redline> ", timeout=30)
        assert out.count("Let me think") < 30  # it stopped early, not after the full reply
        term.send("just write notes.md\r")
        term.expect(r"finished.*\n?.*redline> ")
        assert (sample / "notes.md").read_text() == "hello\n"
        term.send("/tokens\r")
        term.expect(r"turn 1: ttft")
        term.send("/undo\r")
        term.expect(r"deleted notes\.md")
        assert not (sample / "notes.md").exists()
        term.send("/exit\r")
        assert term.close() == 0
    finally:
        term.close()


@pytest.mark.timeout(120)
def test_session_takes_model_and_provider_flags(sample: Path, tmp_path: Path) -> None:
    """`redline -p PROVIDER -m MODEL -a MODE` picks the session's model, as `codex -m`,
    `claude --model` and `aider --model` do (no REDLINE_MODEL needed)."""
    script = tmp_path / "script.json"
    replies = [{"calls": [{"name": "write", "arguments": {"path": "n.md", "content": "x\n"}}]}]
    replies.append({"calls": [{"name": "done", "arguments": {"summary": "ok"}}]})
    script.write_text(json.dumps(replies))
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.update(TERM="xterm", COLUMNS="120", REDLINE_STATE_DIR=str(tmp_path / "state"))
    args = ("-p", "scripted", "-m", str(script), "-a", "full-auto")
    term = Terminal(sample, env, args)
    try:
        term.expect(r"redline> ")
        term.send("write n.md\r")
        term.expect(r"finished.*\n?.*redline> ")
        assert (sample / "n.md").read_text() == "x\n"
        term.send("/exit\r")
        assert term.close() == 0
    finally:
        term.close()


@pytest.mark.timeout(900)
def test_a_session_answers_from_the_file_then_fixes_the_bug(sample: Path, tmp_path: Path) -> None:
    """The session and `exec` are one path: on the real 0.5B model, a question about a
    file is answered from its content (the file is read without ``@``), then the next
    task fixes the failing test, as a one-shot `redline exec` would."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDLINE_")}
    env.update(TERM="xterm", COLUMNS="200", REDLINE_STATE_DIR=str(tmp_path / "state"))
    env.update(REDLINE_CONFIG=str(tmp_path / "none.toml"), REDLINE_NO_PROFILE="1")
    term = Terminal(sample, env, ("-m", "qwen2.5-coder-0.5b", "-a", "auto-edit"))
    try:
        term.expect(r"redline> ", timeout=120)
        term.send("what does inventory/pricing.py do? answer in one sentence\r")
        answer = term.expect(r"■ \w+.*\n?(.*\n)*.*redline> ", timeout=300)
        assert "■ finished" in answer
        assert "does not do anything" not in answer
        # Its content, not its name: what the functions compute.
        assert re.search(r"total|discount|price|cost", answer.split("what does")[-1], re.I)
        original = (SAMPLE / "inventory" / "pricing.py").read_text()
        assert (sample / "inventory" / "pricing.py").read_text() == original  # no edit
        term.send("make the failing test pass\r")
        fixed = term.expect(r"■ \w+.*\n?(.*\n)*.*redline> ", timeout=600)
        assert "■ finished" in fixed, fixed[-3000:]
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
            cwd=sample,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert tests.returncode == 0, tests.stdout[-2000:]
        term.send("/exit\r")
        assert term.close() == 0
    finally:
        term.close()
