"""Ask a model for a function body, and ask again with a checker's findings.

Two ways to ask, chosen by the model: a *base* model (Gemma 3 270M) continues the
prompt as plain completion and is cut at the next top-level statement; a *chat*
model (SmolLM2, any provider) is asked for the function in a code block. Both
can take feedback: the chat model as a follow-up turn, the base model as a
prompt that shows its attempt, the findings as comments, and the prompt again.
The hidden tests never appear in either.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from redline.engine.types import GenerationRequest
from redline.providers.base import ChatRequest, ErrorEvent, Provider, TextDelta, Usage

COMPLETION_STOPS = ["\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\nassert ", "\n#"]
CHAT_ASK = (
    "Complete this Python function. Reply with the whole function, including its "
    "imports, in one ```python code block.\n\n```python\n{prompt}```"
)
CHAT_FIX = (
    "Checking your code found:\n{errors}\n"
    "Reply with the corrected whole function in one ```python code block."
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
        self._turns: dict[str, list[dict[str, str]]] = {}

    def _ask(
        self,
        messages: list[dict[str, str]],
        prompt: str,
        entry_point: str,
        seed: int | None,
        temperature: float | None = None,
    ) -> Attempt:
        request = ChatRequest(
            messages=messages,
            max_tokens=self.max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            seed=seed,
        )
        start = time.perf_counter()
        parts: list[str] = []
        usage = Usage()
        for event in self.provider.stream(request):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, Usage):
                usage = event
            elif isinstance(event, ErrorEvent):
                raise event.error
        reply = "".join(parts)
        attempt = Attempt(
            assemble(prompt, extract_code(reply), entry_point),
            reply,
            time.perf_counter() - start,
            usage.completion_tokens,
            usage.prompt_tokens,
            usage.cached_tokens,
        )
        messages.append({"role": "assistant", "content": reply})
        return attempt

    def first(self, prompt: str, entry_point: str, seed: int | None) -> Attempt:
        messages = [{"role": "user", "content": CHAT_ASK.format(prompt=prompt)}]
        self._turns[prompt] = messages
        return self._ask(messages, prompt, entry_point, seed)

    def retry(self, prompt: str, entry_point: str, previous: Attempt, seed: int | None) -> Attempt:
        messages = self._turns.setdefault(prompt, [])
        fix = CHAT_FIX.format(errors="\n".join(previous.errors[:10]))
        messages.append({"role": "user", "content": fix})
        # Greedy decoding mostly repeats the answer it was shown to be wrong; a sampled
        # retry explores (seeded by the turn, so a run is reproducible).
        temperature = max(self.temperature, self.retry_temperature)
        return self._ask(messages, prompt, entry_point, len(messages), temperature)
