"""Ctrl-C and SIGTERM while sending: the first asks for a clean stop, the second abandons.

First signal: ``stop`` is set: messages in flight finish (a reply to the final dot can take up
to ``smtp.data_timeout``), nothing new starts, the run can be resumed.  Second signal:
``abandon`` is set: in-flight messages are cancelled and recorded truthfully (``ready`` if the
server never had the body, ``unknown`` if it may have).  Later signals change nothing more.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["stop_signals"]

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
