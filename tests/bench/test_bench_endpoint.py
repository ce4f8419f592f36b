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
    assert counters == {"completion_tokens": 150.0, "drafted_tokens": 50.0, "accepted_tokens": 40.0}


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
