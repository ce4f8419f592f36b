"""API keys never appear in reprs, logs, error messages or `redline providers` output."""

from __future__ import annotations

import logging

import typer
from conftest import ask, collect
from typer.testing import CliRunner

from redline.cli.providers import register
from redline.providers.openai_compat import OpenAICompatProvider
from redline.providers.presets import PRESETS
from redline.providers.router import Router

KEY = "sk-live-TOPSECRET-0123456789abcdef"


def test_key_stays_out_of_repr_logs_and_errors(fake_server, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, the openai and HTTP ones included
    ok = fake_server()
    leaky = fake_server(fail_status=401, echo_auth=True)  # echoes the Authorization header
    dead = fake_server()
    dead.kill()
    hang = fake_server(hang_after_headers=True)
    providers = [
        OpenAICompatProvider("ok", ok.base_url, "m", KEY),
        OpenAICompatProvider("leaky", leaky.base_url, "m", KEY),
        OpenAICompatProvider("dead", dead.base_url, "m", KEY, max_retries=1, backoff_s=0.01),
        OpenAICompatProvider("hang", hang.base_url, "m", KEY, read_timeout=0.2),
    ]
    seen: list[str] = []
    for provider in providers:
        seen.append(repr(provider))
        reply = collect(provider.stream(ask()))
        seen.extend(repr(event) for event in reply.events)
        if reply.error is not None:
            seen.append(str(reply.error))
            seen.append(repr(reply.error))
            seen.append(str(reply.error.hint))
    router = Router(providers[1:], policy="ordered")
    seen.append(repr(router))
    error = collect(router.stream(ask())).error
    assert error is not None
    seen.append(str(error))
    assert leaky.stats.auth[0] == f"Bearer {KEY}"  # the key was really sent ...
    assert "Bearer ***" in "".join(seen)  # ... and really echoed back, then redacted
    assert caplog.records, "logging was captured"
    assert KEY not in caplog.text
    for text in seen:
        assert KEY not in text


def test_providers_command_shows_presence_never_the_key(fake_server, tmp_path, monkeypatch):
    leaky = fake_server(fail_status=401, echo_auth=True)
    good = fake_server()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[providers.leaky]\nbase_url = "{leaky.base_url}"\nmodel = "m"\n'
        'api_key_env = "REDLINE_TEST_KEY"\n'
        f'[providers.good]\nbase_url = "{good.base_url}"\nmodel = "m"\n'
        'api_key_env = "REDLINE_TEST_KEY"\n'
        '[router]\nproviders = ["leaky", "good"]\n'
    )
    for preset in PRESETS.values():  # no probe may leave this machine
        monkeypatch.delenv(preset.key_env, raising=False)
    monkeypatch.setenv("REDLINE_CONFIG", str(config))
    monkeypatch.setenv("REDLINE_TEST_KEY", KEY)
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line, so messages read whole
    monkeypatch.chdir(tmp_path)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # two commands, so `providers` is a subcommand
    result = CliRunner().invoke(app, ["providers", "--check", "--timeout", "5"])
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert "$REDLINE_TEST_KEY: yes" in result.output
    assert "HTTP 401" in result.output and "Bearer ***" in result.output
    assert "ok 'Hello, world!'" in result.output  # the good one answered the probe
