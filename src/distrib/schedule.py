"""Embargo and scheduling: when a send may start, and waiting for a given time.

An embargo line binds only the journalists who agreed to it; controlling when the release
*leaves* is what actually protects it.  So `distrib send` refuses to start before the release's
embargo (``embargo:`` in the front matter; the latest one if the languages differ), and
``send --at TIME`` waits until TIME, with a countdown, then starts.  Both times carry an explicit
time zone: a UTC offset (``2027-11-04T09:00-05:00``, ``…Z``) or an IANA zone name
(``2027-11-04 09:00 America/Toronto``), never the machine's local time by accident.  The clock
and the sleep are injectable, so tests never wait.
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
    moments = [d.embargo for d in release.documents.values() if d.embargo is not None]
    return max(moments) if moments else None


def check_embargo(embargo: datetime | None, start: datetime) -> None:
    """Raise `EmbargoError` if a send starting at ``start`` would come before ``embargo``."""
    if embargo is not None and start < embargo:
        now = start.astimezone(embargo.tzinfo).isoformat(timespec="seconds")
        raise EmbargoError(
            f"the release is under embargo until {embargo.isoformat()}: nothing may be sent"
            f" before then (the send would start at {now})."
            f" Use `distrib send --at {embargo.isoformat()}` to start then; `distrib preview`"
            " works at any time"
        )


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
    """When a send starts: now, or at ``at``; never before ``embargo``."""

    embargo: datetime | None = None
    at: datetime | None = None

    def start_time(self, now: datetime) -> datetime:
        """Return when the send starts; raise `EmbargoError` if that is before the embargo."""
        start = max(self.at, now) if self.at is not None else now
        check_embargo(self.embargo, start)
        return start


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
