"""Ctrl-C and SIGTERM while sending: the first asks for a clean stop, the second abandons.

First signal: ``stop`` is set: messages in flight finish (a reply to the final dot can take up
to ``smtp.data_timeout``), nothing new starts, the run can be resumed.  Second signal:
``abandon`` is set: in-flight messages are cancelled and recorded truthfully (``ready`` if the
server never had the body, ``unknown`` if it may have).  Later signals change nothing more.

`StopSwitch` is the same clean stop asked from another thread (a "Stop" button of the web
interface, whose send runs in a worker thread where signals cannot be caught).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["StopSwitch", "stop_signals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_signals(
    stop: asyncio.Event, abandon: asyncio.Event, *, enabled: bool = True
) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``stop`` then ``abandon`` while the block runs."""
    if not enabled:
        yield
        return
    loop = asyncio.get_running_loop()

    def handle() -> None:
        (abandon if stop.is_set() else stop).set()

    for sig in _SIGNALS:
        loop.add_signal_handler(sig, handle)
    try:
        yield
    finally:
        for sig in _SIGNALS:
            loop.remove_signal_handler(sig)


class StopSwitch:
    """A clean stop asked from any thread: `request` sets the stop event of the send it is
    attached to (in that send's event loop), now or, if the send has not started yet, as soon as
    it attaches.  Messages in flight finish; nothing new starts; the run can be resumed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._targets: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @property
    def requested(self) -> bool:
        """Tell whether a stop was asked."""
        return self._requested

    def request(self) -> None:
        """Ask the send to stop cleanly (safe from any thread; again: nothing more)."""
        with self._lock:
            self._requested = True
            targets = list(self._targets)
        for loop, event in targets:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    @contextmanager
    def attached(self, stop: asyncio.Event) -> Iterator[None]:
        """Route `request` to ``stop`` (of the running loop) while the block runs."""
        target = (asyncio.get_running_loop(), stop)
        with self._lock:
            self._targets.append(target)
            if self._requested:
                stop.set()
        try:
            yield
        finally:
            with self._lock:
                self._targets.remove(target)
