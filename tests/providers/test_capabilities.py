"""What each provider declares it can do, and what a router in front of them declares."""

from __future__ import annotations

from redline.providers.base import Capabilities
from redline.providers.local import LocalProvider
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.router import Router
from redline.providers.scripted import ScriptedProvider


def test_the_local_engine_declares_itself_without_loading() -> None:
    local = LocalProvider("qwen2.5-coder-0.5b", parallel=3)
    caps = local.capabilities
    assert caps.local_engine and caps.native_tools and caps.prediction
    assert caps.model == "qwen2.5-coder-0.5b"
    assert caps.fim is None  # known once the model is loaded
    assert not local.loaded and local.parallel == 3  # construction config, nothing loaded


def test_a_remote_provider_declares_its_model_and_prediction_setting() -> None:
    remote = OpenAICompatProvider(
        "r", "http://127.0.0.1:9/v1", "llama-3.1-8b", send_prediction=False
    )
    assert remote.capabilities == Capabilities(
        native_tools=True,
        fim=None,
        prediction=False,
        n=True,
        local_engine=False,
        model="llama-3.1-8b",
        concurrent=True,
    )


def test_a_router_declares_what_every_member_can_do_for_its_first_model() -> None:
    local = LocalProvider("qwen2.5-coder-0.5b", name="local")
    remote = OpenAICompatProvider("r", "http://127.0.0.1:9/v1", "big-model")
    caps = Router([local, remote], policy="ordered").capabilities
    assert caps.model == "qwen2.5-coder-0.5b" and caps.local_engine
    assert caps.native_tools and caps.prediction
    assert caps.n  # both return several choices for one request
    assert caps.fim is None  # neither knows until it is tried
    text_only = ScriptedProvider([], native_tools=False)
    assert not Router([remote, text_only]).capabilities.native_tools


def test_the_local_engine_declares_its_measured_candidates(tmp_path, monkeypatch) -> None:
    from redline.agent.candidates.defaults import candidates_for, measured_default
    from redline.engine.profile import EngineProfile, save

    monkeypatch.setenv("REDLINE_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("REDLINE_NO_PROFILE", raising=False)
    local = LocalProvider("qwen2.5-coder-0.5b")
    remote = OpenAICompatProvider("r", "http://127.0.0.1:9/v1", "big-model")
    assert local.capabilities.candidates == 1  # nothing measured: one reply
    save("qwen2.5-coder-0.5b", EngineProfile(candidates=4), tmp_path / "profiles.toml")
    assert local.capabilities.candidates == 4 and not local.loaded
    assert remote.capabilities.candidates == 1  # what N costs there is not measured
    assert Router([local, remote]).capabilities.candidates == 1
    # the default follows the measurement only where a check exists; --candidates wins
    assert candidates_for(measured_default(local), has_check=True, configured=None) == 4
    assert candidates_for(measured_default(local), has_check=False, configured=None) == 1
    assert candidates_for(measured_default(local), has_check=True, configured=2) == 2
    assert candidates_for(measured_default(remote), has_check=True, configured=None) == 1
