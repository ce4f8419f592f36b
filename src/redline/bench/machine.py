"""What a benchmark ran on, as one record: figures from two machines are never mixed.

The description itself is the engine's (``redline.engine.machine.machine_record``:
CPU model, cores, the SIMD/matrix extensions llama.cpp uses, GPUs, the llama.cpp
build), shared with ``redline models`` and every benchmark's table header. Until
that module is in the tree, :func:`_fallback` returns the same keys from the
standard library and llama.cpp's own system report. :func:`kind` is the short
label ``redline bench report`` groups records by.
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path
from typing import Any

EXTENSIONS = ("AVX", "AVX2", "AVX512", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8", "NEON", "SVE")
"""The features of llama.cpp's system report that decide its CPU kernels, narrow to wide."""


def describe() -> dict[str, Any]:
    """The machine record (the engine's, when it has one)."""
    try:
        from redline.engine.machine import machine_record  # type: ignore[import-not-found]
    except ImportError:
        return _fallback()
    return machine_record()


def _fallback() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
        flags = set(re.search(r"^flags\s*:(.*)$", text, re.MULTILINE).group(1).split())  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    build, version, gpus = "", None, []
    try:
        import llama_cpp

        report = llama_cpp.llama_print_system_info()
        build = report.decode() if isinstance(report, bytes) else str(report)
        version = getattr(llama_cpp, "__version__", None)
        gpus = ["(GPU offload supported)"] if llama_cpp.llama_supports_gpu_offload() else []
    except ImportError:
        pass
    built = {m.group(1) for m in re.finditer(r"([A-Z0-9_]+) = 1", build)}
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "extensions": [e for e in EXTENSIONS if e in built],
        "amx": "amx_tile" in flags,
        "gpu": gpus,
        "llama_cpp": version,
        "llama_build": build.strip(),
        "weights_repacked": False,
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
    }


WIDTH = ("AMX", "AVX512", "AVX2", "AVX", "SVE", "NEON")
"""Vector extensions, widest first: the one that names a machine's matrix speed (llama.cpp
lists its extensions in its own order, FMA, F16C and BMI2 after AVX2)."""


def _widest(extensions: list[str]) -> str:
    for prefix in WIDTH:
        found = [e for e in extensions if e.upper().startswith(prefix)]
        if found:
            return min(found, key=len)
    return extensions[-1] if extensions else ""


def kind(machine: dict[str, Any]) -> str:
    """A short label that is the same for two machines whose figures compare."""
    simd = _widest(machine.get("extensions") or machine.get("simd") or []) or machine.get(
        "arch", "?"
    )
    gpus = machine.get("gpu") or []
    gpu = ", ".join(gpus) if isinstance(gpus, list) else str(gpus)
    return (
        f"{machine.get('cpu') or '?'}, {machine.get('cores', '?')} cores, {simd}, {gpu or 'no GPU'}"
    )
