"""Which model serves completions and edits, built lazily from the settings.

Local models (an embedded name or a ``.gguf`` path) are run by this process's
engine — for completions directly, as a raw prompt, which is what a base model
like Gemma 3 270M is good at. Anything else goes through
:func:`redline.providers.registry.build_provider`, the same way the agent
picks a provider, so a ``[providers.NAME]`` table or a preset works here too.
Objects are cached per (provider, model) and rebuilt when the settings change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from redline.config import Settings, load_settings
from redline.engine.engine import Engine, get_engine
from redline.engine.types import GenerationRequest
from redline.ide.settings import IdeSettings
from redline.providers.base import Provider
from redline.providers.registry import build_provider, is_local_model


class Backends:
    """Resolves the completion engine/provider and the edit provider."""

    def __init__(self, root: str | None = None) -> None:
        self.config: Settings = load_settings(Path(root) if root else None)
        self._providers: dict[tuple[str | None, str], Provider] = {}
        self._lock = threading.Lock()

    def reload(self, root: str | None) -> None:
        """Re-read redline's configuration from the workspace root."""
        self.config = load_settings(Path(root) if root else None)
        self._providers.clear()

    def completion_engine(self, settings: IdeSettings) -> Engine | None:
        """The engine for completions, or None when they go to a remote provider."""
        model = settings.completion_model(self.config)
        if settings.provider in (None, "local") and is_local_model(model):
            return get_engine(model, n_ctx=self.config.n_ctx)
        return None

    def provider(self, settings: IdeSettings, *, model: str) -> Provider:
        """A provider for ``model`` (built once per provider name and model)."""
        key = (settings.provider, model)
        with self._lock:
            if key not in self._providers:
                self._providers[key] = build_provider(
                    self.config, model=model, provider=settings.provider
                )
            return self._providers[key]

    def completion_provider(self, settings: IdeSettings) -> Provider:
        return self.provider(settings, model=settings.completion_model(self.config))

    def edit_provider(self, settings: IdeSettings) -> Provider:
        return self.provider(settings, model=settings.chat_model(self.config))

    def warm_up(self, settings: IdeSettings, log: Callable[[str], None]) -> None:
        """Load the completion model and run one token, so the first completion is fast."""
        engine = self.completion_engine(settings)
        if engine is None:
            return
        text, timings, _ = engine.complete(
            GenerationRequest(prompt="# Path: warmup.py\n", max_tokens=1)
        )
        log(
            f"redline: {engine.name} ready (fim={engine.has_fim}, "
            f"warm-up {timings.total_s * 1000:.0f} ms)"
        )
