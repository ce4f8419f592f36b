"""Where a model's layers go: GPU offload decided from the devices' free memory.

llama.cpp offloads whole transformer layers (``n_gpu_layers``). Too many and the
load fails or the driver pages; too few and the GPU idles. llama-server leaves
the number to the user (``-ngl``); Ollama estimates it from free memory. redline
estimates it too, conservatively: a layer is charged the file's size divided by
its layer count (the embeddings are spread over the layers, so no layer is
under-counted) plus its share of the KV cache at the context length, and a
headroom is kept for compute buffers and the driver. On a CPU build of
llama.cpp (no offload support) nothing is probed and nothing changes.
``gpu_layers`` (``--gpu-layers``, ``REDLINE_GPU_LAYERS``, config) overrides:
``auto``, ``0`` (CPU only) or a layer count.
"""

from __future__ import annotations

import ctypes
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.config import parse_gpu_layers

HEADROOM_BYTES = 512 * 2**20
"""Kept free on the GPUs for compute buffers and the driver's own allocations."""
HEADROOM_SHARE = 0.10
"""And this share of the free memory on top (other processes grow too)."""

_GPU, _IGPU = 1, 2  # ggml_backend_dev_type: CPU 0, GPU 1, IGPU 2, ACCEL 3


@dataclass(frozen=True)
class GpuDevice:
    name: str
    free_bytes: int
    total_bytes: int
    integrated: bool = False


@dataclass(frozen=True)
class ModelShape:
    """What the decision needs from a GGUF's metadata."""

    n_layers: int
    file_bytes: int
    kv_bytes_per_token: int
    """K and V of every layer for one position, at f16."""

    @property
    def layer_bytes(self) -> int:
        return -(-self.file_bytes // self.n_layers)


@dataclass(frozen=True)
class OffloadPlan:
    layers: int
    """``n_gpu_layers`` for llama.cpp: 0 is CPU only, ``total_layers + 1`` is every
    layer and the output layer."""
    total_layers: int
    reason: str

    @property
    def on_gpu(self) -> bool:
        return self.layers > 0


def plan_offload(
    shape: ModelShape, n_ctx: int, devices: list[GpuDevice], setting: str | int | None = "auto"
) -> OffloadPlan:
    """How many layers to offload to ``devices`` (pure: tested with simulated figures)."""
    requested = parse_gpu_layers(setting)
    total = shape.n_layers
    if not devices:
        return OffloadPlan(0, total, "CPU only: this llama.cpp build has no GPU device")
    if requested is not None:
        layers = min(requested, total + 1)
        return OffloadPlan(layers, total, f"{layers} layers on the GPU, as set")
    free = sum(d.free_bytes for d in devices)
    budget = free - HEADROOM_BYTES - int(free * HEADROOM_SHARE)
    per_layer = shape.layer_bytes + -(-shape.kv_bytes_per_token * n_ctx // total)
    fit = max(0, budget // per_layer) if budget > 0 else 0
    gib = f"{free / 2**30:.1f} GiB free"
    if fit >= total + 1:
        reason = f"all {total} layers and the output on the GPU ({gib})"
        return OffloadPlan(total + 1, total, reason)
    layers = min(fit, total)
    if layers == 0:
        return OffloadPlan(0, total, f"CPU only: not one layer fits ({gib})")
    return OffloadPlan(layers, total, f"{layers} of {total} layers on the GPU ({gib})")


def shape_from_metadata(meta: dict[str, Any], file_bytes: int) -> ModelShape:
    """The shape from a GGUF's metadata (``Llama.metadata``: all values are strings)."""
    arch = meta.get("general.architecture", "")

    def num(key: str, default: int = 0) -> int:
        value = meta.get(f"{arch}.{key}")
        return int(value) if value not in (None, "") else default

    n_layers = max(1, num("block_count", 1))
    n_embd = num("embedding_length")
    n_head = max(1, num("attention.head_count", 1))
    n_head_kv = num("attention.head_count_kv", n_head)
    head_k = num("attention.key_length", n_embd // n_head)
    head_v = num("attention.value_length", head_k)
    kv = n_layers * n_head_kv * (head_k + head_v) * 2
    return ModelShape(n_layers, file_bytes, kv)


def _ggml() -> ctypes.CDLL | None:
    """llama-cpp-python's own libggml (the process already has it loaded)."""
    import llama_cpp

    names = {"darwin": "libggml.dylib", "win32": "ggml.dll"}
    lib = Path(llama_cpp.__file__).parent / "lib" / names.get(sys.platform, "libggml.so")
    if not lib.is_file():
        return None
    try:
        ggml = ctypes.CDLL(str(lib))
    except OSError:
        return None
    ggml.ggml_backend_dev_count.restype = ctypes.c_size_t
    ggml.ggml_backend_dev_get.restype = ctypes.c_void_p
    ggml.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    ggml.ggml_backend_dev_type.restype = ctypes.c_int
    ggml.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_dev_name.restype = ctypes.c_char_p
    ggml.ggml_backend_dev_name.argtypes = [ctypes.c_void_p]
    ggml.ggml_backend_dev_memory.restype = None
    ggml.ggml_backend_dev_memory.argtypes = [
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_size_t),
        ctypes.POINTER(ctypes.c_size_t),
    ]
    return ggml


def backend_devices(*, include_cpu: bool = False) -> list[tuple[int, GpuDevice]]:
    """ggml's devices as (type, device) with their memory, as llama.cpp sees them."""
    ggml = _ggml()
    if ggml is None:
        return []
    out = []
    for i in range(ggml.ggml_backend_dev_count()):
        dev = ggml.ggml_backend_dev_get(i)
        kind = ggml.ggml_backend_dev_type(dev)
        if kind not in (_GPU, _IGPU) and not include_cpu:
            continue
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        ggml.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        name = (ggml.ggml_backend_dev_name(dev) or b"?").decode(errors="replace")
        out.append((kind, GpuDevice(name, free.value, total.value, integrated=kind == _IGPU)))
    return out


def gpu_devices() -> list[GpuDevice]:
    """The GPUs this llama.cpp build can offload to (none on a CPU build)."""
    import llama_cpp

    if not llama_cpp.llama_supports_gpu_offload():
        return []
    return [dev for _, dev in backend_devices()]


def decide(path: Path, n_ctx: int, setting: str | int | None = "auto") -> OffloadPlan:
    """The plan for loading ``path``: probes only when the build can offload."""
    parse_gpu_layers(setting)  # a bad setting is refused on every machine, not just GPU ones
    devices = gpu_devices()
    if not devices:
        return OffloadPlan(0, 0, "CPU only: this llama.cpp build has no GPU device")
    return plan_offload(model_shape(path), n_ctx, devices, setting)


def model_shape(path: Path) -> ModelShape:
    """The shape of the GGUF at ``path``, read from its metadata (no weights loaded)."""
    from redline.engine.loader import load_llama

    llm = load_llama(path, vocab_only=True)
    try:
        return shape_from_metadata(dict(llm.metadata), path.stat().st_size)
    finally:
        llm.close()
