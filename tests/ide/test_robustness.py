"""Bad input over the wire: every malformed request gets an LSP error, the server stays up.

These use a raw JSON-RPC client (the library clients refuse to send such
messages) and no model: warm-up is off and no completion is asked for.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from lspclient import RawClient, server_command, server_env, start_stdio

INIT = {
    "processId": None,
    "rootUri": None,
    "capabilities": {},
    "initializationOptions": {"warmup": False, "diagnostics": False},
}
INVALID_PARAMS, METHOD_NOT_FOUND = -32602, -32601


@pytest.fixture
def raw(tmp_path: Path):
    proc = start_stdio(tmp_path)
    client = RawClient(proc.stdout, proc.stdin)
    assert client.request(1, "initialize", INIT)["result"]["serverInfo"]["name"] == "redline"
    client.notify("initialized", {})
    yield client
    try:
        client.request(999, "shutdown")
        client.notify("exit")
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_malformed_requests_get_errors_and_server_survives(raw: RawClient):
    raw.send(b"{this is not json")
    bad = raw.request(2, "textDocument/inlineCompletion", {"textDocument": 5})
    assert bad["error"]["code"] == INVALID_PARAMS
    assert "inlineCompletion" in bad["error"]["message"]
    missing = raw.request(3, "textDocument/codeAction", {"range": "everything"})
    assert missing["error"]["code"] == INVALID_PARAMS
    unknown = raw.request(4, "redline/doesNotExist", {})
    assert unknown["error"]["code"] == METHOD_NOT_FOUND
    for args in ([], [{"uri": 3}], ["file:///x.py", {"start": 1}, "do it"], [1, 2, 3, 4]):
        reply = raw.request(
            5, "workspace/executeCommand", {"command": "redline.editSelection", "arguments": args}
        )
        assert reply["error"]["code"] == INVALID_PARAMS, (args, reply)
    wrong = raw.request(6, "workspace/executeCommand", {"command": "nope", "arguments": []})
    assert "error" in wrong
    # Bad settings are logged, not fatal.
    raw.notify("workspace/didChangeConfiguration", {"settings": {"redline": {"debounceMs": -1}}})
    # Still serving: a real request gets a real answer.
    status = raw.request(7, "redline/status", None)
    assert status["result"]["completions"] == 0
    logs = [n for n in raw.notifications if n["method"] == "window/logMessage"]
    assert any("debounce" in n["params"]["message"] for n in logs)
    assert any("malformed" in n["params"]["message"] for n in logs)


def test_empty_selection_offers_no_action(raw: RawClient):
    uri = "file:///tmp/redline-empty.py"
    raw.notify(
        "textDocument/didOpen",
        {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}},
    )
    point = {"line": 0, "character": 1}
    reply = raw.request(
        2,
        "textDocument/codeAction",
        {
            "textDocument": {"uri": uri},
            "range": {"start": point, "end": point},
            "context": {"diagnostics": []},
        },
    )
    assert reply["result"] == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_on_loopback(tmp_path: Path):
    port = free_port()
    proc = subprocess.Popen(
        [*server_command(), "--tcp", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=server_env(tmp_path),
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.2)
        with sock:
            stream = sock.makefile("rwb")
            client = RawClient(stream, stream)
            reply = client.request(1, "initialize", INIT)
            assert reply["result"]["capabilities"]["inlineCompletionProvider"] is not None
            assert client.request(2, "shutdown")["result"] is None
    finally:
        proc.kill()
        proc.wait()
