"""Pick the provider for ``--model`` / ``--provider``.

``scripted`` is handled here (the model name is the path of a script, see
:mod:`redline.providers.scripted`) so demos and tests run without a model;
everything else goes to the providers registry, imported lazily so that
``redline --help`` stays fast.
"""

from __future__ import annotations

import os

from redline.config import Settings
from redline.errors import ConfigError
from redline.providers.base import Provider


def select_provider(
    settings: Settings,
    *,
    model: str | None = None,
    provider: str | None = None,
    parallel: int = 1,
) -> Provider:
    """A provider for the flags, falling back to the settings (and the embedded model).

    ``parallel``: turns the caller will run at once (``--parallel N``); an
    in-process engine is built to decode that many together."""
    provider = provider or settings.provider
    if provider == "scripted" or (model or "").startswith("scripted:"):
        from redline.providers.scripted import ScriptedProvider

        path = (model or "").removeprefix("scripted:") or os.environ.get("REDLINE_SCRIPT", "")
        if provider == "scripted" and not model:
            path = path or settings.model
        if not path or not os.path.isfile(path):
            raise ConfigError(
                f"scripted provider needs a script file, got {path!r}",
                hint="--provider scripted --model path/to/replies.json",
            )
        return ScriptedProvider.from_file(path)
    try:
        from redline.providers.registry import build_provider
    except ImportError as exc:
        raise ConfigError(f"providers are not available: {exc}") from exc
    return build_provider(settings, model=model, provider=provider, parallel=parallel)
