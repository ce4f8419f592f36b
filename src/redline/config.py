"""Settings and the places redline keeps files.

Precedence, lowest to highest: built-in defaults < user config file
(``<user config dir>/config.toml``) < project ``redline.toml`` (searched from the
working directory upwards) < environment variables (``REDLINE_*``) < command-line
flags. Each layer only overrides the keys it sets.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from redline.errors import ConfigError

APP = "redline"

DEFAULT_CHAT_MODEL = "qwen2.5-coder-0.5b"
"""The agent's and chat's default: the coder model with the best solved-per-second over
the agent tasks measured here, the 34 polyglot exercises and the demo's sample bug
(1 solved each; the 0.5B took 0.78x the 1.5B's time per task; ``docs/models.md``)."""
DEFAULT_COMPLETION_MODEL = "qwen2.5-coder-0.5b"
"""Inline completion: fill-in-the-middle on the fastest coder model."""
SANDBOX_MODES = ("workspace-write", "read-only", "off")


def cache_dir() -> Path:
    """Where derived files live (the assembled Gemma GGUF); safe to delete."""
    override = os.environ.get("REDLINE_CACHE_DIR")
    path = Path(override) if override else Path(platformdirs.user_cache_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    """Where sessions, logs and checkpoints live; never inside the user's repo."""
    override = os.environ.get("REDLINE_STATE_DIR")
    path = Path(override) if override else Path(platformdirs.user_state_dir(APP))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_config_path() -> Path:
    override = os.environ.get("REDLINE_CONFIG")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def find_project_config(start: Path | None = None) -> Path | None:
    """The nearest ``redline.toml`` from ``start`` upwards, if any."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "redline.toml"
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", hint="fix or remove the file") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class Settings:
    """The merged configuration; ``raw`` keeps every table for layers that need more."""

    model: str = DEFAULT_CHAT_MODEL
    completion_model: str = DEFAULT_COMPLETION_MODEL
    provider: str | None = None
    approval: str = "suggest"
    sandbox: str = "workspace-write"
    """Where the agent's commands run: workspace-write, read-only or off."""
    sandbox_network: bool = False
    """Let sandboxed commands use the network."""
    n_ctx: int = 8192
    threads: int | None = None
    edit_format: str | None = None
    """The agent's edit protocol (whole, diff, tools); None picks by model."""
    candidates: int | None = None
    """Replies tried per agent task, each checked in a scratch copy, the best kept;
    None picks by task and provider (agent/candidates/defaults.py)."""
    budget: float | None = None
    """Seconds for a task's candidate rounds; None: the task's time limit."""
    vote: bool = False
    """With nothing to check candidates by, let N replies vote (else one reply)."""
    gpu_layers: str = "auto"
    """Layers offloaded to a GPU: auto (what fits in free memory), 0 (CPU) or a count."""
    raw: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    @property
    def providers(self) -> dict[str, dict[str, Any]]:
        return dict(self.raw.get("providers", {}))

    @property
    def router(self) -> dict[str, Any]:
        return dict(self.raw.get("router", {}))


_ENV_KEYS = {
    "REDLINE_MODEL": "model",
    "REDLINE_COMPLETION_MODEL": "completion_model",
    "REDLINE_PROVIDER": "provider",
    "REDLINE_APPROVAL": "approval",
    "REDLINE_SANDBOX": "sandbox",
    "REDLINE_SANDBOX_NETWORK": "sandbox_network",
    "REDLINE_N_CTX": "n_ctx",
    "REDLINE_THREADS": "threads",
    "REDLINE_EDIT_FORMAT": "edit_format",
    "REDLINE_GPU_LAYERS": "gpu_layers",
    "REDLINE_CANDIDATES": "candidates",
    "REDLINE_BUDGET": "budget",
    "REDLINE_VOTE": "vote",
}


def load_settings(start: Path | None = None, **flags: Any) -> Settings:
    """Merge defaults, user file, project file, environment and flags, in that order."""
    merged: dict[str, Any] = {}
    sources: list[str] = []
    for path in (user_config_path(), find_project_config(start)):
        if path is not None and path.is_file():
            merged = _merge(merged, _read_toml(path))
            sources.append(str(path))
    for env, key in _ENV_KEYS.items():
        if os.environ.get(env):
            merged[key] = os.environ[env]
            sources.append(f"${env}")
    for key, value in flags.items():
        if value is not None:
            merged[key] = value
    settings = Settings(raw=merged, sources=sources)
    for key in (
        "model",
        "completion_model",
        "provider",
        "approval",
        "sandbox",
        "edit_format",
        "gpu_layers",
    ):
        if merged.get(key) is not None:
            setattr(settings, key, str(merged[key]))
    for key, kind in (("n_ctx", int), ("threads", int), ("candidates", int), ("budget", float)):
        if merged.get(key) is not None:
            try:
                setattr(settings, key, kind(merged[key]))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{key} must be a number, got {merged[key]!r}") from exc
    if settings.candidates is not None and settings.candidates < 1:
        raise ConfigError(f"candidates must be at least 1, got {settings.candidates}")
    for key in ("sandbox_network", "vote"):
        if merged.get(key) is not None:
            setattr(settings, key, str(merged[key]).lower() in ("1", "true", "yes"))
    if settings.sandbox not in SANDBOX_MODES:
        raise ConfigError(
            f"unknown sandbox mode {settings.sandbox!r}",
            hint="use " + ", ".join(SANDBOX_MODES),
        )
    parse_gpu_layers(settings.gpu_layers)
    if settings.approval not in ("suggest", "auto-edit", "full-auto"):
        raise ConfigError(
            f"unknown approval mode {settings.approval!r}",
            hint="use suggest, auto-edit or full-auto",
        )
    return settings


def parse_gpu_layers(value: str | int | None) -> int | None:
    """``auto`` (or None) → None; a count ≥ 0 → that count; anything else is refused."""
    text = "auto" if value is None else str(value).strip().lower()
    if text == "auto":
        return None
    if not text.isdigit():
        raise ConfigError(
            f"gpu_layers must be auto, 0 or a layer count, got {value!r}",
            hint="--gpu-layers auto|0|N, REDLINE_GPU_LAYERS or gpu_layers in the config",
        )
    return int(text)
