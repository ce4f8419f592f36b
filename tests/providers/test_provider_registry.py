"""build_provider: configuration to provider objects, without touching any network."""

from __future__ import annotations

import pytest

from redline.config import DEFAULT_CHAT_MODEL, Settings, load_settings
from redline.errors import ConfigError
from redline.providers.local import LocalProvider
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.presets import PRESETS, get_preset
from redline.providers.registry import build_provider, configured_specs
from redline.providers.router import Router


def settings(**raw) -> Settings:
    s = Settings(raw=raw)
    for key in ("model", "provider"):
        if key in raw:
            setattr(s, key, raw[key])
    return s


def test_presets_are_complete_data():
    assert set(PRESETS) >= {
        "cerebras", "openai", "groq", "openrouter", "ollama", "vllm", "llamacpp", "redline"
    }  # fmt: skip
    for preset in PRESETS.values():
        assert preset.base_url.startswith("http") and preset.base_url.endswith("/v1")
        assert preset.key_env.endswith("_API_KEY") and preset.model
    assert get_preset("redline").base_url == "http://127.0.0.1:8088/v1"
    with pytest.raises(ConfigError, match="known presets"):
        get_preset("nope")


def test_embedded_model_needs_no_configuration():
    provider = build_provider(settings())
    assert isinstance(provider, LocalProvider) and provider.model == DEFAULT_CHAT_MODEL
    assert DEFAULT_CHAT_MODEL == "qwen2.5-coder-0.5b"
    assert isinstance(build_provider(settings(), model="gemma3-270m"), LocalProvider)
    assert build_provider(settings(), model="/models/x.gguf").model == "/models/x.gguf"


def test_unknown_model_without_provider_is_a_config_error():
    with pytest.raises(ConfigError, match="not an embedded model") as info:
        build_provider(settings(), model="gpt-4o")
    assert "--provider" in (info.value.hint or "")


def test_preset_by_name_reads_its_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk-123456")
    provider = build_provider(settings(), provider="groq")
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.base_url == get_preset("groq").base_url
    assert provider.model == get_preset("groq").model and provider.has_key
    assert "gsk-123456" not in repr(provider)


def test_cloud_preset_without_its_key_says_which_variable(monkeypatch):
    monkeypatch.delenv("CEREBRAS_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"\$CEREBRAS_API_KEY"):
        build_provider(settings(), provider="cerebras")


def test_table_overrides_its_preset_and_flag_model_overrides_the_table(monkeypatch):
    monkeypatch.setenv("MY_KEY", "k-999999")
    s = settings(
        providers={
            "box": {"preset": "vllm", "base_url": "http://127.0.0.1:9999/v1", "model": "qwen",
                    "api_key_env": "MY_KEY", "read_timeout": 7}
        }
    )  # fmt: skip
    provider = build_provider(s, provider="box")
    assert (provider.base_url, provider.model, provider.has_key) == (
        "http://127.0.0.1:9999/v1", "qwen", True
    )  # fmt: skip
    assert provider.timeout.read == 7
    assert build_provider(s, provider="box", model="other").model == "other"
    assert build_provider(s, model="box:third").model == "third"
    assert build_provider(s, model="ollama:qwen2.5-coder:7b").model == "qwen2.5-coder:7b"


def test_settings_provider_from_config_is_used(monkeypatch):
    s = settings(provider="redline")
    provider = build_provider(s)
    assert isinstance(provider, OpenAICompatProvider) and provider.name == "redline"


def test_literal_keys_and_unknown_keys_in_tables_are_refused():
    with pytest.raises(ConfigError, match="literal api_key"):
        build_provider(settings(providers={"x": {"base_url": "http://h/v1", "model": "m",
                                                 "api_key": "sk"}}), provider="x")  # fmt: skip
    with pytest.raises(ConfigError, match="unknown keys: modle"):
        build_provider(settings(providers={"x": {"preset": "vllm", "modle": "m"}}), provider="x")
    with pytest.raises(ConfigError, match="unknown provider"):
        build_provider(settings(), provider="nowhere")


def test_router_table_builds_a_router_over_members():
    s = settings(
        providers={"a": {"preset": "vllm"}, "b": {"preset": "llamacpp"}},
        router={"providers": ["a", "b", "smollm2-135m"], "policy": "hedge", "cooldown_s": 5},
    )
    router = build_provider(s, provider="router")
    assert isinstance(router, Router) and router.policy == "hedge"
    assert [m.name for m in router.members] == ["a", "b", "smollm2-135m"]
    assert router.members[0].breaker.cooldown_s == 5
    assert router.members[0].provider.max_retries == 0  # the router fails over instead
    assert isinstance(router.members[2].provider, LocalProvider)
    assert isinstance(build_provider(s), Router)  # a [router] table makes it the default
    assert isinstance(build_provider(s, model="smollm2-135m"), LocalProvider)


def test_router_errors():
    with pytest.raises(ConfigError, match="providers ="):
        build_provider(settings(), provider="router")
    with pytest.raises(ConfigError, match="unknown keys"):
        build_provider(settings(router={"providers": ["vllm"], "polcy": "x"}), provider="router")


def test_configured_specs_lists_tables_and_presets_with_keys(monkeypatch):
    for preset in PRESETS.values():
        monkeypatch.delenv(preset.key_env, raising=False)
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-123456")
    s = settings(providers={"mine": {"preset": "ollama"}})
    names = [spec.name for spec in configured_specs(s)]
    assert names == ["local", "mine", "openrouter"]
    assert len(configured_specs(s, include_presets=True)) == 2 + len(PRESETS)


def test_config_file_precedence_reaches_the_registry(tmp_path, monkeypatch):
    (tmp_path / "redline.toml").write_text('provider = "vllm"\n[providers.vllm]\nmodel = "m1"\n')
    monkeypatch.delenv("REDLINE_PROVIDER", raising=False)
    provider = build_provider(load_settings(tmp_path))
    assert provider.name == "vllm" and provider.model == "m1"
    monkeypatch.setenv("REDLINE_PROVIDER", "llamacpp")  # env beats the project file
    assert build_provider(load_settings(tmp_path)).name == "llamacpp"
    assert build_provider(load_settings(tmp_path), provider="redline").name == "redline"
