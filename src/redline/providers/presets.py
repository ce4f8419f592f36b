"""Ready-made OpenAI-compatible backends, as data.

A preset is a base URL, the name of the environment variable that holds the
key, and a default model. A ``[providers.NAME]`` table in ``redline.toml`` may
start from one (``preset = "groq"``) and override any field, so adding a vendor
is one dict entry here or four lines of TOML there, never new code.

``key_required`` is false for servers on this machine, which accept any key or
none. ``prediction`` says whether the backend accepts OpenAI's ``prediction``
parameter (predicted outputs); where it is false redline leaves it out, so a
backend that rejects unknown fields still works. ``n`` says whether it returns
several choices for one request (OpenAI ``n``): where it does not (llama-server,
Ollama), N candidate replies are N requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redline.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """One known backend: where it is, which env var holds its key, what to ask for."""

    name: str
    base_url: str
    key_env: str
    model: str
    key_required: bool
    prediction: bool
    description: str
    n: bool = True


_PRESETS: dict[str, dict[str, Any]] = {
    "cerebras": {
        "base_url": "https://api.cerebras.ai/v1",
        "key_env": "CEREBRAS_API_KEY",
        "model": "llama-3.3-70b",
        "key_required": True,
        "prediction": False,
        "description": "Cerebras inference (very fast first token and decode)",
    },
    "openai": {
        "base_url": "https://api.openai.com/v1",
        "key_env": "OPENAI_API_KEY",
        "model": "gpt-4o-mini",
        "key_required": True,
        "prediction": True,
        "description": "OpenAI",
    },
    "groq": {
        "base_url": "https://api.groq.com/openai/v1",
        "key_env": "GROQ_API_KEY",
        "model": "llama-3.1-8b-instant",
        "key_required": True,
        "prediction": False,
        "description": "Groq LPU inference",
    },
    "openrouter": {
        "base_url": "https://openrouter.ai/api/v1",
        "key_env": "OPENROUTER_API_KEY",
        "model": "meta-llama/llama-3.1-8b-instruct",
        "key_required": True,
        "prediction": False,
        "description": "OpenRouter (many vendors behind one key)",
    },
    "ollama": {
        "base_url": "http://127.0.0.1:11434/v1",
        "key_env": "OLLAMA_API_KEY",
        "model": "qwen2.5-coder:1.5b",
        "key_required": False,
        "prediction": False,
        "description": "Ollama on this machine",
        "n": False,
    },
    "vllm": {
        "base_url": "http://127.0.0.1:8000/v1",
        "key_env": "VLLM_API_KEY",
        "model": "Qwen/Qwen2.5-Coder-7B-Instruct",
        "key_required": False,
        "prediction": False,
        "description": "vLLM OpenAI-compatible server",
    },
    "llamacpp": {
        "base_url": "http://127.0.0.1:8080/v1",
        "key_env": "LLAMA_API_KEY",
        "model": "default",
        "key_required": False,
        "prediction": False,
        "description": "llama.cpp llama-server",
        "n": False,
    },
    "redline": {
        "base_url": "http://127.0.0.1:8088/v1",
        "key_env": "REDLINE_API_KEY",
        "model": "smollm2-135m",
        "key_required": False,
        "prediction": True,
        "description": "redline serve (speculative edits from `prediction`)",
    },
}

PRESETS: dict[str, Preset] = {name: Preset(name=name, **data) for name, data in _PRESETS.items()}
"""Every preset by name; read-only by convention."""


def get_preset(name: str) -> Preset:
    """The preset called ``name``, or a ConfigError that lists the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        known = ", ".join(sorted(PRESETS))
        raise ConfigError(
            f"unknown provider preset {name!r}; known presets: {known}",
            hint="define it as a [providers.NAME] table with base_url, model and api_key_env",
        ) from None
