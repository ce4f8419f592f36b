"""Cancel a blocked HTTP read from another thread.

A streaming read that waits for a slow first token cannot look at a
``threading.Event``; closing the socket under it can. One daemon thread
watches the cancel events of all live streams (a few dozen at most) and, when
one is set, shuts its socket down, so that a hedged request's loser frees its
connection within a few tens of milliseconds instead of at the read timeout.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Callable
from typing import Any

POLL_S = 0.02

_watched: dict[int, tuple[threading.Event, Callable[[], None]]] = {}
_lock = threading.Lock()
_wake = threading.Event()
_ids = itertools.count()
_thread: threading.Thread | None = None


def abort_response(response: Any) -> None:
    """Shut the response's socket down so a read blocked on it returns at once."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed: the read has returned anyway
            sock.shutdown(socket.SHUT_RDWR)


def watch_cancel(cancel: threading.Event | None, abort: Callable[[], None]) -> Callable[[], None]:
    """Call ``abort`` once when ``cancel`` is set; returns the function that stops watching."""
    if cancel is None:
        return lambda: None
    key = next(_ids)
    with _lock:
        _watched[key] = (cancel, abort)
        _ensure_thread()
    _wake.set()

    def unwatch() -> None:
        with _lock:
            _watched.pop(key, None)

    return unwatch


def _ensure_thread() -> None:
    global _thread
    if _thread is None or not _thread.is_alive():
        _thread = threading.Thread(target=_run, name="redline-cancel-watch", daemon=True)
        _thread.start()


def _run() -> None:
    while True:
        with _lock:
            # Cleared under the lock, so a new watch's set() is never lost; left set,
            # the timed wait below would return at once and spin a core.
            _wake.clear()
            fired = [(k, abort) for k, (event, abort) in _watched.items() if event.is_set()]
            for key, _ in fired:
                del _watched[key]
            idle = not _watched
        for _, abort in fired:
            # A failed abort only means the read ends at its timeout instead.
            with contextlib.suppress(Exception):
                abort()
        if idle:
            _wake.wait()
        else:
            _wake.wait(POLL_S)
