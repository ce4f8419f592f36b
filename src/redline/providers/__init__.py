"""Providers: one way to stream a chat turn from any backend.

The common case is one call::

    from redline.providers import build_provider
    provider = build_provider(load_settings(), model=flag_model, provider=flag_provider)
    for event in provider.stream(ChatRequest(messages=[...])):
        ...

Names are imported lazily, so ``import redline.providers`` stays cheap (the
``openai`` client and llama.cpp load only when a provider is built).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "build_provider": "redline.providers.registry",
    "configured_specs": "redline.providers.registry",
    "ProviderSpec": "redline.providers.registry",
    "Router": "redline.providers.router",
    "OpenAICompatProvider": "redline.providers.openai_compat",
    "LocalProvider": "redline.providers.local",
    "PRESETS": "redline.providers.presets",
    "Preset": "redline.providers.presets",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'redline.providers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
