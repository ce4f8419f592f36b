"""Bare llama-cpp-python, ``bench decode``'s peer, in a child process.

The child loads the same GGUF through redline's loader (so its weights are not
repacked, exactly as redline's are: the comparison is of the decoding code, not
of two weight layouts), then answers one line per request on stdin with the
decode rate of ``Llama.create_completion`` streaming greedily. It idles between
requests, so the parent can interleave it with redline's runs and machine noise
hits both alike. Being a process of its own, a crash in native code ends the
child, not the benchmark: the parent reads the exit status (:mod:`.peers`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from redline.bench.peers import PeerGuard

NAME = "llama-cpp-python"
RAN_AS = "child process, loaded by redline's loader: weights not repacked, as redline's"


def peer_command(path: Path, n_ctx: int, n_threads: int) -> list[str]:
    """The child's command line (a test swaps in one that crashes)."""
    return [sys.executable, "-m", "redline.bench.baseline", str(path), str(n_ctx), str(n_threads)]


class BareBaseline:
    """The child process; :meth:`tok_s` raises ``EOFError``/``OSError`` if it has died."""

    def __init__(self, path: Path, n_ctx: int, n_threads: int, guard: PeerGuard) -> None:
        self.proc = subprocess.Popen(
            peer_command(path, n_ctx, n_threads),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        guard.proc = self.proc
        self._read()  # {"ready": true} once the model is loaded

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise EOFError("the baseline process closed its output")
        return json.loads(line)

    def tok_s(self, prompt: str, max_tokens: int) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"prompt": prompt, "max_tokens": max_tokens}) + "\n")
        self.proc.stdin.flush()
        return float(self._read()["tok_s"])

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()  # the child's loop ends at end of input
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def bare_tok_s(llm: Any, prompt: str, max_tokens: int) -> float:
    """Decode tok/s of one greedy streamed completion, from the first token to the last."""
    llm.reset()
    first = None
    n = 0
    for _ in llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, stream=True):
        n += 1
        if first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    return (n - 1) / (end - first) if first and n > 1 else 0.0


def main(argv: list[str]) -> None:
    from redline.engine.loader import load_llama

    path, n_ctx, n_threads = Path(argv[0]), int(argv[1]), int(argv[2])
    llm = load_llama(path, n_ctx=n_ctx, n_threads=n_threads)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        rate = bare_tok_s(llm, req["prompt"], req["max_tokens"])
        print(json.dumps({"tok_s": rate}), flush=True)
    llm.close()


if __name__ == "__main__":
    main(sys.argv[1:])
