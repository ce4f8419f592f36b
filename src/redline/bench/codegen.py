"""Ask a model for a function body, and ask again with a checker's findings.

Two ways to ask, chosen by the model: a *base* model (Gemma 3 270M) continues the
prompt as plain completion and is cut at the next top-level statement; a *chat*
model (SmolLM2, any provider) is asked for the function in a code block. Both
can take feedback: the chat model as a follow-up turn, the base model as a
prompt that shows its attempt, the findings as comments, and the prompt again.
The hidden tests never appear in either.

A chat model's retry is a fresh, sampled conversation: the same ask, plus the
finding as a hint. Measured on Qwen2.5-Coder-0.5B over HumanEval problems whose
first answer failed a docstring example: a follow-up turn showing the wrong
answer and its finding fixed none of 8 (the model repeats its answer, or edits
the docstring's example to match it); three fresh samples fixed 3 of 8, three
with the hint 2, four between them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from redline.bench.examples import EXAMPLE_FAILS
from redline.engine.types import GenerationRequest
from redline.providers.base import ChatRequest, Provider, Usage
from redline.providers.drain import drain

COMPLETION_STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n#"]
CHAT_ASK = (
    "Complete this Python function. Reply with the whole function, including its "
    "imports, in one ```python code block.\n\n```python\n{prompt}```"
)
CHAT_HINT = (
    "\n\nCheck your function against the docstring's examples before you answer: "
    "a first attempt got this wrong: {finding}"
)
COMPLETION_FIX = (
    "\n\n# A checker found these errors in the code above:\n{errors}\n# Corrected version:\n\n"
)
_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", re.DOTALL)


@dataclass
class Attempt:
    """One answer: the program to check and score, and what it cost."""

    program: str
    raw: str
    seconds: float
    completion_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    errors: list[str] = field(default_factory=list)


class CodeModel(Protocol):
    """Something that answers a HumanEval prompt, then answers again given errors."""

    name: str
    mode: str

    def first(self, prompt: str, entry_point: str, seed: int | None) -> Attempt: ...

    def sample(
        self,
        prompt: str,
        entry_point: str,
        n: int,
        seed: int,
        temperature: float,
        max_tokens: int | None = None,
    ) -> tuple[list[Attempt], float]:
        """``n`` sampled answers to the first ask, decoded together (one request with
        ``n``: the prompt read once), and the seconds they took together."""
        ...

    def retry(
        self, prompt: str, entry_point: str, previous: Attempt, seed: int | None
    ) -> Attempt: ...


def assemble(prompt: str, answer: str, entry_point: str) -> str:
    """The program to run: the prompt's body completed, or the model's whole function.

    A whole function is appended after the prompt (closed with ``pass``) so the
    prompt's imports and helper functions stay available and the model's
    definition is the one that counts.
    """
    if re.search(rf"^\s*def {re.escape(entry_point)}\s*\(", answer, re.MULTILINE):
        return prompt + "    pass\n\n\n" + answer.strip("\n") + "\n"
    return prompt + answer


def extract_code(reply: str) -> str:
    """The first fenced code block of a chat reply, else the reply itself."""
    match = _FENCE.search(reply)
    return match.group(1) if match else reply


def error_lines(errors: list[str]) -> str:
    return "\n".join(f"# {e}" for e in errors[:10])


class CompletionModel:
    """A base model through the engine: plain continuation of the prompt."""

    mode = "completion"

    def __init__(self, engine: Any, *, max_tokens: int = 384, temperature: float = 0.0) -> None:
        self.engine = engine
        self.name = engine.name
        self.max_tokens = max_tokens
        self.temperature = temperature

    def _run(self, text: str, prompt: str, entry_point: str, seed: int | None) -> Attempt:
        req = GenerationRequest(
            prompt=text,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=seed,
            stop=list(COMPLETION_STOPS),
        )
        start = time.perf_counter()
        out, tm, _ = self.engine.complete(req)
        return Attempt(
            assemble(prompt, out, entry_point),
            out,
            time.perf_counter() - start,
            tm.completion_tokens,
            tm.prompt_tokens,
            tm.cached_tokens,
        )

    def first(self, prompt: str, entry_point: str, seed: int | None) -> Attempt:
        return self._run(prompt, prompt, entry_point, seed)

    def sample(
        self,
        prompt: str,
        entry_point: str,
        n: int,
        seed: int,
        temperature: float,
        max_tokens: int | None = None,
    ) -> tuple[list[Attempt], float]:
        req = GenerationRequest(
            prompt=prompt,
            max_tokens=max_tokens or self.max_tokens,
            temperature=temperature,
            seed=seed,
            stop=list(COMPLETION_STOPS),
            n=n,
        )
        start = time.perf_counter()
        outs = self.engine.complete_n(req)
        seconds = time.perf_counter() - start
        attempts = [
            Attempt(assemble(prompt, out, entry_point), out, 0.0, tm.completion_tokens)
            for out, tm, _ in outs
        ]
        attempts[0].prompt_tokens = outs[0][1].prompt_tokens
        return attempts, seconds

    def retry(self, prompt: str, entry_point: str, previous: Attempt, seed: int | None) -> Attempt:
        shown = previous.program.rstrip("\n")
        text = shown + COMPLETION_FIX.format(errors=error_lines(previous.errors)) + prompt
        return self._run(text, prompt, entry_point, seed)


class ChatModel:
    """A chat model through any provider: the function in a fenced block."""

    mode = "chat"

    def __init__(
        self, provider: Provider, *, max_tokens: int = 512, temperature: float = 0.0
    ) -> None:
        self.provider = provider
        self.name = provider.name
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retry_temperature = 0.7
        """Sampling for a retry after a finding (greedy would repeat the same answer)."""
        self._retries: dict[str, int] = {}

    def _ask(
        self,
        content: str,
        prompt: str,
        entry_point: str,
        seed: int | None,
        temperature: float,
    ) -> Attempt:
        request = ChatRequest(
            messages=[{"role": "user", "content": content}],
            max_tokens=self.max_tokens,
            temperature=temperature,
            seed=seed,
        )
        start = time.perf_counter()
        got = drain(self.provider.stream(request))
        got.raise_error()
        usage = got.usage or Usage()
        reply = got.text
        return Attempt(
            assemble(prompt, extract_code(reply), entry_point),
            reply,
            time.perf_counter() - start,
            usage.completion_tokens,
            usage.prompt_tokens,
            usage.cached_tokens,
        )

    def sample(
        self,
        prompt: str,
        entry_point: str,
        n: int,
        seed: int,
        temperature: float,
        max_tokens: int | None = None,
    ) -> tuple[list[Attempt], float]:
        request = ChatRequest(
            messages=[{"role": "user", "content": CHAT_ASK.format(prompt=prompt)}],
            max_tokens=max_tokens or self.max_tokens,
            temperature=temperature,
            seed=seed,
            n=n,
        )
        start = time.perf_counter()
        got = drain(self.provider.stream(request))
        got.raise_error()
        seconds = time.perf_counter() - start
        usage = got.usage or Usage()
        replies = got.texts(n)
        attempts = [
            Attempt(assemble(prompt, extract_code(r), entry_point), r, 0.0) for r in replies
        ]
        attempts[0].completion_tokens = usage.completion_tokens  # all n replies' tokens
        attempts[0].prompt_tokens = usage.prompt_tokens
        return attempts, seconds

    def first(self, prompt: str, entry_point: str, seed: int | None) -> Attempt:
        self._retries[prompt] = 0
        return self._ask(
            CHAT_ASK.format(prompt=prompt), prompt, entry_point, seed, self.temperature
        )

    def retry(self, prompt: str, entry_point: str, previous: Attempt, seed: int | None) -> Attempt:
        """A fresh sample of the same ask; odd retries add the last finding as a hint.

        Not a follow-up turn: shown its own wrong answer, a small model repeats it.
        On 8 flagged problems, hinted samples fixed 2 and plain ones 3, but not the
        same ones (4 between them), so the retries alternate.
        Seeded by the retry's number (and the run's seed), so a run is reproducible.
        """
        n = self._retries.get(prompt, 0) + 1
        self._retries[prompt] = n
        ask = CHAT_ASK.format(prompt=prompt)
        if previous.errors and n % 2:
            ask += CHAT_HINT.format(finding=previous.errors[0].removeprefix(EXAMPLE_FAILS))
        temperature = max(self.temperature, self.retry_temperature)
        return self._ask(ask, prompt, entry_point, n + 1000 * (seed or 0), temperature)
