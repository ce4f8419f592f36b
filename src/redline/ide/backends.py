"""Which model serves completions and edits, built lazily from the settings.

Everything goes through :func:`redline.providers.registry.build_provider`, the
same way the agent picks a provider: a local model (an embedded name or a
``.gguf`` path) is the in-process engine behind a ``LocalProvider``, anything
else a remote endpoint, a ``[providers.NAME]`` table or a preset. Completions
then take one path for both (``completion.complete_text``: FIM where the model
has it). Objects are cached per (provider, model) and rebuilt when the settings
change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from redline.config import Settings, load_settings
from redline.ide.settings import IdeSettings
from redline.providers.base import CompletionRequest, Provider, TextCompleter
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

    def provider(self, settings: IdeSettings, *, model: str) -> Provider:
        """A provider for ``model`` (built once per provider name and model)."""
        name = None if settings.provider == "local" and is_local_model(model) else settings.provider
        key = (name, model)
        with self._lock:
            if key not in self._providers:
                self._providers[key] = build_provider(self.config, model=model, provider=name)
            return self._providers[key]

    def completion_provider(self, settings: IdeSettings) -> Provider:
        return self.provider(settings, model=settings.completion_model(self.config))

    def edit_provider(self, settings: IdeSettings) -> Provider:
        return self.provider(settings, model=settings.chat_model(self.config))

    def warm_up(self, settings: IdeSettings, log: Callable[[str], None]) -> None:
        """Load a local completion model and run one token, so the first completion is fast."""
        if not is_local_model(settings.completion_model(self.config)):
            return
        provider = self.completion_provider(settings)
        if not isinstance(provider, TextCompleter):
            return
        start = time.perf_counter()
        for _ in provider.complete(CompletionRequest(prompt="# Path: warmup.py\n", max_tokens=1)):
            pass
        log(
            f"redline: {provider.name} ready (fim={provider.supports_fim}, "
            f"warm-up {(time.perf_counter() - start) * 1000:.0f} ms)"
        )
