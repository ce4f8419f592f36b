"""aider as a benchmark runner, against the same OpenAI-compatible endpoint as redline.

aider's pins conflict with redline's, so it lives in its own virtual environment
(``.venv-aider``, made by ``make bench-setup``) and runs as a child process per
try: ``aider --message ... FILE`` edits the stub with aider's own default edit
format and prompts, then exits. Its printed report gives the tokens
("Tokens: 1.2k sent, 300 received.") and whether a reply failed to parse ("The
LLM did not conform to the edit format."), aider's own malformed-reply count.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from redline.bench.harness import TryStats
from redline.bench.polyglot import Exercise
from redline.bench.sandbox import die_with_parent
from redline.errors import ConfigError

MALFORMED = "did not conform to the edit format"
TRUNCATED = "has hit a token limit"
_TOKENS = re.compile(r"Tokens: ([\d.]+k?) sent(?:, [^,]*)*?, ([\d.]+k?) received")


def find_aider(venv: str | Path = ".venv-aider") -> Path:
    """``.venv-aider/bin/aider`` (from the working directory or the source checkout)."""
    candidates = [Path(venv) / "bin" / "aider"]
    here = Path(__file__).resolve()
    candidates += [p / ".venv-aider" / "bin" / "aider" for p in here.parents[:4]]
    for cand in candidates:
        if cand.is_file():
            return cand.resolve()
    raise ConfigError(
        "aider is not installed: .venv-aider/bin/aider not found",
        hint="run `make bench-setup` (it makes .venv-aider with aider-chat; aider's pins "
        "conflict with redline's, so it is never in the main install)",
    )


def parse_tokens(text: str) -> tuple[int, int]:
    """Sum aider's per-message token reports (each report covers one exchange)."""

    def count(s: str) -> int:
        return int(float(s[:-1]) * 1000) if s.endswith("k") else int(s)

    sent = received = 0
    for m in _TOKENS.finditer(text):
        sent += count(m.group(1))
        received += count(m.group(2))
    return sent, received


class AiderRunner:
    """One aider process per try, pointed at ``base_url`` with model ``openai/<model>``."""

    def __init__(self, base_url: str, model: str, *, aider: Path | None = None) -> None:
        self.base_url = base_url
        self.model = model
        self.aider = aider or find_aider()
        self.name = "aider"
        self.ws: Path | None = None
        self.files: tuple[str, ...] = ()
        self.home = Path(tempfile.mkdtemp(prefix="redline-aider-home-"))
        self.last_output = ""

    def command(self, message: str) -> list[str]:
        return [
            str(self.aider),
            "--model",
            f"openai/{self.model}",
            "--openai-api-base",
            self.base_url,
            "--openai-api-key",
            "x",
            "--yes-always",
            "--no-check-update",
            "--no-show-model-warnings",
            "--no-analytics",
            "--no-auto-commits",
            "--no-git",
            "--no-pretty",
            "--no-fancy-input",
            "--no-detect-urls",
            "--message",
            message,
            *self.files,
        ]

    def begin(self, ws: Path, exercise: Exercise) -> None:
        self.ws = ws
        self.files = exercise.solution

    def attempt(self, message: str, try_no: int, deadline: float) -> TryStats:
        assert self.ws is not None, "begin() first"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return TryStats(status="time_limit")
        env = {
            **os.environ,
            "HOME": str(self.home),
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "PYTHONUNBUFFERED": "1",
        }
        start = time.monotonic()
        proc = subprocess.Popen(
            self.command(message),
            cwd=self.ws,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        status = "finished"
        try:
            out, _ = proc.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            status = "time_limit"
        except BaseException:  # interrupted: never leave aider running behind us
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        text = out.decode("utf-8", errors="replace")
        self.last_output = text
        if status == "finished" and proc.returncode != 0:
            status = f"exit {proc.returncode}"
        sent, received = parse_tokens(text)
        return TryStats(
            well_formed=MALFORMED not in text,
            model_s=time.monotonic() - start,
            prompt_tokens=sent,
            completion_tokens=received,
            turns=max(1, text.count("Tokens: ")),
            truncated_replies=text.count(TRUNCATED),
            status=status,
        )

    def transcript(self) -> str:
        """aider's own chat log of the case (``.aider.chat.history.md`` in its folder)."""
        log = self.ws / ".aider.chat.history.md" if self.ws is not None else None
        return log.read_text(errors="replace") if log is not None and log.is_file() else ""

    def end(self) -> None:
        self.ws = None

    def close(self) -> None:
        """Remove the private HOME this runner gave aider."""
        shutil.rmtree(self.home, ignore_errors=True)
