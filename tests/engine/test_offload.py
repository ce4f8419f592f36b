"""The GPU offload decision, with simulated device memory (and the real probe here)."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import pytest

from redline.config import load_settings
from redline.engine.offload import (
    HEADROOM_BYTES,
    GpuDevice,
    ModelShape,
    backend_devices,
    decide,
    gpu_devices,
    plan_offload,
    shape_from_metadata,
)
from redline.errors import ConfigError

GIB = 2**30
# Qwen2.5-Coder-1.5B Q4_K_M's figures: 28 layers, 2 KV heads of 128, 1,117,320,768 bytes.
QWEN15 = ModelShape(n_layers=28, file_bytes=1_117_320_768, kv_bytes_per_token=28 * 2 * 256 * 2)
N_CTX = 8192


def gpu(free_gib: float, total_gib: float = 24.0) -> GpuDevice:
    return GpuDevice("Simulated GPU", int(free_gib * GIB), int(total_gib * GIB))


def needed(shape: ModelShape, layers: int, n_ctx: int = N_CTX) -> int:
    return layers * (shape.layer_bytes + -(-shape.kv_bytes_per_token * n_ctx // shape.n_layers))


def test_a_cpu_build_keeps_every_layer_on_the_cpu():
    plan = plan_offload(QWEN15, N_CTX, [])
    assert plan.layers == 0 and not plan.on_gpu and "CPU only" in plan.reason


def test_a_big_gpu_takes_every_layer_and_the_output():
    plan = plan_offload(QWEN15, N_CTX, [gpu(20)])
    assert plan.layers == QWEN15.n_layers + 1 and "all 28 layers" in plan.reason


def test_a_small_gpu_takes_what_fits_and_no_more():
    free = 1.2 * GIB
    plan = plan_offload(QWEN15, N_CTX, [gpu(1.2)])
    assert 0 < plan.layers < QWEN15.n_layers
    budget = free - HEADROOM_BYTES - free * 0.10
    assert needed(QWEN15, plan.layers) <= budget < needed(QWEN15, plan.layers + 1)
    assert f"{plan.layers} of 28 layers" in plan.reason


def test_a_longer_context_leaves_room_for_fewer_layers():
    short = plan_offload(QWEN15, 4096, [gpu(1.2)])
    long = plan_offload(QWEN15, 32768, [gpu(1.2)])
    assert long.layers < short.layers


def test_memory_of_several_gpus_adds_up():
    one = plan_offload(QWEN15, N_CTX, [gpu(1.0)])
    two = plan_offload(QWEN15, N_CTX, [gpu(1.0), gpu(1.0)])
    assert two.layers > one.layers


def test_a_nearly_full_gpu_gets_nothing():
    plan = plan_offload(QWEN15, N_CTX, [gpu(0.4)])
    assert plan.layers == 0 and "not one layer fits" in plan.reason


def test_the_setting_overrides_the_estimate_and_is_clamped():
    assert plan_offload(QWEN15, N_CTX, [gpu(20)], "0").layers == 0
    assert plan_offload(QWEN15, N_CTX, [gpu(0.4)], 10).layers == 10
    assert plan_offload(QWEN15, N_CTX, [gpu(20)], "999").layers == 29
    # a CPU build ignores a count: there is nothing to offload to
    assert plan_offload(QWEN15, N_CTX, [], "12").layers == 0


@pytest.mark.parametrize("bad", ["all", "-1", "1.5", ""])
def test_a_bad_setting_is_refused_clearly(bad, monkeypatch):
    with pytest.raises(ConfigError, match="gpu_layers must be auto, 0 or a layer count"):
        plan_offload(QWEN15, N_CTX, [gpu(20)], bad)
    if bad:
        monkeypatch.setenv("REDLINE_GPU_LAYERS", bad)
        with pytest.raises(ConfigError, match="gpu_layers"):
            load_settings()


def test_the_shape_is_read_from_gguf_metadata():
    meta = {
        "general.architecture": "qwen2",
        "qwen2.block_count": "28",
        "qwen2.embedding_length": "1536",
        "qwen2.attention.head_count": "12",
        "qwen2.attention.head_count_kv": "2",
    }
    shape = shape_from_metadata(meta, 1_117_320_768)
    assert shape == QWEN15


def test_the_probe_sees_this_machines_devices_through_ggml():
    """The ctypes binding to ggml's device list works on this build: it finds the CPU
    device with real memory figures, and, with no offload support, no GPU."""
    devices = backend_devices(include_cpu=True)
    assert devices and devices[0][0] == 0 and devices[0][1].total_bytes > 0
    if not llama_cpp.llama_supports_gpu_offload():
        assert gpu_devices() == []
        plan = decide(Path("never-read.gguf"), N_CTX, "auto")
        assert plan.layers == 0 and "CPU only" in plan.reason
