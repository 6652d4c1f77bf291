"""Times in the audit: instants the officer types must name their zone; stored UTC is shown in
the zone asked for."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from distrib.audit import format_time, in_zone, parse_instant, parse_zone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-02-02T09:00-05:00", datetime(2027, 2, 2, 14, 0, tzinfo=UTC)),
        ("2027-02-02T14:00Z", datetime(2027, 2, 2, 14, 0, tzinfo=UTC)),
        ("2027-02-02 14:00:00+00:00", datetime(2027, 2, 2, 14, 0, tzinfo=UTC)),
        ("2027-02-02 09:00 America/Montreal", datetime(2027, 2, 2, 14, 0, tzinfo=UTC)),
        ("2027-07-02 09:00 America/Montreal", datetime(2027, 7, 2, 13, 0, tzinfo=UTC)),  # EDT
        ("2027-02-02 UTC", datetime(2027, 2, 2, 0, 0, tzinfo=UTC)),
    ],
)
def test_instants_must_name_their_zone(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2027-02-02 09:00", "no time zone"),
        ("2027-02-02", "no time zone"),
        ("2027-02-02 09:00 Mars/Olympus", "unknown time zone"),
        ("2027-02-02T09:00-05:00 America/Montreal", "not both"),
        ("yesterday", "not a date"),
    ],
)
def test_instants_without_a_usable_zone_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_instant(text)


def test_local_means_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setenv("TZ", "America/Montreal")
    time.tzset()
    try:
        assert parse_instant("2027-02-02 09:00 local") == datetime(2027, 2, 2, 14, 0, tzinfo=UTC)
        assert parse_zone("local") is None
        assert format_time("2027-02-02T14:00:00.000+00:00", None) == "2027-02-02 09:00:00-05:00"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_stored_times_are_shown_in_the_zone_asked_for() -> None:
    zone = parse_zone("America/Montreal")
    assert format_time("2027-02-02T14:00:05.250+00:00", zone) == "2027-02-02 09:00:05-05:00"
    assert format_time(None, zone) == ""
    stored = "2027-07-02T14:00:00.000+00:00"
    rows = in_zone([{"sent_at": stored, "attempt_log": [{"finished_at": stored}]}], zone)
    assert rows[0]["sent_at"] == "2027-07-02T10:00:00.000-04:00"
    assert rows[0]["attempt_log"][0]["finished_at"] == "2027-07-02T10:00:00.000-04:00"
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_zone("Montreal")
