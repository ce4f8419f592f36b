"""Nothing leaks, through the front door: ``redline exec`` against a fake backend whose
model tries to leave the workspace (symlinks, commands, model-written tests)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cli_helpers import call, exec_json, sent, serve, write_config

from redline.agent.environment.sandbox import probe

SECRETS = {
    "OPENAI_API_KEY": "sk-live-abcdefghijklmnop0123456789",
    "MY_SERVICE_TOKEN": "svc-token-value-4242",
    "PIP_INDEX_URL": "https://builder:pipPassw0rd@pypi.internal.example/simple",
    "INNOCENT_NAME": "ghp_0123456789abcdefghijABCDEFGHIJ012345",
}
LEAKS = ("abcdefghijklmnop0123456789", "svc-token-value-4242", "pipPassw0rd", "ghp_0123456789")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP-SECRET-NEIGHBOUR\n")
    (outside / "evil.py").write_text("def leaked_outside_function(password):\n    pass\n")
    (ws / "app.py").write_text("def add(a, b):\n    return a + b\n")
    (ws / "notes.txt").symlink_to("../outside/secret.txt")
    (ws / "evil.py").symlink_to("../outside/evil.py")
    (ws / "AGENTS.md").symlink_to("../outside/secret.txt")
    return ws, outside


def _no_leaks(text: str) -> None:
    for leak in (*LEAKS, "TOP-SECRET-NEIGHBOUR", "leaked_outside_function"):
        assert leak not in text, f"{leak} reached the model"


def test_symlinks_out_of_the_workspace_are_never_read(project) -> None:
    ws, _ = project
    script = [
        call("search", pattern="SECRET|secret|leaked"),
        call("search", pattern=".", path=""),
        call("read", path="notes.txt"),
        call("list"),
        call("done", summary="looked around"),
    ]
    with serve(script) as server:
        write_config(ws, {"a": server}, None)
        proc, events = exec_json(ws, "look for secrets", "--provider", "a")
        requests = sent(server)
    assert events[-1]["type"] == "done", proc.stderr[-2000:]
    _no_leaks(requests)  # not in the overview, AGENTS.md, search, read or list
    results = [e for e in events if e["type"] == "tool_result"]
    assert any("refused" in e["output"] and e["name"] == "read" for e in results)
    assert "app.py" in requests  # the overview and search did run


@pytest.mark.skipif(not probe().available, reason="no Landlock here")
def test_commands_see_no_secrets_and_cannot_write_outside(project) -> None:
    ws, outside = project
    command = (
        "env; tr '\\0' '\\n' < /proc/$PPID/environ; cat /proc/*/environ; "
        "cat ../outside/secret.txt; echo pwned > ../outside/pwned.txt; echo ran-it"
    )
    script = [call("run", command=command), call("done", summary="ok")]
    with serve(script) as server:
        write_config(ws, {"a": server}, None)
        proc, events = exec_json(
            ws, "inspect", "--provider", "a", "--approval", "full-auto", env=SECRETS
        )
        requests = sent(server)
    assert events[-1]["type"] == "done", proc.stderr[-2000:]
    assert "ran-it" in requests and "PATH=" in requests  # the command ran, output went back
    _no_leaks(requests)
    assert not (outside / "pwned.txt").exists()
    sandbox = next(e for e in events if e["type"] == "sandbox")
    assert sandbox["confined"] and sandbox["landlock_abi"] >= 1


@pytest.mark.skipif(not probe().available, reason="no Landlock here")
def test_tests_run_by_verification_are_sandboxed_and_scrubbed(project) -> None:
    ws, outside = project
    test_code = (
        "import os, glob\n"
        "def test_leak():\n"
        "    print(sorted(os.environ.items()))\n"
        "    for p in glob.glob('/proc/*/environ'):\n"
        "        try:\n"
        "            print(open(p, 'rb').read())\n"
        "        except OSError:\n"
        "            pass\n"
        "    try:\n"
        "        open('../outside/from_test.txt', 'w').write('x')\n"
        "    except OSError as e:\n"
        "        print('blocked', e)\n"
        "    print(open('../outside/secret.txt').read())\n"
    )
    script = [call("write", path="test_leak.py", content=test_code), call("done", summary="ok")]
    with serve(script) as server:
        write_config(ws, {"a": server}, None)
        proc, events = exec_json(
            ws, "add a test", "--provider", "a", "--approval", "auto-edit", env=SECRETS
        )
        requests = sent(server)
    assert events[-1]["type"] == "done", proc.stderr[-2000:]
    verifications = [e for e in events if e["type"] == "verification"]
    assert verifications and verifications[0]["tests"] is not None  # tests did run, unasked
    assert "Permission denied" in requests  # the failing test's output went back
    _no_leaks(requests)
    assert not (outside / "from_test.txt").exists()


def test_done_is_not_verified_when_the_task_ended_with_a_provider_error(tmp_path: Path) -> None:
    with serve([call("done", summary="x")], fail_status=500) as server:
        write_config(tmp_path, {"a": server}, None)
        proc, events = exec_json(tmp_path, "anything", "--provider", "a")
    done = events[-1]
    assert done["type"] == "done" and done["status"] == "error" and proc.returncode == 2
    assert done["verified"] is False


def test_read_only_sandbox_flag_and_env(tmp_path: Path) -> None:
    if not probe().available:
        pytest.skip("no Landlock here")
    (tmp_path / "keep.txt").write_text("same\n")
    script = [call("run", command="echo changed > keep.txt; cat keep.txt"), call("done")]
    with serve(script) as server:
        write_config(tmp_path, {"a": server}, None)
        proc, events = exec_json(
            tmp_path, "t", "--provider", "a", "--approval", "full-auto", "--sandbox", "read-only"
        )
    assert (tmp_path / "keep.txt").read_text() == "same\n", proc.stderr[-1000:]
    assert next(e for e in events if e["type"] == "sandbox")["mode"] == "read-only"
    env = {**os.environ, "REDLINE_SANDBOX": "bogus"}
    proc, _ = exec_json(tmp_path, "t", "--provider", "a", env=env)
    assert proc.returncode != 0 and "sandbox" in proc.stderr
