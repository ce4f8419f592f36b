"""Peers that crash are reported in one line, and the benchmark goes on without them.

The peers here are real processes that die by a real SIGSEGV (``ctypes.string_at(0)``
reads address 0), at the moment the AMX crash happened: after loading, at the
first request.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from redline.bench import baseline, serve
from redline.bench.decode import run_decode_bench
from redline.bench.peers import REPACK_CAUSE, PeerGuard, likely_cause, signal_name
from redline.bench.serve_client import Process, free_port, sse_turn

SEGFAULT = "import ctypes; ctypes.string_at(0)"
CRASH_AT_FIRST_REQUEST = """
import ctypes, json, sys
print(json.dumps({"ready": True}), flush=True)
sys.stdin.readline()
ctypes.string_at(0)
"""
FAKE_SERVER = """
import ctypes, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Peer(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_POST(self):
        ctypes.string_at(0)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Peer).serve_forever()
"""


def test_signal_names_and_likely_causes() -> None:
    assert signal_name(-11) == "SIGSEGV" and signal_name(139) == "SIGSEGV"
    assert signal_name(1) is None and signal_name(0) is None
    assert likely_cause("SIGSEGV", repacked=True, amx=True) == REPACK_CAUSE
    assert "native code" in likely_cause("SIGSEGV", repacked=False, amx=True)
    assert "instruction this CPU lacks" in likely_cause("SIGILL", repacked=False, amx=False)
    assert "out-of-memory" in likely_cause("SIGKILL", repacked=True, amx=True)


def test_a_peer_that_segfaults_is_one_line_and_later_calls_are_skipped() -> None:
    lines: list[str] = []
    guard = PeerGuard("bare", repacked=True, report=lines.append)
    guard.proc = subprocess.Popen([sys.executable, "-c", SEGFAULT], stdout=subprocess.PIPE)

    def read() -> str:
        assert guard.proc is not None and guard.proc.stdout is not None
        if not guard.proc.stdout.readline():
            raise EOFError("closed")
        return "never"

    assert guard.call(read) is None
    assert guard.death is not None and guard.death.signal == "SIGSEGV"
    assert lines == [guard.death.line()] and lines[0].startswith("peer bare died by SIGSEGV")
    assert guard.call(read) is None and len(lines) == 1  # not called again, not told again
    assert guard.record("x")["status"] == "crashed"
    guard.proc.stdout.close()


def test_an_error_from_a_live_peer_is_raised_not_hidden() -> None:
    guard = PeerGuard("alive", repacked=False, report=lambda _: None)
    guard.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(httpx.ConnectError):
            guard.call(httpx.get, f"http://127.0.0.1:{free_port()}/")
        assert guard.death is None
    finally:
        guard.proc.kill()
        guard.proc.wait()


@pytest.mark.native_isolated
def test_bench_decode_reports_a_crashed_baseline_and_keeps_its_own_figures(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        baseline, "peer_command", lambda *_: [sys.executable, "-c", CRASH_AT_FIRST_REQUEST]
    )
    result = run_decode_bench("smollm2-135m", max_tokens=16, repeats=2)
    out = capsys.readouterr().out
    assert result["redline_tok_s"] > 0 and len(result["runs"]["redline"]) == 2  # it went on
    assert result["llama_cpp_python_tok_s"] is None and result["ratio"] is None
    peer = result["peer"]
    assert peer["status"] == "crashed" and peer["signal"] == "SIGSEGV"
    assert peer["line"] in out and "llama-cpp-python: missing" in out
    assert result["machine"]["cpu"] in out


@pytest.mark.native_isolated
def test_bench_decode_runs_the_baseline_unrepacked_in_a_child(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_decode_bench("smollm2-135m", max_tokens=16, repeats=2)
    out = capsys.readouterr().out
    ran = {"peer": "llama-cpp-python", "status": "ran", "ran_as": baseline.RAN_AS}
    assert result["peer"] == ran
    assert result["llama_cpp_python_tok_s"] > 0 and result["ratio"] > 0
    assert "weights not repacked" in out and f"ratio {result['ratio']:.3f}" in out
    assert result["machine"]["weights_repacked"] is False


def _fake_llama_server(gguf: Path, n_ctx: int, n_threads: int, log: Path) -> Process:
    port = free_port()
    return Process([sys.executable, "-c", FAKE_SERVER, str(port)], port, log, "/v1/models")


def test_a_server_peer_that_dies_at_its_first_request_is_reported(tmp_path: Path) -> None:
    lines: list[str] = []
    guard = PeerGuard("llama_cpp.server", repacked=True, report=lines.append)
    peer = guard.call(_fake_llama_server, Path("x.gguf"), 512, 1, tmp_path / "peer.log")
    assert peer is not None
    guard.proc = peer.proc
    try:
        with httpx.Client(timeout=30) as http:
            body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
            assert guard.call(sse_turn, http, peer.base, body) is None
    finally:
        peer.stop()
    assert guard.death is not None and guard.death.signal == "SIGSEGV"
    assert lines[0].startswith("peer llama_cpp.server died by SIGSEGV; likely cause:")


def test_a_server_peer_that_dies_while_starting_is_reported(tmp_path: Path) -> None:
    def crashing(gguf: Path, n_ctx: int, n_threads: int, log: Path) -> Process:
        return Process([sys.executable, "-c", SEGFAULT], free_port(), log, "/v1/models")

    guard = PeerGuard("llama_cpp.server", repacked=True, report=lambda _: None)
    assert guard.call(crashing, Path("x.gguf"), 512, 1, tmp_path / "peer.log") is None
    assert guard.death is not None and guard.death.signal == "SIGSEGV"


@pytest.mark.native_isolated
def test_bench_serve_goes_on_when_llama_cpp_server_crashes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(serve, "start_llama_cpp", _fake_llama_server)
    result = serve.run_serve_bench("smollm2-135m", quick=True, n_ctx=1024, n_threads=1)
    out = capsys.readouterr().out
    assert result["peer"]["status"] == "crashed" and result["peer"]["signal"] == "SIGSEGV"
    assert result["chat"]["llama_cpp"] is None and result["edit"]["llama_cpp"] is None
    assert result["chat"]["redline"]["decode_tok_s"] > 0  # redline's own figures are all there
    assert result["overhead"]["http_sse"]["turn_ms"] > 0
    assert result["ratios"]["ttft"] is None and result["ratios"]["ttft_overhead_ms"] is not None
    assert "peer llama_cpp.server died by SIGSEGV" in out and "missing" in out


def test_bench_serve_concurrency_prints_a_missing_peer_and_no_ratio() -> None:
    from rich.console import Console

    from redline.bench.peers import death
    from redline.bench.serve_concurrency import _print

    gone = death("llama_cpp.server", -11, repacked=True)
    agg = {"decode_tok_s": 40.0, "e2e_tok_s": 30.0, "tokens": 100, "ttft_ms_median": 90.0}
    result = {
        "model": "m",
        "concurrency": 2,
        "single_stream_decode_tok_s": 20.0,
        "redline_parallel": agg,
        "llama_cpp_server": None,
        "same_text_as_alone": 1.0,
        "batch_ceiling": {2: 1.5},
        "idle_ttft_ms": [50.0],
        "busy_ttft_ms": [],
        "peer": {**gone.as_dict(), "ran_as": "as a user runs it"},
        "ratios": {"vs_single_stream": 2.0, "vs_llama_cpp_server": None},
    }
    console = Console(record=True, width=300)
    _print(result, console)
    out = console.export_text()
    assert f"missing: {gone.line()}" in out and "llama_cpp.server missing" in out
    assert "2.0x one stream" in out
