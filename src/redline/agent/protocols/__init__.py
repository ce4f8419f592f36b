"""Edit protocols, one module each; see :mod:`redline.agent.protocols.base`.

A module here that defines ``PROTOCOL`` (a factory for one task's protocol
object) is a protocol, named after the module: adding a file adds a protocol.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache

from redline.agent.protocols.base import EditProtocol, Query
from redline.errors import ConfigError

__all__ = ["EditProtocol", "Query", "get_protocol", "protocol_names"]


@cache
def _factories() -> dict[str, Callable[[], EditProtocol]]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        factory = getattr(module, "PROTOCOL", None)
        if factory is not None:
            found[info.name] = factory
    return found


def protocol_names() -> tuple[str, ...]:
    return tuple(sorted(_factories()))


def get_protocol(name: str) -> EditProtocol:
    """A fresh protocol object for one task."""
    factory = _factories().get(name)
    if factory is None:
        raise ConfigError(
            f"unknown edit format {name!r}", hint=f"use one of {', '.join(protocol_names())}"
        )
    return factory()
