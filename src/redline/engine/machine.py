"""What machine a figure was measured on, in one record.

llama.cpp's speed (and, on some CPUs, whether it runs at all) depends on the
SIMD and matrix extensions it was built for and finds (AVX2, AVX-512, AMX on a
recent Xeon, NEON on Arm), on the core count, on a GPU, on the llama.cpp build
and on whether weights are repacked into extra buffer types. Two machines'
tokens per second are not comparable without those, so every benchmark result,
``redline models`` and ``redline --version`` show :func:`machine_record`
(and :func:`machine_line`, its one-line form). Result records written by other
parts of redline take their ``machine`` from here too: one source, one shape.
"""

from __future__ import annotations

import functools
import os
import platform
import re
from pathlib import Path
from typing import Any

SIMD = (
    "SSE3",
    "SSSE3",
    "AVX",
    "AVX2",
    "AVX_VNNI",
    "FMA",
    "F16C",
    "BMI2",
    "AVX512",
    "AVX512_VBMI",
    "AVX512_VNNI",
    "AVX512_BF16",
    "AMX_INT8",
    "AMX_BF16",
    "NEON",
    "ARM_FMA",
    "FP16_VA",
    "DOTPROD",
    "MATMUL_INT8",
    "SVE",
    "SME",
    "RISCV_V",
    "VSX",
)
"""The extensions llama.cpp's system info reports that change which kernels run."""

CPU_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni")
CPU_FLAGS += ("amx_tile", "amx_int8", "amx_bf16", "asimd", "sve")
"""The CPU's own flags (``/proc/cpuinfo``) worth naming, whatever the build uses."""


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU's marketing name ("AMD EPYC 7B13"), else what ``platform`` knows."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    for key in ("model name", "Model", "cpu model", "Hardware"):
        found = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if found:
            return found.group(1).strip()
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags(cpuinfo: str | None = None) -> list[str]:
    """Which of :data:`CPU_FLAGS` this CPU has (``flags`` on x86, ``Features`` on Arm)."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    found = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.MULTILINE)
    have = set(found.group(1).split()) if found else set()
    return [flag for flag in CPU_FLAGS if flag in have]


def build_features(system_info: str) -> list[str]:
    """The :data:`SIMD` entries llama.cpp reports as on (``AVX2 = 1``) in its system info."""
    pairs = re.findall(r"([A-Z0-9_]+)\s*=\s*(\d+)", system_info)
    on = {name for name, value in pairs if value != "0"}
    return [name for name in SIMD if name in on]


def _gpus() -> list[str]:
    from redline.engine.offload import gpu_devices

    return [f"{d.name} ({d.total_bytes / 2**30:.0f} GiB)" for d in gpu_devices()]


@functools.cache
def _record() -> tuple[tuple[str, Any], ...]:
    import llama_cpp  # here, not at the top: a saved result's reader need not load llama.cpp

    from redline.engine.loader import REPACK_WEIGHTS, default_threads

    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    cpuinfo = _cpuinfo()
    flags = cpu_flags(cpuinfo)
    record: dict[str, Any] = {
        "cpu": cpu_model(cpuinfo),
        "cores": default_threads(),
        "cpu_count": os.cpu_count() or 1,
        "extensions": build_features(info),
        "cpu_flags": flags,
        "amx": "amx_tile" in flags,
        "gpu": _gpus(),
        "llama_cpp": llama_cpp.__version__,
        "llama_build": info,
        "weights_repacked": REPACK_WEIGHTS,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in record.items())


def machine_record() -> dict[str, Any]:
    """This machine as a JSON-ready dict (a fresh copy; measured once per process).

    Keys: ``cpu`` (model name), ``cores`` (CPUs this process may use),
    ``cpu_count``, ``extensions`` (SIMD/matrix extensions this llama.cpp build
    uses), ``cpu_flags`` (the CPU's own, e.g. ``amx_tile``), ``amx``, ``gpu``
    (devices llama.cpp can offload to), ``llama_cpp`` (llama-cpp-python
    version), ``llama_build`` (llama.cpp's system info line),
    ``weights_repacked``, ``platform``, ``python``.
    """
    return {k: list(v) if isinstance(v, tuple) else v for k, v in _record()}


def machine_line(record: dict[str, Any] | None = None) -> str:
    """The record in one line, for a table's header."""
    m = record or machine_record()
    gpu = ", ".join(m.get("gpu") or []) or "no GPU"
    ext = " ".join(m.get("extensions") or []) or "no SIMD extensions"
    amx = "; CPU has AMX" if m.get("amx") else ""
    repack = "repacked" if m.get("weights_repacked") else "not repacked"
    return (
        f"{m.get('cpu')}, {m.get('cores')} cores, {ext}{amx}; {gpu}; "
        f"llama-cpp-python {m.get('llama_cpp')}; weights {repack}"
    )
