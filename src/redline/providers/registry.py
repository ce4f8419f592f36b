"""Build the provider a command asks for: the one function the agent and CLI call.

Where settings come from (see ``redline.config``), lowest to highest: built-in
defaults < user ``config.toml`` < project ``redline.toml`` < ``REDLINE_*``
environment variables < command-line flags.

How :func:`build_provider` picks, first match wins:

1. ``provider`` (the ``--provider`` flag, else ``provider =`` in a config file or
   ``$REDLINE_PROVIDER``) names a ``[providers.NAME]`` table, a preset
   (``presets.py``), ``"local"``, or ``"router"``.
2. With no provider, an explicit ``model`` of the form ``NAME:MODEL`` where NAME
   is a table or preset (``cerebras:llama-3.3-70b``) uses that provider.
3. With no provider and no explicit model, a ``[router]`` table with
   ``providers = [...]`` makes the router the default.
4. Otherwise the model (``model``, else ``settings.model``) must be an embedded
   model (``smollm2-135m``, ``gemma3-270m``) or a ``.gguf`` path: the in-process
   engine, no configuration needed.

A ``[providers.NAME]`` table has ``preset``, ``base_url``, ``model``,
``api_key_env`` and optionally ``kind`` (``"openai"`` or ``"local"``),
``prediction``, ``n``, ``connect_timeout``, ``read_timeout``, ``max_retries``. Its
fields override the preset named by ``preset`` (or the preset called NAME).
A remote model is the ``model`` argument, else the table's, else the preset's.
Keys are read only from the environment variable the table or preset names;
a key written into a config file is refused, so it is never committed.
The ``[router]`` table has ``providers`` (names as above) and the keyword
arguments of :class:`~redline.providers.router.Router` (``policy``,
``cooldown_s``, ``failure_rate``, ...) plus ``health_ttl_s``: how long the
router's learned health (breakers, latency) is kept in the user state dir for
the next process (default 300 s; 0 keeps nothing).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.config import Settings
from redline.engine.models import EMBEDDED
from redline.errors import ConfigError
from redline.providers.base import Provider
from redline.providers.presets import PRESETS, get_preset

TABLE_KEYS = {
    "preset",
    "base_url",
    "model",
    "api_key_env",
    "kind",
    "prediction",
    "n",
    "connect_timeout",
    "read_timeout",
    "max_retries",
}
ROUTER_KEYS = {
    "providers",
    "policy",
    "explore_after_s",
    "hedge_quantile",
    "hedge_min_delay_s",
    "hedge_default_delay_s",
    "failure_threshold",
    "failure_rate",
    "failure_window",
    "cooldown_s",
    "health_ttl_s",
    "typical_tokens",
}


@dataclass
class ProviderSpec:
    """A provider as configured, before anything is connected or loaded."""

    name: str
    kind: str  # "local", "openai" or "router"
    model: str
    base_url: str | None = None
    key_env: str | None = None
    key_required: bool = False
    prediction: bool = True
    n: bool = True
    """The backend returns several choices for one request (OpenAI ``n``)."""
    options: dict[str, Any] | None = None
    source: str = "config"

    @property
    def key_present(self) -> bool:
        return bool(self.key_env and os.environ.get(self.key_env))


def is_local_model(model: str) -> bool:
    """An embedded short name or a GGUF file path: served in-process."""
    return model in EMBEDDED or model.endswith(".gguf") or Path(model).expanduser().is_file()


def _table(settings: Settings, name: str) -> dict[str, Any] | None:
    table = settings.providers.get(name)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"[providers.{name}] must be a table")
    if "api_key" in table:
        raise ConfigError(
            f"[providers.{name}] holds a literal api_key",
            hint='put the key in an environment variable and write api_key_env = "VAR" instead',
        )
    unknown = set(table) - TABLE_KEYS
    if unknown:
        raise ConfigError(
            f"[providers.{name}] has unknown keys: {', '.join(sorted(unknown))}",
            hint=f"known keys: {', '.join(sorted(TABLE_KEYS))}",
        )
    return table


def resolve_spec(settings: Settings, name: str, model: str | None = None) -> ProviderSpec:
    """The spec for a provider name (table, preset or local), with ``model`` overriding."""
    table = _table(settings, name)
    if table is None and name not in PRESETS:
        if name == "local":
            return ProviderSpec("local", "local", model or settings.model, source="embedded")
        known = sorted({*settings.providers, *PRESETS, "local", "router"})
        raise ConfigError(
            f"unknown provider {name!r}",
            hint=f"known: {', '.join(known)}; or add a [providers.{name}] table to redline.toml",
        )
    table = table or {}
    if table.get("kind") == "local":
        chosen = model or table.get("model") or settings.model
        return ProviderSpec(name, "local", str(chosen), source="config")
    preset_name = table.get("preset") or (name if name in PRESETS else None)
    preset = get_preset(preset_name) if preset_name else None
    base_url = table.get("base_url") or (preset.base_url if preset else None)
    chosen = model or table.get("model") or (preset.model if preset else None)
    if not base_url or not chosen:
        raise ConfigError(
            f"[providers.{name}] needs base_url and model (or a preset that has them)"
        )
    options = {
        k: table[k] for k in ("connect_timeout", "read_timeout", "max_retries") if k in table
    }
    return ProviderSpec(
        name=name,
        kind="openai",
        model=str(chosen),
        base_url=str(base_url),
        key_env=table.get("api_key_env") or (preset.key_env if preset else None),
        key_required=preset.key_required if preset and "api_key_env" not in table else False,
        prediction=bool(table.get("prediction", preset.prediction if preset else True)),
        n=bool(table.get("n", preset.n if preset else True)),
        options=options,
        source="config" if name in settings.providers else "preset",
    )


def provider_from_spec(
    spec: ProviderSpec, *, for_router: bool = False, parallel: int = 1
) -> Provider:
    """Make the provider object; a missing required key is a ConfigError here.
    ``parallel``: requests an in-process engine decodes together."""
    if spec.kind == "local":
        from redline.providers.local import LocalProvider

        return LocalProvider(spec.model, name=spec.name, parallel=parallel)
    from redline.providers.openai_compat import OpenAICompatProvider

    key = os.environ.get(spec.key_env) if spec.key_env else None
    if spec.key_required and not key:
        raise ConfigError(
            f"provider {spec.name!r} needs an API key in ${spec.key_env}",
            hint=f"export {spec.key_env}=... (keys are read from the environment only)",
        )
    options = dict(spec.options or {})
    if for_router:
        options.setdefault("max_retries", 0)  # the router fails over instead of waiting
    assert spec.base_url is not None
    return OpenAICompatProvider(
        spec.name,
        spec.base_url,
        spec.model,
        key,
        send_prediction=spec.prediction,
        send_n=spec.n,
        **options,
    )


def build_provider(
    settings: Settings,
    *,
    model: str | None = None,
    provider: str | None = None,
    parallel: int = 1,
) -> Provider:
    """The provider for this command; see the module docstring for how it is chosen."""
    name = provider or settings.provider
    if name == "router":
        return build_router(settings)
    if name:
        return provider_from_spec(resolve_spec(settings, name, model), parallel=parallel)
    if model and ":" in model:
        prefix, _, rest = model.partition(":")
        if prefix in settings.providers or prefix in PRESETS:
            return provider_from_spec(resolve_spec(settings, prefix, rest), parallel=parallel)
    if model is None and settings.router.get("providers"):
        return build_router(settings)
    chosen = model or settings.model
    if not is_local_model(chosen):
        raise ConfigError(
            f"model {chosen!r} is not an embedded model or a .gguf file",
            hint="choose a provider with --provider (see `redline providers`), "
            "or write it as PROVIDER:MODEL, e.g. groq:llama-3.1-8b-instant",
        )
    from redline.providers.local import LocalProvider

    return LocalProvider(chosen, n_ctx=settings.n_ctx, parallel=parallel)


def router_member_specs(settings: Settings) -> list[ProviderSpec]:
    """The specs of the providers listed in the ``[router]`` table."""
    names = settings.router.get("providers") or []
    if not isinstance(names, list) or not names:
        raise ConfigError(
            'the router needs a [router] table with providers = ["name", ...]',
            hint="name [providers.NAME] tables, presets or embedded models",
        )
    specs = []
    for member in names:
        if is_local_model(str(member)) and member not in settings.providers:
            specs.append(ProviderSpec(str(member), "local", str(member), source="embedded"))
        else:
            specs.append(resolve_spec(settings, str(member)))
    return specs


def build_router(settings: Settings) -> Provider:
    """The router over the ``[router]`` table's providers."""
    from redline.providers.router import Router

    table = settings.router
    unknown = set(table) - ROUTER_KEYS
    if unknown:
        raise ConfigError(
            f"[router] has unknown keys: {', '.join(sorted(unknown))}",
            hint=f"known keys: {', '.join(sorted(ROUTER_KEYS))}",
        )
    from redline.providers.health_store import DEFAULT_TTL_S, HealthStore

    members = [provider_from_spec(s, for_router=True) for s in router_member_specs(settings)]
    options = {k: v for k, v in table.items() if k not in ("providers", "health_ttl_s")}
    ttl = float(table.get("health_ttl_s", DEFAULT_TTL_S))
    health = HealthStore(ttl_s=ttl) if ttl > 0 else None
    return Router(members, health=health, **options)


def configured_specs(settings: Settings, *, include_presets: bool = False) -> list[ProviderSpec]:
    """What `redline providers` lists: the default local model, every table, the
    router's members, and presets whose key is set (all presets with ``include_presets``)."""
    specs = [ProviderSpec("local", "local", settings.model, source="embedded")]
    seen = {"local"}
    for name in settings.providers:
        specs.append(resolve_spec(settings, name))
        seen.add(name)
    if settings.router.get("providers"):
        for spec in router_member_specs(settings):
            if spec.name not in seen:
                specs.append(spec)
                seen.add(spec.name)
    for name, preset in PRESETS.items():
        if name in seen:
            continue
        if include_presets or (preset.key_required and os.environ.get(preset.key_env)):
            specs.append(resolve_spec(settings, name))
    return specs
