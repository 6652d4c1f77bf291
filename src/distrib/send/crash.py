"""Named crash points, for crash tests only.

The crash tests run the real ``distrib send`` in a subprocess with ``DISTRIB_CRASH_AT`` set to
one of `POINTS`; when a message reaches that point the process ends at once with
``os._exit(CRASH_EXIT)``, as if killed: no ``finally``, no flush, no commit.  Then they resume
and compare the delivery log with what the server received.  ``DISTRIB_CRASH_AFTER=N`` crashes
the N-th time the point is reached instead of the first.

Unset (always, outside tests), a crash point is a single comparison with None.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import NoReturn

__all__ = ["CRASH_EXIT", "POINTS", "CrashPoints", "crash_point"]

#: Every point, in the order a message reaches them (then the group commit's).
POINTS = (
    "before-claim",  # the message was taken from the queue, nothing recorded yet
    "before-data",  # MAIL and RCPT accepted; the `data` state is not committed yet
    "after-data-commit",  # `data` committed; the DATA command is not sent yet
    "after-354",  # the server invited the body; no body byte sent yet
    "after-dot",  # the body and the final dot were written; no reply read yet
    "after-250-before-commit",  # the server accepted the message; `sent` is not committed
    "after-commit",  # `sent` (or another outcome) was committed
    # Not tied to one message: a group of log changes (`distrib.send.commits`) is written and
    # its COMMIT not issued yet, so none of it is in the file.
    "before-group-commit",
)
#: The exit status of a crashed process (EX_SOFTWARE).
CRASH_EXIT = 70


class CrashPoints:
    """Crash at ``point`` the ``after``-th time it is reached (None: never)."""

    def __init__(
        self, point: str | None, after: int = 1, exit: Callable[[int], NoReturn] = os._exit
    ) -> None:
        if point is not None and point not in POINTS:
            raise ValueError(f"DISTRIB_CRASH_AT={point!r}: not one of {', '.join(POINTS)}")
        self.point = point
        self.after = max(1, after)
        self.seen = 0
        self._exit = exit

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], exit: Callable[[int], NoReturn] = os._exit
    ) -> CrashPoints:
        """Read ``DISTRIB_CRASH_AT`` and ``DISTRIB_CRASH_AFTER``."""
        point = environ.get("DISTRIB_CRASH_AT") or None
        after = int(environ.get("DISTRIB_CRASH_AFTER", "1") or "1")
        return cls(point, after, exit)

    def hit(self, name: str) -> None:
        """Crash here if this is the chosen point and its turn."""
        if name != self.point:
            return
        self.seen += 1
        if self.seen >= self.after:
            self._exit(CRASH_EXIT)


_points: CrashPoints | None = None


def crash_point(name: str) -> None:
    """Crash at ``name`` if the environment asks for it (see the module docstring)."""
    global _points  # noqa: PLW0603 (read the environment once, on first use)
    if _points is None:
        _points = CrashPoints.from_env(os.environ)
    if _points.point is not None:
        _points.hit(name)
