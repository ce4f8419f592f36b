"""Helpers for the benchmark tests: a tiny structural schema check for result JSON."""

from __future__ import annotations

from typing import Any


def check_schema(obj: Any, spec: Any, where: str = "$") -> None:
    """Assert ``obj`` has ``spec``'s shape: a type, a dict of key specs, or ``[item spec]``.

    Keys in ``obj`` beyond the spec are allowed; a float spec accepts ints (JSON numbers).
    """
    if isinstance(spec, dict):
        assert isinstance(obj, dict), f"{where}: expected an object, got {type(obj).__name__}"
        for key, sub in spec.items():
            assert key in obj, f"{where}: missing key {key!r}"
            check_schema(obj[key], sub, f"{where}.{key}")
    elif isinstance(spec, list):
        assert isinstance(obj, list), f"{where}: expected a list, got {type(obj).__name__}"
        assert obj, f"{where}: expected a non-empty list"
        for i, item in enumerate(obj):
            check_schema(item, spec[0], f"{where}[{i}]")
    elif spec is float:
        assert isinstance(obj, int | float) and not isinstance(obj, bool), f"{where}: {obj!r}"
    else:
        assert isinstance(obj, spec), f"{where}: expected {spec.__name__}, got {obj!r}"


MACHINE_SCHEMA = {
    "cpu": str,
    "cores": int,
    "extensions": list,
    "amx": bool,
    "gpu": list,
    "llama_cpp": str,
    "llama_build": str,
    "weights_repacked": bool,
}
"""Every result's ``machine`` record (:func:`redline.engine.machine.machine_record`)."""
