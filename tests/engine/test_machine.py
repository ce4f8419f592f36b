"""The machine record: what every figure names as the machine it was measured on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import llama_cpp
from typer.testing import CliRunner

from redline.cli import app
from redline.engine.machine import (
    build_features,
    cpu_flags,
    cpu_model,
    machine_line,
    machine_record,
)

SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse sse2 avx avx2 fma f16c avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""
GRAVITON = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm
"""
AMX_BUILD = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 | "
)


def test_the_cpu_is_read_from_cpuinfo_with_its_matrix_extensions() -> None:
    assert cpu_model(SAPPHIRE_RAPIDS) == "Intel(R) Xeon(R) Platinum 8480+"
    flags = cpu_flags(SAPPHIRE_RAPIDS)
    assert {"avx2", "avx512f", "amx_tile", "amx_int8", "amx_bf16"} <= set(flags)
    assert cpu_flags(GRAVITON) == ["asimd"]
    assert cpu_model("") != ""  # no /proc/cpuinfo: platform's name, never empty


def test_the_builds_extensions_come_from_llama_cpps_system_info() -> None:
    assert build_features(AMX_BUILD) == [
        "SSE3", "SSSE3", "AVX", "AVX2", "FMA", "F16C", "BMI2",
        "AVX512", "AVX512_VNNI", "AVX512_BF16", "AMX_INT8",
    ]  # fmt: skip
    assert build_features("CPU : AVX = 1 | AVX2 = 0 | NEON = 1 |") == ["AVX", "NEON"]


def test_this_machines_record_matches_what_the_os_and_llama_cpp_say() -> None:
    m = machine_record()
    json.dumps(m)  # JSON-ready as it is
    assert m["cores"] == len(os.sched_getaffinity(0))
    assert m["cpu"] == cpu_model(Path("/proc/cpuinfo").read_text())
    info = llama_cpp.llama_print_system_info().decode()
    assert m["llama_build"] == info.strip()
    assert m["extensions"] == build_features(info) and m["extensions"]
    assert m["amx"] == ("amx_tile" in m["cpu_flags"])
    assert m["weights_repacked"] is False and m["llama_cpp"] == llama_cpp.__version__
    assert m["gpu"] == [] or llama_cpp.llama_supports_gpu_offload()
    m["extensions"].append("changed")  # a copy: callers cannot change the next record
    assert "changed" not in machine_record()["extensions"]


def test_the_line_names_cpu_cores_extensions_and_repacking() -> None:
    m = machine_record()
    line = machine_line()
    assert m["cpu"] in line and f"{m['cores']} cores" in line
    assert all(ext in line for ext in m["extensions"])
    assert "weights not repacked" in line
    amx = {**m, "amx": True, "weights_repacked": True, "gpu": ["H100 (80 GiB)"]}
    other = machine_line(amx)
    assert "CPU has AMX" in other and "weights repacked" in other and "H100" in other


def test_version_and_models_show_the_machine() -> None:
    version = CliRunner().invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("redline ")
    assert f"machine: {machine_line()}" in version.output
    # `redline models` in its own process, as a user runs it
    out = subprocess.run(
        [sys.executable, "-c", "from redline.cli import main; main()", "models"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert out.returncode == 0, out.stderr
    assert f"machine: {machine_line()}" in out.stdout
