"""Make a FIM-capable copy of a GGUF by adding FIM token ids to its metadata.

Neither embedded model has fill-in-the-middle tokens, so to test the server's
``suffix`` path for real, the tests copy SmolLM2 and point
``tokenizer.ggml.fim_{pre,suf,mid}_token_id`` at existing special tokens. The
model was never trained for FIM, so this checks the plumbing (the engine lays
out pre/prefix/suf/suffix/mid and the server serves it), not the quality.

GGUF layout: header, key/value metadata, tensor infos, padding to the
alignment, tensor data. Tensor offsets are relative to the data section, so
appending key/values only needs the header count fixed and the padding redone.
"""

from __future__ import annotations

import struct
from pathlib import Path

_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY, _UINT32 = 8, 9, 4


def _skip_value(buf: bytes, pos: int, vtype: int) -> int:
    if vtype in _FIXED:
        return pos + _FIXED[vtype]
    if vtype == _STRING:
        (n,) = struct.unpack_from("<Q", buf, pos)
        return pos + 8 + n
    if vtype == _ARRAY:
        etype, count = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        if etype in _FIXED:
            return pos + count * _FIXED[etype]
        for _ in range(count):
            pos = _skip_value(buf, pos, etype)
        return pos
    raise ValueError(f"unknown GGUF value type {vtype}")


def _string(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<Q", len(raw)) + raw


def add_fim_tokens(src: Path, dst: Path, pre: int, suf: int, mid: int) -> Path:
    """Write ``dst``: ``src`` plus FIM token ids; fails if ``src`` already has them."""
    data = src.read_bytes()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)
    assert magic == b"GGUF" and version >= 2, "not a GGUF v2+ file"
    pos = 24
    alignment = 32
    for _ in range(n_kv):
        (klen,) = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8 : pos + 8 + klen].decode()
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", data, pos)
        assert "fim_" not in key, f"{src} already has FIM metadata ({key})"
        pos = _skip_value(data, pos, vtype)
    kv_end = pos
    for _ in range(n_tensors):
        (nlen,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + nlen
        (n_dims,) = struct.unpack_from("<I", data, pos)
        pos += 4 + 8 * n_dims + 4 + 8
    infos_end = pos
    data_start = -(-infos_end // alignment) * alignment
    extra = b"".join(
        _string(f"tokenizer.ggml.fim_{name}_token_id") + struct.pack("<II", _UINT32, tok)
        for name, tok in (("pre", pre), ("suf", suf), ("mid", mid))
    )
    head = struct.pack("<4sIQQ", magic, version, n_tensors, n_kv + 3)
    body = data[24:kv_end] + extra + data[kv_end:infos_end]
    new_len = len(head) + len(body)
    padding = b"\0" * ((-new_len) % alignment)
    with dst.open("wb") as fh:
        fh.write(head + body + padding)
        fh.write(memoryview(data)[data_start:])
    return dst
