"""Stop sequences and UTF-8 boundaries while streaming."""

from __future__ import annotations

from redline.engine.text import StopScanner


def run(stops: list[str], pieces: list[bytes]) -> tuple[str, bool]:
    s = StopScanner(stops)
    out = ""
    for p in pieces:
        text, hit = s.feed(p)
        out += text
        if hit:
            return out, True
    return out + s.flush(), False


def test_stop_split_across_pieces_is_hidden() -> None:
    assert run(["\n\n"], [b"abc", b"\n", b"\ndef"]) == ("abc", True)


def test_partial_stop_is_released_when_it_does_not_complete() -> None:
    assert run(["STOP"], [b"ST", b"OK"]) == ("STOK", False)


def test_multibyte_character_split_across_tokens() -> None:
    e = "é".encode()
    assert run([], [b"caf", e[:1], e[1:]]) == ("café", False)
