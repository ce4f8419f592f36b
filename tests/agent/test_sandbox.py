"""The sandbox: real commands, real kernel. Writes outside the workspace, the parent's
/proc/<pid>/environ, a neighbour's secret and the network are all out of reach."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from redline.agent.environment import sandbox as sandbox_mod
from redline.agent.environment.sandbox import Sandbox, Support, probe
from redline.agent.environment.secrets import is_secret, looks_secret, scrubbed_env
from redline.agent.environment.shell import run_shell
from redline.agent.environment.testrun import run_tests

needs_landlock = pytest.mark.skipif(not probe().available, reason="no Landlock here")


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    ws, outside = tmp_path / "ws", tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("NEIGHBOUR-SECRET\n")
    return ws, outside


@needs_landlock
def test_a_command_writes_the_workspace_but_nothing_outside(layout) -> None:
    ws, outside = layout
    result = run_shell(
        f"echo in > inside.txt; echo out > {outside}/pwned.txt; echo out > ../outside/p2; "
        "touch /tmp/redline-sandbox-escape-$$; cat inside.txt",
        ws,
    )
    assert (ws / "inside.txt").read_text() == "in\n"
    assert not (outside / "pwned.txt").exists() and not (outside / "p2").exists()
    assert "Permission denied" in result.output
    assert not list(Path("/tmp").glob("redline-sandbox-escape-*"))


@needs_landlock
def test_a_command_cannot_read_the_parents_environ_or_a_neighbours_file(
    layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = layout
    monkeypatch.setenv("SNEAKY_API_KEY", "sk-parent-secret-0123456789abcdef")
    # The secret must be in *this* process's initial environ for the check to mean
    # anything: a child that was started with it is the parent under attack here.
    me = os.getpid()
    result = run_shell(
        f"cat /proc/{me}/environ; cat /proc/$PPID/environ; cat /proc/1/environ; "
        "cat ../outside/secret.txt; env",
        ws,
    )
    assert "NEIGHBOUR-SECRET" not in result.output
    assert "parent-secret" not in result.output
    assert "PATH=" in result.output  # the command itself did run


@needs_landlock
def test_the_parent_environ_is_unreadable_from_a_sandboxed_child_process(
    layout, tmp_path: Path
) -> None:
    """A parent that really holds a secret in its environ (a fresh process started with
    it), whose child runs the sandboxed command: the child must not read it."""
    ws, _ = layout
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from redline.agent.environment.shell import run_shell\n"
        "r = run_shell('cat /proc/$PPID/environ /proc/*/environ 2>&1', Path(sys.argv[1]))\n"
        "print(r.output)\n"
    )
    import subprocess
    import sys

    env = {**os.environ, "PARENT_ONLY_TOKEN": "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0"}
    out = subprocess.run(
        [sys.executable, str(script), str(ws)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "tok-9f8e7d6c5b4a" not in out.stdout


@needs_landlock
def test_no_network_but_loopback_works(layout) -> None:
    ws, _ = layout
    code = (
        "import socket\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('loopback ok')\n"
        "c = socket.socket(); c.settimeout(2)\n"
        "try:\n    c.connect(('1.1.1.1', 80)); print('NETWORK OPEN')\n"
        "except OSError as e:\n    print('blocked', e)\n"
    )
    (ws / "net.py").write_text(code)
    result = run_shell("python3 net.py", ws)
    assert "loopback ok" in result.output and "NETWORK OPEN" not in result.output


@needs_landlock
def test_read_only_mode_keeps_the_workspace_unchanged(layout) -> None:
    ws, _ = layout
    (ws / "keep.txt").write_text("same\n")
    jail = Sandbox(ws, "read-only")
    command = "echo changed > keep.txt; cat keep.txt; echo t > $TMPDIR/x && echo tmp ok"
    result = run_shell(command, ws, sandbox=jail)
    assert (ws / "keep.txt").read_text() == "same\n"
    assert "tmp ok" in result.output


@needs_landlock
def test_verification_test_runs_are_confined_and_scrubbed(
    layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, outside = layout
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdefghij")
    (ws / "test_leak.py").write_text(
        "import os\n"
        f"def test_leak():\n"
        f"    open({str(outside / 'from_test.txt')!r}, 'w').write('x')\n"
    )
    (ws / "test_env.py").write_text(
        "import os\ndef test_env():\n    open('seen_env.txt', 'w').write(repr(dict(os.environ)))\n"
    )
    run = run_tests(ws, ["test_leak.py"])
    assert not run.passed and "Permission denied" in run.output
    assert not (outside / "from_test.txt").exists()
    run = run_tests(ws, ["test_env.py"])
    seen = (ws / "seen_env.txt").read_text()
    assert run.passed and "PATH" in seen and "sk-test-0123" not in seen


def test_off_mode_runs_unconfined(layout) -> None:
    ws, outside = layout
    run_shell(f"echo out > {outside}/allowed.txt", ws, sandbox=Sandbox(ws, "off"))
    assert (outside / "allowed.txt").exists()


def test_without_landlock_every_command_asks_even_in_full_auto(
    layout, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _ = layout
    monkeypatch.setattr(sandbox_mod, "probe", lambda: Support(0, error="no Landlock (test)"))
    asked: list[str] = []
    events: list[dict] = []
    jail = Sandbox(
        ws, approval="full-auto", ask=lambda k, w: asked.append(w) or False, notify=events.append
    )
    assert not jail.confined
    assert jail.permit("run", "ls") is False and jail.permit("test", "pytest") is False
    assert asked == ["ls", "pytest"]
    notes = [e for e in events if e["type"] == "sandbox"]
    assert len(notes) == 1 and "approval" in notes[0]["note"]  # said once
    assert capsys.readouterr().err.count("cannot sandbox") == 1


def test_confined_tests_run_without_asking_but_commands_follow_approval(layout) -> None:
    ws, _ = layout
    if not probe().available:
        pytest.skip("no Landlock here")
    jail = Sandbox(ws, approval="auto-edit", ask=lambda k, w: False)
    assert jail.permit("test", "pytest") and not jail.permit("run", "ls")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPENAI_API_KEY", "x"),
        ("GITHUB_TOKEN", "x"),
        ("DB_PASSWORD", "x"),
        ("AWS_SECRET_ACCESS_KEY", "x"),
        ("PIP_INDEX_URL", "https://user:hunter2@pypi.example.com/simple"),
        ("DATABASE_URL", "postgres://app:s3cret@db:5432/app"),
        ("HARMLESS_LOOKING", "sk-proj-abcdefghijklmnop0123456789"),
        ("SOME_VAR", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("OTHER", "Zx8Qp2Lm9Rt4Vb7Nc1Kd6Hf3Jg5Ws0YaEuTiOo"),
    ],
)
def test_secrets_go_by_name_and_by_value(name: str, value: str) -> None:
    assert is_secret(name, value)
    assert name not in scrubbed_env(base={name: value, "PATH": "/usr/bin"})


@pytest.mark.parametrize(
    "value",
    [
        "/usr/local/bin:/usr/bin:/bin:/root/.pyenv/versions/3.11.7/bin",
        "https://pypi.org/simple",
        "0123456789abcdef0123456789abcdef01234567",  # a git sha: hex, not a key
        "en_US.UTF-8",
        "/home/User/Projects/MyApplication2024/build/output",
    ],
)
def test_ordinary_values_stay(value: str) -> None:
    assert not looks_secret(value)
    assert scrubbed_env(base={"X": value})["X"] == value
