"""A model's engine settings measured for this machine (written by ``redline tune``).

Ollama and llama-server users set threads, batch sizes, flash attention, the KV
cache type and the draft length by hand, from forum posts; the best values
depend on the cores, the SIMD units, the memory bandwidth and the model. A
profile holds what ``redline tune`` measured best, per model, in the user's
config folder (``profiles.toml``); every engine of that model loads with it (the
server, the agent, the LSP, the benchmarks) unless ``REDLINE_NO_PROFILE`` is set
(``--no-profile``). No profile means the defaults, which are also what tune
writes when nothing beat them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import llama_cpp

from redline.config import user_config_path
from redline.errors import ConfigError

NO_PROFILE_ENV = "REDLINE_NO_PROFILE"
KV_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}


@dataclass(frozen=True)
class EngineProfile:
    threads: int | None = None
    """CPU threads (None: every core this process may use)."""
    n_batch: int = 512
    """Tokens per llama_decode call (prompt reading, draft verification)."""
    n_ubatch: int | None = None
    """Tokens per compute pass inside one call (None: ``n_batch``)."""
    flash_attn: bool = False
    kv_type: str = "f16"
    """The KV cache's element type (``q8_0`` halves its memory; V needs flash attention)."""
    max_draft: int = 64
    """Most draft tokens verified in one batch."""
    gate_pause: int = 8
    """Steps the speed gate stops drafting after a verify step lost to plain decoding
    (doubling while it keeps losing); 0: no gate, always draft."""
    gpu_layers: str | None = None
    """Measured GPU offload (``auto`` or ``0``); None: the config's ``gpu_layers`` decides."""
    candidates: int = 1
    """Replies an agent task with a check gets by default on this model here: the
    most rows (2, 4, 8) that decode together at no more than 1.5x one reply's time
    (``redline tune`` measures the batch; 1: replies are not cheap enough here)."""

    def describe(self) -> str:
        threads = "all" if self.threads is None else str(self.threads)
        gpu = "" if self.gpu_layers is None else f", gpu layers {self.gpu_layers}"
        ubatch = "" if self.n_ubatch is None else f"/{self.n_ubatch}"
        gate = f"gate pause {self.gate_pause}" if self.gate_pause else "no gate"
        many = f", candidates {self.candidates}" if self.candidates > 1 else ""
        return (
            f"threads {threads}, batch {self.n_batch}{ubatch}, flash-attn "
            f"{'on' if self.flash_attn else 'off'}, kv {self.kv_type}, draft {self.max_draft}, "
            f"{gate}" + gpu + many
        )


DEFAULT = EngineProfile()


def profiles_path() -> Path:
    return user_config_path().parent / "profiles.toml"


def _check(name: str, table: dict[str, object]) -> EngineProfile:
    known = {f.name for f in fields(EngineProfile)}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(
            f"profile {name!r} has unknown keys: {', '.join(sorted(unknown))}",
            hint=f"edit or delete {profiles_path()} (or run `redline tune` again)",
        )
    profile = EngineProfile(**table)  # type: ignore[arg-type]
    if profile.kv_type not in KV_TYPES:
        raise ConfigError(f"profile {name!r}: kv_type must be one of {', '.join(KV_TYPES)}")
    if profile.n_ubatch is not None and not 0 < profile.n_ubatch <= profile.n_batch:
        raise ConfigError(f"profile {name!r}: n_ubatch must be in 1..n_batch")
    if profile.gate_pause < 0:
        raise ConfigError(f"profile {name!r}: gate_pause must be >= 0")
    if not 1 <= profile.candidates <= 16:
        raise ConfigError(f"profile {name!r}: candidates must be in 1..16")
    if profile.kv_type != "f16" and not profile.flash_attn:
        raise ConfigError(f"profile {name!r}: kv_type {profile.kv_type} needs flash_attn = true")
    return profile


def load_all(path: Path | None = None) -> dict[str, EngineProfile]:
    path = path or profiles_path()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return {name: _check(name, table) for name, table in data.items() if isinstance(table, dict)}


def profile_for(model: str, path: Path | None = None) -> EngineProfile | None:
    """The tuned profile of ``model`` (None: none, or profiles switched off)."""
    if os.environ.get(NO_PROFILE_ENV, "").lower() in ("1", "true", "yes"):
        return None
    return load_all(path).get(model)


def save(model: str, profile: EngineProfile, path: Path | None = None) -> Path:
    """Write ``model``'s profile, keeping the others (atomically: temp file, rename)."""
    path = path or profiles_path()
    everything = load_all(path) | {model: profile}
    lines = []
    for name, prof in sorted(everything.items()):
        lines.append(f'["{name}"]')
        for key, value in asdict(prof).items():
            if value is None:
                continue
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            else:
                lines.append(f'{key} = "{value}"')
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("# written by `redline tune`\n" + "\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)
    return path
