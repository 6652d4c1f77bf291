"""Embargo and scheduling: when a send may start, and waiting for a given time.

Two different things, never confused:

* **The embargo** (``embargo:`` in the front matter) says when journalists may *publish*.  The
  release is sent *before* it, so they can prepare, and every message carries the notice
  ("SOUS EMBARGO jusqu’au …").  Sending *after* it has passed would send a false notice, so
  `check_start` refuses a start at or after the embargo, unless the officer drops the notice
  for that run (``send --drop-embargo``: the messages go out without it, as an immediate
  release, and the run records it).  Dropping an embargo that has not passed is refused: the
  release would go out with no notice while it is still under embargo.
* **A scheduled start** (``hold_until:`` in the front matter, or ``send --at TIME``) says when
  the release may *leave*: `send` refuses to start before ``hold_until``, and ``--at`` waits
  until TIME (with a countdown; the machine must stay on and awake), then starts.

Both times carry an explicit time zone: a UTC offset (``2027-11-04T09:00-05:00``, ``…Z``) or an
IANA zone name (``2027-11-04 09:00 America/Toronto``), never the machine's local time by
accident.  The clock and the sleep are injectable, so tests never wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from distrib.errors import EmbargoError

if TYPE_CHECKING:
    from distrib.release import Release

__all__ = [
    "Clock",
    "EmbargoError",
    "Schedule",
    "check_embargo",
    "check_start",
    "embargo_of",
    "format_countdown",
    "parse_time",
    "utc_now",
    "wait_until",
]

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

_EXAMPLES = "e.g. 2027-11-04T09:00-05:00, 2027-11-04T14:00Z or '2027-11-04 09:00 America/Toronto'"


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def parse_time(text: str) -> datetime:
    """Parse a date and time with an explicit time zone; raise `EmbargoError` if there is none.

    Accepted: ISO 8601 with a UTC offset or ``Z``, or a date and time followed by an IANA zone
    name (``2027-11-04 09:00 America/Toronto``).
    """
    value = text.strip()
    moment: datetime | None = None
    zone_name = None
    head, _, tail = value.rpartition(" ")
    if head and ("/" in tail or tail.upper() == "UTC"):
        value, zone_name = head, tail
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1) if "T" not in value else value)
    except ValueError:
        raise EmbargoError(f"{text!r} is not a date and time ({_EXAMPLES})") from None
    if zone_name is not None:
        if moment.tzinfo is not None:
            raise EmbargoError(f"{text!r} gives both a UTC offset and a zone name; give one")
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            raise EmbargoError(f"{text!r}: unknown time zone {zone_name!r}") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise EmbargoError(f"{text!r} has no time zone, so the moment is ambiguous ({_EXAMPLES})")
    return moment


def embargo_of(release: Release) -> datetime | None:
    """Return the release's embargo: the latest of its documents' (None if there is none)."""
    return release.embargo


def _when(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def check_embargo(embargo: datetime | None, start: datetime, *, drop: bool = False) -> None:
    """Raise `EmbargoError` if a send starting at ``start`` would state a false embargo.

    An embargoed release is sent *before* its embargo (the notice asks journalists not to
    publish until then).  At or after it, the notice would be false: refused, unless ``drop``
    (``--drop-embargo``: the messages carry no notice).  ``drop`` before the embargo is refused
    too: the release would leave without a notice while it is still under embargo.
    """
    if embargo is None:
        return
    if start >= embargo and not drop:
        now = _when(start.astimezone(embargo.tzinfo))
        raise EmbargoError(
            f"the release's embargo ({_when(embargo)}) has passed (the send would start at {now}):"
            " its messages would tell journalists not to publish before a time already gone."
            " Send it without the embargo notice with `distrib send --drop-embargo` (recorded"
            " in the run), or change the embargo in the release's front matter"
        )
    if start < embargo and drop:
        raise EmbargoError(
            f"--drop-embargo sends without the embargo notice, but the embargo ({_when(embargo)})"
            " has not passed: the release would go out unprotected.  Send it before the embargo"
            " with its notice (without --drop-embargo), or remove 'embargo' from the front matter"
            " if it is lifted"
        )


def check_start(
    start: datetime,
    *,
    embargo: datetime | None = None,
    hold_until: datetime | None = None,
    drop: bool = False,
) -> None:
    """Raise `EmbargoError` if a send may not start at ``start``: before ``hold_until`` (the
    release's scheduled start), or at or after ``embargo`` (see `check_embargo`)."""
    if hold_until is not None and embargo is not None and hold_until >= embargo and not drop:
        raise EmbargoError(
            f"the release is held until {_when(hold_until)} but its embargo is {_when(embargo)}:"
            " it could only leave after its embargo, with a false notice.  'hold_until' must"
            " come before 'embargo' (the release is sent before the embargo, so that"
            " journalists can prepare)"
        )
    if hold_until is not None and start < hold_until:
        now = _when(start.astimezone(hold_until.tzinfo))
        raise EmbargoError(
            f"the release is held until {_when(hold_until)} (hold_until in its front matter):"
            f" nothing may be sent before then (the send would start at {now})."
            f" Use `distrib send --at {_when(hold_until)}` to start then; `distrib preview`"
            " works at any time"
        )
    check_embargo(embargo, start, drop=drop)


def format_countdown(remaining: timedelta) -> str:
    """Return ``remaining`` as ``2 d 03:04:05`` or ``03:04:05``."""
    seconds = max(0, int(remaining.total_seconds() + 0.999))
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days} d {clock}" if days else clock


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a send starts: now, or at ``at``; never before ``hold_until``; before ``embargo``
    (unless ``drop_embargo``: then at or after it)."""

    embargo: datetime | None = None
    at: datetime | None = None
    hold_until: datetime | None = None
    drop_embargo: bool = False

    def start_time(self, now: datetime) -> datetime:
        """Return when the send starts; raise `EmbargoError` if it may not start then."""
        start = max(self.at, now) if self.at is not None else now
        self.check(start)
        return start

    def check(self, start: datetime) -> None:
        """Raise `EmbargoError` if a send may not start at ``start``."""
        check_start(start, embargo=self.embargo, hold_until=self.hold_until, drop=self.drop_embargo)


def wait_until(
    target: datetime,
    *,
    clock: Clock = utc_now,
    sleep: Sleep = time.sleep,
    on_tick: Callable[[timedelta], None] | None = None,
    tick: float = 1.0,
) -> None:
    """Sleep until ``clock()`` reaches ``target``, calling ``on_tick(remaining)`` about each
    ``tick`` seconds (Ctrl-C interrupts it as usual)."""
    while True:
        remaining = target - clock()
        if remaining <= timedelta(0):
            return
        if on_tick is not None:
            on_tick(remaining)
        sleep(min(tick, remaining.total_seconds()))
