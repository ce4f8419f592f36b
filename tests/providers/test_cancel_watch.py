"""The cancel watcher: aborts promptly, and costs nothing while it waits."""

from __future__ import annotations

import threading
import time

from redline.providers.cancel import watch_cancel


def test_watcher_does_not_spin_while_a_stream_is_watched() -> None:
    # A busy watcher steals a core from a local server on a 2-core machine.
    cancel = threading.Event()
    unwatch = watch_cancel(cancel, lambda: None)
    try:
        time.sleep(0.05)
        cpu0 = time.process_time()
        time.sleep(0.5)
        used = time.process_time() - cpu0
    finally:
        unwatch()
    assert used < 0.15, f"watcher used {used:.2f} s of CPU in 0.5 s"


def test_watcher_aborts_soon_after_cancel() -> None:
    cancel, aborted = threading.Event(), threading.Event()
    unwatch = watch_cancel(cancel, aborted.set)
    try:
        cancel.set()
        assert aborted.wait(2.0)
    finally:
        unwatch()
