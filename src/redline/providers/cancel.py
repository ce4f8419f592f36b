"""Cancel a blocked HTTP read from another thread.

A streaming read that waits for a slow first token cannot look at a
``threading.Event``; closing the socket under it can. One daemon thread
watches the cancel events of all live streams (a few dozen at most) and, when
one is set, shuts its socket down, so that a hedged request's loser frees its
connection within a few tens of milliseconds instead of at the read timeout.

Before the response headers arrive there is no response to abort, and many
servers send headers only with the first token. So the HTTP client's network
backend is wrapped (:func:`track_sockets`): every read or write notes which
socket the calling thread is using, and :func:`abort_thread` shuts down the
socket a thread is blocked on. The server sees the connection close and stops
generating, instead of running a whole generation for a loser nobody reads.
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

_socket_of: dict[int, socket.socket] = {}  # thread id -> the socket it last used
_doomed: set[int] = set()  # threads cancelled before they touched a socket


def abort_thread(thread_id: int) -> None:
    """Shut down the socket ``thread_id`` is using (or will use next) for HTTP."""
    with _lock:
        sock = _socket_of.get(thread_id)
        if sock is None:
            _doomed.add(thread_id)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def forget_thread(thread_id: int) -> None:
    """The thread's request is over: a later cancel must not touch a reused socket."""
    with _lock:
        _socket_of.pop(thread_id, None)
        _doomed.discard(thread_id)


class _TrackedStream:
    """A network stream that records, per thread, which socket does the I/O."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def _note(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        me = threading.get_ident()
        with _lock:
            _socket_of[me] = sock
            doomed = me in _doomed
        if doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._note()
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._note()
        self._inner.write(buffer, timeout)

    def start_tls(self, *args: Any, **kwargs: Any) -> _TrackedStream:
        return _TrackedStream(self._inner.start_tls(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _TrackingBackend:
    """Wraps an httpcore network backend so its streams are :class:`_TrackedStream`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(self, *args: Any, **kwargs: Any) -> _TrackedStream:
        return _TrackedStream(self._inner.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> _TrackedStream:
        return _TrackedStream(self._inner.connect_unix_socket(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def track_sockets(http_client: Any) -> bool:
    """Wrap the connection pools of an httpx client; False if its layout is unknown
    (then a cancel before the headers waits for them, as before)."""
    transports = [getattr(http_client, "_transport", None)]
    transports += list((getattr(http_client, "_mounts", None) or {}).values())
    wrapped = False
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            continue
        if not isinstance(backend, _TrackingBackend):
            pool._network_backend = _TrackingBackend(backend)  # type: ignore[union-attr]
        wrapped = True
    return wrapped


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
