"""Embargo and scheduling: explicit time zones; an embargoed release leaves before its embargo,
never after it (unless its notice is dropped); a held release never before ``hold_until``;
waiting with a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from distrib.release import read_release
from distrib.schedule import (
    EmbargoError,
    Schedule,
    check_embargo,
    check_start,
    embargo_of,
    format_countdown,
    parse_time,
    wait_until,
)
from render_helpers import EN_FRONT, FR_FRONT, write_document

EST = timezone(timedelta(hours=-5))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-11-04T09:00:00-05:00", datetime(2027, 11, 4, 9, tzinfo=EST)),
        ("2027-11-04T09:00-05:00", datetime(2027, 11, 4, 9, tzinfo=EST)),
        ("2027-11-04 09:00-05:00", datetime(2027, 11, 4, 9, tzinfo=EST)),
        ("2027-11-04T14:00Z", datetime(2027, 11, 4, 14, tzinfo=UTC)),
        ("2027-12-04 09:00 America/Toronto", datetime(2027, 12, 4, 14, tzinfo=UTC)),  # EST
        ("2027-11-04 09:00 America/Toronto", datetime(2027, 11, 4, 13, tzinfo=UTC)),  # EDT
        ("2027-11-04 14:00 UTC", datetime(2027, 11, 4, 14, tzinfo=UTC)),
    ],
)
def test_times_need_and_keep_an_explicit_zone(text: str, expected: datetime) -> None:
    moment = parse_time(text)
    assert moment == expected
    assert moment.utcoffset() is not None


def test_a_zone_name_keeps_the_zone() -> None:
    assert parse_time("2027-11-04 09:00 America/Toronto").tzinfo == ZoneInfo("America/Toronto")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2027-11-04 09:00", "has no time zone"),
        ("2027-11-04T09:00", "has no time zone"),
        ("demain 9 h", "is not a date and time"),
        ("2027-11-04 09:00 Mars/Olympus", "unknown time zone"),
        ("2027-11-04T09:00-05:00 America/Toronto", "both a UTC offset and a zone name"),
    ],
)
def test_ambiguous_or_bad_times_are_refused(text: str, fragment: str) -> None:
    with pytest.raises(EmbargoError, match=fragment):
        parse_time(text)


def test_embargo_is_the_latest_of_the_documents(tmp_path: Path) -> None:
    folder = tmp_path / "release"
    write_document(folder, "fr", FR_FRONT + "embargo: 2027-11-04T09:00:00-05:00\n")
    write_document(folder, "en", EN_FRONT + "embargo: 2027-11-04T10:00:00-05:00\n")
    assert embargo_of(read_release(folder)) == datetime(2027, 11, 4, 10, tzinfo=EST)
    write_document(folder, "en", EN_FRONT)
    write_document(folder, "fr", FR_FRONT)
    assert embargo_of(read_release(folder)) is None


def test_embargo_and_hold_until_are_the_latest_of_the_documents(tmp_path: Path) -> None:
    folder = tmp_path / "release"
    write_document(folder, "fr", FR_FRONT + "hold_until: 2027-11-04T07:00:00-05:00\n")
    write_document(folder, "en", EN_FRONT + "hold_until: 2027-11-04T08:00:00-05:00\n")
    assert read_release(folder).hold_until == datetime(2027, 11, 4, 8, tzinfo=EST)
    assert read_release(folder).embargo is None


def test_sending_after_the_embargo_is_refused_unless_the_notice_is_dropped() -> None:
    embargo = datetime(2027, 11, 4, 9, tzinfo=EST)
    before, after = (
        datetime(2027, 11, 4, 13, 59, tzinfo=UTC),
        datetime(2027, 11, 4, 14, 0, tzinfo=UTC),
    )
    check_embargo(embargo, before)  # an embargoed release is sent before its embargo
    check_embargo(None, datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(EmbargoError) as info:
        check_embargo(embargo, after)  # at the embargo: the notice would be false
    assert str(info.value).startswith(
        "the release's embargo (2027-11-04T09:00:00-05:00) has passed (the send would start at"
        " 2027-11-04T09:00:00-05:00): its messages would tell journalists not to publish before"
        " a time already gone."
    )
    assert "distrib send --drop-embargo" in str(info.value)
    check_embargo(embargo, after, drop=True)  # sent without the notice
    with pytest.raises(EmbargoError, match="has not passed: the release would go out unprotected"):
        check_embargo(embargo, before, drop=True)


def test_hold_until_is_a_scheduled_start() -> None:
    hold = datetime(2027, 11, 4, 7, tzinfo=EST)
    embargo = datetime(2027, 11, 4, 9, tzinfo=EST)
    with pytest.raises(EmbargoError) as info:
        check_start(hold - timedelta(minutes=1), hold_until=hold, embargo=embargo)
    assert str(info.value).startswith(
        "the release is held until 2027-11-04T07:00:00-05:00 (hold_until in its front matter):"
        " nothing may be sent before then (the send would start at 2027-11-04T06:59:00-05:00)."
    )
    assert "distrib send --at 2027-11-04T07:00:00-05:00" in str(info.value)
    check_start(hold, hold_until=hold, embargo=embargo)
    with pytest.raises(EmbargoError, match="'hold_until' must come before 'embargo'"):
        check_start(embargo, hold_until=embargo, embargo=embargo)


def test_schedule_start_time() -> None:
    now = datetime(2027, 11, 4, 12, tzinfo=UTC)
    embargo = datetime(2027, 11, 4, 9, tzinfo=EST)  # 14:00 UTC
    assert Schedule().start_time(now) == now
    assert Schedule(at=now - timedelta(hours=1)).start_time(now) == now  # a past --at: now
    assert Schedule(embargo=embargo).start_time(now) == now  # before the embargo: at once
    earlier = datetime(2027, 11, 4, 13, tzinfo=UTC)
    assert Schedule(embargo=embargo, at=earlier).start_time(now) == earlier
    with pytest.raises(EmbargoError):
        Schedule(embargo=embargo, at=embargo).start_time(now)  # --at the embargo: too late
    assert Schedule(embargo=embargo, at=embargo, drop_embargo=True).start_time(now) == embargo
    later = now + timedelta(hours=3)
    with pytest.raises(EmbargoError):
        Schedule(embargo=embargo).start_time(later)
    hold = datetime(2027, 11, 4, 12, 30, tzinfo=UTC)
    with pytest.raises(EmbargoError, match="held until"):
        Schedule(hold_until=hold).start_time(now)
    assert Schedule(hold_until=hold, at=hold).start_time(now) == hold


class FakeClock:
    """A clock that only moves when slept on."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_wait_until_counts_down_with_the_injected_clock() -> None:
    clock = FakeClock(datetime(2027, 11, 4, 13, 59, 57, 500000, tzinfo=UTC))
    ticks: list[str] = []
    target = datetime(2027, 11, 4, 9, tzinfo=EST)
    wait_until(
        target, clock=clock, sleep=clock.sleep, on_tick=lambda r: ticks.append(format_countdown(r))
    )
    assert clock.now == target
    assert ticks == ["00:00:03", "00:00:02", "00:00:01"]
    assert clock.sleeps == [1.0, 1.0, 0.5]


def test_wait_until_a_past_time_returns_at_once() -> None:
    clock = FakeClock(datetime(2027, 11, 4, 15, tzinfo=UTC))
    wait_until(datetime(2027, 11, 4, 9, tzinfo=EST), clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_countdown_format() -> None:
    assert format_countdown(timedelta(days=2, hours=3, minutes=4, seconds=5)) == "2 d 03:04:05"
    assert format_countdown(timedelta(seconds=0.2)) == "00:00:01"
    assert format_countdown(timedelta(seconds=-5)) == "00:00:00"
