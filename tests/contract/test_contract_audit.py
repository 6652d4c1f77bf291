"""`distrib log`: message rows with their last attempt and bounce, filters, time zones; the
audit's queries on both adapters, and the same records from both."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from audit_helpers import PEOPLE, T0, Clock, add_run, open_log
from distrib.audit import (
    LOG_COLUMNS,
    LogFilter,
    attempt_entries,
    log_columns,
    log_entries,
)
from distrib.deliverylog import DeliveryLog, LogEntry, Run, State
from distrib.deliverylog.records import NewBounce, NewReply
from log_helpers import begin, outcome, raw_execute

MONTREAL = ZoneInfo("America/Montreal")


@pytest.fixture
def clock() -> Clock:
    return Clock()  # the audit's clock (it moves with `at`), for the contract's `log`


@pytest.fixture
def run(log: DeliveryLog, clock: Clock) -> Run:
    return add_run(log, clock)


def who(entries: list[LogEntry]) -> list[str]:
    return [e.recipient.split("@")[0] for e in entries]


def test_each_entry_carries_the_message_its_last_attempt_and_its_run(
    log: DeliveryLog, run: Run
) -> None:
    entries = log_entries(log, run.id)
    assert len(entries) == len(PEOPLE)
    assert tuple(log_columns(log)) == LOG_COLUMNS
    noemie = next(e for e in entries if e.recipient == "noemie@river.example")
    assert noemie.status == "failed" and noemie.reply_code == 550
    assert noemie.enhanced_code == "5.1.1"
    assert noemie.server == "smtp.quais.example:587"
    assert noemie.campaign == "printemps" and noemie.run == run.id
    assert noemie.provenance == "medias.csv:5" and noemie.content_hash == f"{3:064x}"
    marc = next(e for e in entries if e.name == "Marc Tremblay")
    assert marc.recipient == "Marc.Tremblay@fleuve.example"  # as written
    assert marc.address == "Marc.Tremblay@fleuve.example"
    assert marc.sent_at == marc.attempted_at == "2027-02-02T14:00:00.900+00:00"
    luc = next(e for e in entries if e.recipient == "luc@fleuve.example")
    assert luc.status == "suppressed" and luc.attempts == 0 and luc.attempted_at is None


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (LogFilter(states=("sent",)),
         ["zoe.belanger", "Marc.Tremblay", "sam.okafor", "alice", "omar"]),
        (LogFilter(states=("failed", "unknown")), ["noemie", "eve"]),
        (LogFilter(languages=("EN",)), ["sam.okafor", "alice", "omar"]),
        (LogFilter(outlets=("le fleuve",)), ["zoe.belanger", "Marc.Tremblay", "luc"]),
        (LogFilter(outlets=("Fleuve",)), []),  # whole names only
        (LogFilter(domains=("radio-est.example",)), ["eve", "lina", "omar"]),  # and subdomains
        (LogFilter(domains=("@RIVER.example",)), ["sam.okafor", "noemie"]),
        (LogFilter(address="TREMBLAY"), ["Marc.Tremblay"]),
        (LogFilter(address="fleuve"), ["zoe.belanger", "Marc.Tremblay", "luc"]),
        (LogFilter(states=("sent",), languages=("fr",), domains=("fleuve.example",)),
         ["zoe.belanger", "Marc.Tremblay"]),
    ],
)  # fmt: skip
def test_filters(log: DeliveryLog, run: Run, where: LogFilter, expected: list[str]) -> None:
    assert who(log_entries(log, run.id, where)) == expected


def test_a_time_range_selects_by_the_last_attempt_whatever_the_zone_it_is_given_in(
    log: DeliveryLog, run: Run
) -> None:
    # Attempts finish at 0.4, 0.9, 1.4, 1.7, 2.4, 2.9, 3.2, 3.9 s after T0 (09:00 in Montréal).
    since = datetime(2027, 2, 2, 9, 0, 1, tzinfo=MONTREAL)
    until = (T0 + timedelta(seconds=2.5)).astimezone(ZoneInfo("Asia/Tokyo"))
    entries = log_entries(log, run.id, LogFilter(since=since, until=until))
    assert who(entries) == ["sam.okafor", "noemie", "alice"]
    assert who(log_entries(log, run.id, LogFilter(until=since))) == [
        "zoe.belanger", "Marc.Tremblay", "luc",  # luc was never tried: the time his row was made
    ]  # fmt: skip


def test_attempts_are_listed_one_per_row_with_every_detail(
    log: DeliveryLog, run: Run, clock: Clock
) -> None:
    # lina was deferred: try again, accepted this time.
    lina = next(m for m in log.messages(run.id) if m.recipient == "lina@radio-est.example")
    clock.at(400)
    attempt = begin(log, lina.id, "smtp2.quais.example:587")
    outcome(log, lina.id, attempt, State.SENT, code=250, enhanced="2.0.0", text="250 2.0.0 ok")
    rows = attempt_entries(log, run.id, LogFilter(address="lina"))
    assert [(r.attempt, r.outcome, r.reply_code, r.enhanced_code, r.server)
            for r in rows] == [
        (1, "deferred", 451, "4.7.1", "smtp.quais.example:587"),
        (2, "sent", 250, "2.0.0", "smtp2.quais.example:587"),
    ]  # fmt: skip
    assert rows[0].reply_text == "RCPT TO: 451 4.7.1 greylisted"
    assert rows[1].finished_at == "2027-02-02T14:06:40.000+00:00"
    # The time range applies to each attempt here.
    late = attempt_entries(log, run.id, LogFilter(since=T0 + timedelta(seconds=60)))
    assert [(r.recipient, r.attempt) for r in late] == [("lina@radio-est.example", 2)]
    # And JSON gets the same list inside each message.
    entry = next(e for e in log_entries(log, run.id, with_attempts=True) if e.id == lina.id)
    assert [a.outcome for a in entry.attempt_log] == ["deferred", "sent"]


def test_every_run_at_once(log: DeliveryLog, run: Run, clock: Clock) -> None:
    second = add_run(log, clock, PEOPLE[:2], campaign="automne", start=3600,
                     ids=lambda i: f"<second.{i}@quais.example>")  # fmt: skip
    entries = log_entries(log, None, LogFilter(address="zoe"))
    assert [(e.run, e.campaign) for e in entries] == [
        (run.id, "printemps"), (second.id, "automne")
    ]  # fmt: skip


def test_the_worst_bounce_is_shown_with_the_message(log: DeliveryLog, run: Run) -> None:
    zoe = next(m for m in log.messages(run.id) if m.recipient.startswith("zoe"))
    for notice, kind, action in (("<a@x>", "delayed", "delayed"), ("<b@x>", "hard", "failed")):
        log.record_bounce(
            NewBounce(message=zoe.id, notice=notice, recipient=zoe.address, kind=kind,
                      action=action, matched_by="message-id", source="test", status="5.1.1",
                      diagnostic="550 5.1.1 user unknown",
                      arrived_at=datetime(2027, 2, 2, 15, 0, tzinfo=UTC))
        )  # fmt: skip
    entry = log_entries(log, run.id, LogFilter(address="zoe"))[0]
    assert entry.status == "bounced"
    assert (entry.bounce, entry.bounce_status) == ("hard", "5.1.1")
    assert entry.bounced_at == "2027-02-02T15:00:00.000+00:00"
    assert entry.sent_at is not None  # the relay did accept it: that stays on record


def test_resolution_columns_are_exported(log: DeliveryLog, run: Run, target: str | Path) -> None:
    assert log_columns(log)[-3:] == ("resolved_at", "resolved_by", "resolution")
    raw_execute(
        target,
        "UPDATE messages SET resolved_at = '2027-02-03T15:00:00.000+00:00',"
        " resolved_by = 'Camille', resolution = 'mark-sent' WHERE address LIKE 'eve@%'",
    )
    eve = log_entries(log, run.id, LogFilter(address="eve@"))[0]
    assert (eve.resolved_by, eve.resolution) == ("Camille", "mark-sent")


def test_both_adapters_give_the_same_records(tmp_path: Path, postgres_url: str) -> None:
    """The same history written through the port to a SQLite file and to PostgreSQL reads back
    as equal records: the same strings, numbers and None, from every read operation."""

    def history(target: str | Path) -> dict[str, object]:
        clock = Clock()
        with open_log(target, clock) as log:
            run = add_run(log, clock)
            second = add_run(log, clock, PEOPLE[:3], campaign="automne", start=3600,
                             ids=lambda i: f"<second.{i}@quais.example>")  # fmt: skip
            zoe = log.messages(run.id)[0]
            log.record_bounce(
                NewBounce(message=zoe.id, notice="<b@x>", recipient=zoe.address, kind="hard",
                          action="failed", matched_by="message-id", source="test",
                          status="5.1.1", diagnostic="550 5.1.1 user unknown",
                          arrived_at=datetime(2027, 2, 2, 15, 0, tzinfo=UTC))
            )  # fmt: skip
            log.add_suppression("sam.okafor@river.example", "sam.okafor@river.example",
                                reason="unsubscribed", source="test")  # fmt: skip
            log.record_replies([
                NewReply(message=zoe.id, notice="<r@x>", sender=zoe.address, subject="Re: oui",
                         kind="reply", reason="", matched_by="from", source="test",
                         arrived_at=datetime(2027, 2, 2, 16, 0, tzinfo=UTC))
            ])  # fmt: skip
            return {
                "runs": [replace(r, token="") for r in log.runs()],  # tokens are random
                "messages": [log.messages(r.id) for r in (run, second)],
                "entries": log_entries(log, None, with_attempts=True),
                "attempts": attempt_entries(log, None),
                "counts": sorted(log.status_counts(run.id), key=repr),
                "timeline": log.timed_attempts(run.id, ("sent", "failed", "deferred")),
                "suppressions": log.suppressions(),
                "bounces": log.bounces(),
                "replies": log.replies(),
                "history": log_entries(log, None, LogFilter(domains=("fleuve.example",))),
                "earlier": log.earlier_outcomes("printemps"),
                "to_send": log.to_send(run.id),
            }

    on_sqlite = history(tmp_path / "distrib-log.sqlite")
    on_postgres = history(postgres_url)
    for key, value in on_sqlite.items():
        assert on_postgres[key] == value, key
    entries = on_sqlite["entries"]
    assert (
        isinstance(entries, list)
        and entries
        and all(
            [a.started_at for a in e.attempt_log] == [a.started_at for a in f.attempt_log]
            for e, f in zip(entries, on_postgres["entries"], strict=True)  # type: ignore[call-overload]
        )
    )
