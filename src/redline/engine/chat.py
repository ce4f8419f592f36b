"""Rendering chat messages with the model's own template (from its GGUF metadata).

Models without a template (base models such as Gemma 3 270M) get a plain
transcript layout, so chat requests still work on them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import jinja2
import llama_cpp
from jinja2.sandbox import ImmutableSandboxedEnvironment

FALLBACK_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% else %}Assistant: {{ m['content'] }}\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)


def content_text(content: Any) -> str:
    """OpenAI content may be a list of parts; keep the text ones."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def _raise(message: str) -> None:
    raise jinja2.exceptions.TemplateError(message)


def _compile(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True
    )
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.datetime.now().strftime(fmt)
    return env.from_string(source)


@dataclass
class ChatTemplate:
    template: jinja2.Template
    eos_text: str
    bos_text: str
    add_bos: bool
    native: bool
    stop: list[str]

    @classmethod
    def from_llama(cls, llm: llama_cpp.Llama) -> ChatTemplate:
        vocab = llama_cpp.llama_model_get_vocab(llm._model.model)
        bos_id = llama_cpp.llama_vocab_bos(vocab)
        eos_id = llama_cpp.llama_vocab_eos(vocab)
        bos = llm._model.token_get_text(bos_id) if bos_id >= 0 else ""
        eos = llm._model.token_get_text(eos_id) if eos_id >= 0 else ""
        template = llm.metadata.get("tokenizer.chat_template")
        add_bos = bool(llama_cpp.llama_vocab_get_add_bos(vocab))
        stop = [] if template else ["\nUser:"]
        return cls(
            _compile(template or FALLBACK_TEMPLATE), eos, bos, add_bos, template is not None, stop
        )

    def render(self, messages: list[dict[str, Any]], add_generation_prompt: bool = True) -> str:
        clean = []
        for m in messages:
            msg = {"role": m.get("role", "user"), "content": content_text(m.get("content"))}
            clean.append(msg)
        return self.template.render(
            messages=clean,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_text,
            eos_token=self.eos_text,
        )

    def tokenize_rendered(self, llm: llama_cpp.Llama, text: str) -> list[int]:
        """Tokenise a rendered prompt: special tokens parsed, BOS added once."""
        has_bos = bool(self.bos_text) and text.startswith(self.bos_text)
        return llm.tokenize(
            text.encode("utf-8"), add_bos=self.add_bos and not has_bos, special=True
        )
