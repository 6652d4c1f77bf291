"""Times in the audit: the log stores UTC; the officer reads and filters in a zone they name.

A time given to a filter must say its zone (``2027-02-02T09:00-05:00``, ``…Z``, or
``2027-02-02 09:00 America/Montreal``): a bare ``09:00`` on a machine set to UTC would silently
be five hours off for a Montréal officer, so it is refused rather than guessed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["TIME_FIELDS", "format_time", "in_zone", "parse_instant", "parse_zone", "to_log_time"]

#: Fields of audit rows that hold a stored timestamp.
TIME_FIELDS = frozenset(
    {
        "started_at",
        "finished_at",
        "created_at",
        "updated_at",
        "sent_at",
        "attempted_at",
        "bounced_at",
        "resolved_at",
        "requested_at",
        "arrived_at",
        "recorded_at",
        "run_started_at",
    }
)

_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")


def parse_zone(name: str | None) -> tzinfo | None:
    """Return the zone named ``name`` ("UTC", "America/Montreal"); None means local time."""
    if name is None or name.strip().casefold() == "local":
        return None
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (e.g. UTC, America/Montreal, America/Toronto)"
        ) from None


def parse_instant(text: str) -> datetime:
    """Read an instant that names its zone; raise ValueError for one that does not.

    Accepted: ISO 8601 with an offset or ``Z``, or a date and time followed by a zone name
    (``UTC``, ``America/Montreal``, or ``local`` for this machine's zone).
    """
    value = text.strip()
    head, _, tail = value.rpartition(" ")
    if head and _ZONE_NAME.fullmatch(tail):
        zone = parse_zone(tail)
        moment = _iso(head.strip(), text)
        if moment.tzinfo is not None:
            raise ValueError(f"{text!r}: give an offset or a zone name, not both")
        return moment.replace(tzinfo=zone) if zone is not None else moment.astimezone()
    moment = _iso(value, text)
    if moment.tzinfo is None:
        raise ValueError(
            f"{text!r} has no time zone: write e.g. {value}-05:00, {value}Z"
            f" or '{value} America/Montreal'"
        )
    return moment


def _iso(value: str, text: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a date and time (ISO 8601)") from None


def to_log_time(moment: datetime) -> str:
    """Return ``moment`` as the log stores times (UTC, milliseconds), for comparisons in SQL."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _convert(stored: str, zone: tzinfo | None) -> datetime:
    moment = datetime.fromisoformat(stored)
    if moment.tzinfo is None:  # never written so by distrib; read as UTC rather than fail
        moment = moment.replace(tzinfo=UTC)
    # astimezone(None) applies the machine's rules to each instant, so DST is right on both sides.
    return moment.astimezone(zone)


def format_time(stored: str | None, zone: tzinfo | None, *, seconds: bool = True) -> str:
    """Return a stored timestamp for people: ``2027-02-02 09:30:05-05:00`` ("" for None)."""
    if not stored:
        return ""
    return _convert(stored, zone).isoformat(sep=" ", timespec="seconds" if seconds else "minutes")


def in_zone(rows: Iterable[Mapping[str, Any]], zone: tzinfo | None) -> list[dict[str, Any]]:
    """Return ``rows`` with every timestamp field expressed in ``zone`` (ISO 8601, offset kept)."""
    result = []
    for row in rows:
        copy = dict(row)
        for name in TIME_FIELDS.intersection(copy):
            if copy[name]:
                copy[name] = _convert(copy[name], zone).isoformat(timespec="milliseconds")
        if isinstance(copy.get("attempt_log"), list):
            copy["attempt_log"] = in_zone(copy["attempt_log"], zone)
        result.append(copy)
    return result
