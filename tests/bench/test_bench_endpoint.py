"""The benchmark's server helper: clear failure when serve cannot start, metrics parsing."""

from __future__ import annotations

import http.server
import threading

import pytest

from redline.bench import endpoint

METRICS = """# HELP redline_completion_tokens_total Tokens generated
# TYPE redline_completion_tokens_total counter
redline_completion_tokens_total{model="a"} 120.0
redline_completion_tokens_total{model="b"} 30.0
redline_prompt_tokens_total{model="a"} 900.0
redline_spec_drafted_tokens_total{model="a"} 50.0
redline_spec_accepted_tokens_total{model="a"} 40.0
redline_spec_accepted_tokens_created{model="a"} 1.7e9
"""


@pytest.fixture
def metrics_url():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            body = METRICS.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_server_counters_sum_over_models(metrics_url):
    counters = endpoint.server_counters(metrics_url)
    assert counters == {
        "prompt_tokens": 900.0,
        "completion_tokens": 150.0,
        "drafted_tokens": 50.0,
        "accepted_tokens": 40.0,
    }


def test_server_counters_unreachable_is_zero():
    url = f"http://127.0.0.1:{endpoint.free_port()}"
    assert endpoint.server_counters(url)["completion_tokens"] == 0.0


def test_serve_that_exits_fails_with_its_log(monkeypatch):
    monkeypatch.setattr(
        endpoint, "redline_command", lambda: ["sh", "-c", "echo no such model >&2; exit 3", "x"]
    )
    srv = endpoint.ServeProcess("nope", startup_s=20)
    with pytest.raises(endpoint.EndpointError) as info:
        srv.start()
    assert "status 3" in info.value.message and "no such model" in info.value.message
    assert not srv.log_path.exists()


def test_children_die_with_a_killed_benchmark(tmp_path):
    """A benchmark killed with SIGKILL runs no cleanup; its server must not outlive it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "from redline.bench.sandbox import die_with_parent\n"
            "c = subprocess.Popen(['sleep', '60'], preexec_fn=die_with_parent)\n"
            f"open({str(pid_file)!r}, 'w').write(str(c.pid))\n"
            "time.sleep(60)\n",
        ]
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    child = int(pid_file.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{child}/stat") as fh:
            if fh.read().split()[2] == "Z":  # a zombie is dead, awaiting its reaper
                break
        time.sleep(0.1)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the child outlived its killed parent")
