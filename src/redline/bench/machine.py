"""What a benchmark ran on, as one record: figures from two machines are never mixed.

A stand-in until the engine's own machine description lands (one function that
``redline models``, ``--version`` and every benchmark share); :func:`describe`
returns the fields a result record needs and :func:`kind` the short label
that ``redline bench report`` groups records by. Only the standard library and
llama.cpp's own report are read: no probe may fail a benchmark that already ran.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

MATRIX_AND_SIMD = ("AVX", "AVX2", "AVX512", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8", "NEON")
"""The CPU features of llama.cpp's system report that decide its kernels' speed."""


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else platform.machine()


def _llama_features() -> tuple[list[str], str | None]:
    """The SIMD/matrix features llama.cpp was built for and uses here, and its version."""
    try:
        import llama_cpp
    except ImportError:
        return [], None
    report = llama_cpp.llama_print_system_info()
    text = report.decode() if isinstance(report, bytes) else str(report)
    on = {m.group(1) for m in re.finditer(r"([A-Z0-9_]+) = 1", text)}
    return [f for f in MATRIX_AND_SIMD if f in on], getattr(llama_cpp, "__version__", None)


def _gpu() -> str | None:
    """The first NVIDIA GPU's name, or None (no driver tool, or none found)."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.splitlines() if line.strip()]
    return names[0] if names else None


def describe() -> dict[str, Any]:
    """CPU model, cores, the SIMD/AMX llama.cpp uses, GPU and llama.cpp build."""
    simd, llama_version = _llama_features()
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "simd": simd,
        "gpu": _gpu(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "llama_cpp_python": llama_version,
    }


def kind(machine: dict[str, Any]) -> str:
    """A short label that is the same for two machines whose figures compare."""
    widest = machine.get("simd") or []
    simd = widest[-1] if widest else machine.get("arch", "?")
    gpu = machine.get("gpu") or "no GPU"
    return f"{machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, {simd}, {gpu}"
