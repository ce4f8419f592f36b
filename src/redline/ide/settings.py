"""Settings of the language server, as an editor sends them.

An editor passes them in ``initializationOptions`` at start-up and may change
them later through ``workspace/configuration`` (section ``redline``) or
``workspace/didChangeConfiguration``. Keys are camelCase, as editors write them;
snake_case is accepted too. Anything not given falls back to redline's own
configuration (``redline.toml``, ``REDLINE_*``), so an editor needs no settings
at all. A bad value is a :class:`~redline.errors.ConfigError` naming the key,
which the server reports with ``window/logMessage`` and then ignores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from redline.config import Settings
from redline.errors import ConfigError


@dataclass(frozen=True)
class IdeSettings:
    """What the server's features read; every field has a working default."""

    model: str | None = None
    """Completion model; None means ``completion_model`` from redline's config."""
    provider: str | None = None
    """Provider name for completions and edits (``[providers.NAME]``, a preset, ``router``)."""
    edit_model: str | None = None
    """Model for "Edit with redline…"; None means redline's chat ``model``."""
    max_tokens: int = 48
    """Most tokens one inline completion may generate (it usually stops sooner)."""
    edit_max_tokens: int = 1024
    """Most tokens one rewrite of a selection may generate."""
    deadline_ms: int = 1300
    """From the request's arrival: stop generating then and offer the whole lines written
    so far (0: no limit). Debounce and waiting for the model count against it."""
    debounce_ms: int = 60
    """Wait this long after a completion request; a newer request in the meantime wins."""
    diagnostics: bool = True
    """Publish syntax and unresolved-name diagnostics for open Python files."""
    diagnostics_debounce_ms: int = 300
    """Wait this long after the last change before checking a file again."""
    ruff: bool = False
    """Also run ruff (slower: a subprocess per check) for diagnostics."""
    context_lines: int = 60
    """Lines of code before the cursor that a completion prompt holds (at most)."""
    suffix_lines: int = 12
    """Lines after the cursor shown to a model without fill-in-the-middle tokens."""
    warmup: bool = True
    """Load the completion model as soon as the editor has initialized."""

    def merged(self, options: Any) -> IdeSettings:
        """These settings overridden by an editor's options object (or unchanged for None)."""
        if options is None:
            return self
        if not isinstance(options, dict):
            raise ConfigError(f"redline settings must be an object, got {type(options).__name__}")
        if isinstance(options.get("redline"), dict):  # {"redline": {...}} as some clients nest
            options = options["redline"]
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for key, value in options.items():
            name = _snake(key)
            if name not in known:
                continue  # unknown keys are other tools' settings, not errors
            changes[name] = _coerce(name, value, getattr(self, name))
        return replace(self, **changes)

    def completion_model(self, config: Settings) -> str:
        return self.model or config.completion_model

    def chat_model(self, config: Settings) -> str:
        return self.edit_model or config.model


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def _coerce(name: str, value: Any, current: Any) -> Any:
    """``value`` checked against the type of the field's default."""
    if value is None:
        if name in ("model", "provider", "edit_model"):
            return None
        raise ConfigError(f"redline setting {name!r} cannot be null")
    if isinstance(current, bool) or name in ("diagnostics", "ruff", "warmup"):
        if not isinstance(value, bool):
            raise ConfigError(f"redline setting {name!r} must be true or false, got {value!r}")
        return value
    if isinstance(current, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(
                f"redline setting {name!r} must be a non-negative integer, got {value!r}"
            )
        if name in ("max_tokens", "edit_max_tokens") and value < 1:
            raise ConfigError(f"redline setting {name!r} must be at least 1")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"redline setting {name!r} must be a non-empty string, got {value!r}")
    return value.strip()
