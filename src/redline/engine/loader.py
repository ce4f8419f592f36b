"""The one door through which every llama.cpp model redline opens is loaded.

The engine, the quantiser's check, ``redline models``' metadata reads, the
offload planner and the benchmarks' baselines all call :func:`load_llama`, so
the parameters that must not differ between them are decided here once:

- **Weight repacking is off** (``use_extra_bufts = False``). llama.cpp can move
  weights into "extra buffer types" (the CPU repack layouts such as
  ``q4_K_8x8``, or the AMX tiles of an Intel Xeon). Two measured reasons to refuse:
  a repacked tensor uses one kernel for a single token and another for a batch,
  so a speculative verify batch would not reproduce one-token decoding bit for
  bit; and on an AMX Xeon (Sapphire Rapids and later) a default load crashed
  with SIGSEGV at its first ``eval`` ("amx repack tensor blk.0.attn_q.weight"),
  while the same load without extra buffer types ran. A load made anywhere
  else would bring both back, which is why ``tests/engine/test_loader.py``
  fails on any other ``Llama(`` in ``src/``.
- llama.cpp's own log is silenced unless ``REDLINE_LLAMA_LOG`` is set.
- A file that will not load is a :class:`redline.errors.ModelLoadError`.

The high-level ``Llama`` has no argument for extra buffer types, nor for the
context's sequence count, so the bindings' default-params functions are wrapped
while it loads (under a lock: two threads loading at once must not see each
other's wrapper).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import llama_cpp

from redline.errors import ModelLoadError

REPACK_WEIGHTS = False
"""Whether llama.cpp may repack weights into its extra buffer types (see above)."""


def quiet_llama() -> None:
    """llama.cpp logs to stderr; keep it quiet unless REDLINE_LLAMA_LOG is set.

    ``Llama(verbose=...)`` resets the level on every construction, so this is
    called after each one.
    """
    level = logging.DEBUG if os.environ.get("REDLINE_LLAMA_LOG") else logging.CRITICAL
    logging.getLogger("llama-cpp-python").setLevel(level)
    if not os.environ.get("REDLINE_LLAMA_LOG"):
        llama_cpp.llama_log_set(_drop_log, ctypes.c_void_p(0))


@llama_cpp.llama_log_callback
def _drop_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    """llama.cpp's own log lines; errors surface as exceptions instead."""


def default_threads() -> int:
    """The CPUs this process may run on (a container's or ``taskset``'s limit counts)."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


_load_lock = threading.Lock()


@contextmanager
def _load_params(n_seq_max: int, kv_unified: bool | None) -> Iterator[None]:
    """While the block runs, ``Llama`` gets redline's model and context defaults."""
    bindings = llama_cpp.llama_cpp
    model_defaults = bindings.llama_model_default_params
    context_defaults = bindings.llama_context_default_params

    def model_params() -> llama_cpp.llama_model_params:
        p = model_defaults()
        p.use_extra_bufts = REPACK_WEIGHTS
        return p

    def context_params() -> llama_cpp.llama_context_params:
        p = context_defaults()
        p.n_seq_max = n_seq_max
        if kv_unified is not None:
            p.kv_unified = kv_unified
        return p

    with _load_lock:
        bindings.llama_model_default_params = model_params
        bindings.llama_context_default_params = context_params
        try:
            yield
        finally:
            bindings.llama_model_default_params = model_defaults
            bindings.llama_context_default_params = context_defaults


def load_llama(
    path: Path,
    *,
    n_ctx: int = 512,
    n_batch: int = 512,
    n_ubatch: int | None = None,
    n_threads: int | None = None,
    n_seq_max: int = 1,
    kv_unified: bool | None = None,
    logits_all: bool = False,
    vocab_only: bool = False,
    n_gpu_layers: int = 0,
    flash_attn: bool = False,
    kv_type: int | None = None,
    swa_full: bool = False,
) -> llama_cpp.Llama:
    """Load the GGUF at ``path`` the one way redline loads models.

    ``n_ctx`` is the whole context (all ``n_seq_max`` sequences); ``kv_unified``
    None keeps llama.cpp's default; ``vocab_only`` reads the vocabulary and
    metadata without the weights (fast, for inspection). The rest are the
    ``Llama`` arguments of the same names, with ``n_threads`` (default: every
    CPU this process may use) for both prompt and decode.
    """
    threads = n_threads or default_threads()
    try:
        with _load_params(n_seq_max, kv_unified):
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_ubatch=n_ubatch or n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                n_gpu_layers=n_gpu_layers,
                flash_attn=flash_attn,
                type_k=kv_type,
                type_v=kv_type,
                swa_full=swa_full,
                logits_all=logits_all,
                vocab_only=vocab_only,
                verbose=False,
            )
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelLoadError(
            f"cannot load {path}: {exc}",
            hint="the file may be truncated or not a llama.cpp GGUF model",
        ) from exc
    finally:
        quiet_llama()
    return llm


quiet_llama()
