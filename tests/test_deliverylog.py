"""The delivery log's state machine, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distrib.deliverylog import DeliveryLog, NewMessage, Run, State
from distrib.deliverylog.migrations import MIGRATIONS
from distrib.errors import DeliveryLogError, RunNotFoundError

T0 = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "distrib-log.sqlite"


@pytest.fixture
def log(path: Path, clock: Clock) -> Iterator[DeliveryLog]:
    with DeliveryLog.open(path, clock=clock) as opened:
        yield opened


def plan(log: DeliveryLog, n: int = 3, campaign: str = "printemps") -> tuple[Run, list[int]]:
    run = log.create_run(campaign, f"{campaign}/campaign.toml", settings={"rate": 2})
    added = log.add_messages(
        run.id,
        [NewMessage(key=f"k{i}", recipient=f"r{i}@example.org", address=f"r{i}@example.org")
         for i in range(n)],
    )  # fmt: skip
    assert added == n
    return run, [m.id for m in log.messages(run.id)]


def status(log: DeliveryLog, message: int) -> str:
    return log.message(message).status


# -- opening, migrations, durability ----------------------------------------------------------


def test_a_new_file_is_created_migrated_and_durable(log: DeliveryLog, path: Path) -> None:
    assert path.is_file()
    versions = log.query("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [(r[0], r[1]) for r in versions] == [(m.version, m.name) for m in MIGRATIONS]
    assert log.query("PRAGMA journal_mode")[0][0] == "wal"
    assert log.query("PRAGMA synchronous")[0][0] == 2  # FULL


def test_reopening_keeps_everything_and_migrates_nothing_twice(path: Path, clock: Clock) -> None:
    with DeliveryLog.open(path, clock=clock) as first:
        run, ids = plan(first)
        first.claim(ids[0], server="relay:587")
    with DeliveryLog.open(path, create=False, clock=clock) as again:
        assert len(again.query("SELECT * FROM schema_migrations")) == len(MIGRATIONS)
        assert again.get_run(run.id).settings == {"rate": 2}
        assert status(again, ids[0]) == "sending"
        assert [a.server for a in again.attempts(ids[0])] == ["relay:587"]


def test_opening_a_missing_log_without_create_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DeliveryLogError, match="no delivery log here"):
        DeliveryLog.open(tmp_path / "nothing.sqlite", create=False)


def test_a_file_that_is_not_a_database_is_an_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DeliveryLogError, match="cannot open the delivery log"):
        DeliveryLog.open(bogus)


# -- runs -------------------------------------------------------------------------------------


def test_runs_are_recorded_and_stamped(log: DeliveryLog, clock: Clock) -> None:
    run, _ = plan(log)
    assert (run.status, run.created_at, run.started_at) == (
        "planned",
        "2025-03-14T09:30:00.000+00:00",
        None,
    )
    clock.now = T0 + timedelta(minutes=1)
    log.set_run_status(run.id, "sending")
    clock.now = T0 + timedelta(minutes=9)
    log.set_run_status(run.id, "finished", note="all done")
    done = log.get_run(run.id)
    assert done.started_at == "2025-03-14T09:31:00.000+00:00"
    assert done.finished_at == "2025-03-14T09:39:00.000+00:00"
    assert done.note == "all done"
    assert [r.id for r in log.runs("printemps")] == [run.id]
    assert log.runs("other") == []
    with pytest.raises(RunNotFoundError):
        log.get_run(run.id + 100)


def test_a_duplicate_key_in_one_run_adds_nothing(log: DeliveryLog) -> None:
    run, _ = plan(log, 1)
    twice = [NewMessage(key="dup", recipient="a@x.org", address="a@x.org")] * 2
    # A DistribError (a clear message, no traceback in the CLI), not sqlite3.IntegrityError.
    with pytest.raises(DeliveryLogError, match="UNIQUE constraint failed") as caught:
        log.add_messages(run.id, twice)
    assert not isinstance(caught.value, sqlite3.Error)
    assert len(log.messages(run.id)) == 1
    log.add_messages(run.id, [NewMessage(key="ok", recipient="b@x.org", address="b@x.org")])
    assert len(log.messages(run.id)) == 2  # the failed transaction was rolled back cleanly


# -- the state machine ------------------------------------------------------------------------


def test_the_happy_path_claim_data_sent(log: DeliveryLog, clock: Clock) -> None:
    _, [m, *_] = plan(log)
    attempt = log.claim(m, server="relay:587")
    assert status(log, m) == "sending" and log.message(m).attempts == 1
    log.begin_data(m)
    assert status(log, m) == "data"
    clock.now = T0 + timedelta(seconds=2)
    log.record(m, attempt, State.SENT, code=250, text="2.0.0 queued as ABC", enhanced="2.0.0")
    row = log.message(m)
    assert (row.status, row.reply_code, row.reply_text) == ("sent", 250, "2.0.0 queued as ABC")
    assert row.sent_at == "2025-03-14T09:30:02.000+00:00"
    [a] = log.attempts(m)
    assert (a.id, a.outcome, a.reply_code, a.enhanced_code, a.server) == (
        attempt,
        "sent",
        250,
        "2.0.0",
        "relay:587",
    )
    assert a.started_at < (a.finished_at or "")


@pytest.mark.parametrize("before", [State.SENDING, State.DATA])
def test_deferred_and_failed_are_allowed_from_sending_and_data(
    log: DeliveryLog, before: State
) -> None:
    _, [m1, m2, _] = plan(log)
    retry_at = T0 + timedelta(minutes=5)
    a1, a2 = log.claim(m1), log.claim(m2)
    if before is State.DATA:
        log.begin_data(m1)
        log.begin_data(m2)
    log.record(m1, a1, State.DEFERRED, code=451, text="greylisted", retry_at=retry_at)
    log.record(m2, a2, State.FAILED, code=550, text="no such user", enhanced="5.1.1")
    assert status(log, m1) == "deferred"
    assert log.message(m1).next_attempt_at == "2025-03-14T09:35:00.000+00:00"
    assert status(log, m2) == "failed"
    assert log.message(m2).sent_at is None


def test_sent_and_unknown_only_after_data_began(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = log.claim(m)
    for state in (State.SENT, State.UNKNOWN):
        with pytest.raises(DeliveryLogError, match="cannot go from sending to"):
            log.record(m, attempt, state, code=250, text="x")
    assert status(log, m) == "sending"


def test_begin_data_only_from_sending(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    with pytest.raises(DeliveryLogError, match="cannot go from ready to data"):
        log.begin_data(m)


def test_release_from_data_only_before_354(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = log.claim(m)
    log.begin_data(m, attempt)
    log.release(m, attempt, reason="dropped before 354", before_354=True)
    assert status(log, m) == "ready"
    assert [(a.outcome, a.reply_text) for a in log.attempts(m)] == [
        ("requeued", "dropped before 354")
    ]


def test_record_takes_the_retry_time_from_the_log_clock(log: DeliveryLog, clock: Clock) -> None:
    _, [m, *_] = plan(log)
    clock.now = T0 + timedelta(minutes=3)
    attempt = log.claim(m)
    log.record(m, attempt, State.DEFERRED, code=451, text="later", retry_in=90.5)
    assert log.message(m).next_attempt_at == "2025-03-14T09:34:30.500+00:00"
    assert log.current_time() == T0 + timedelta(minutes=3)


def test_a_closed_attempt_fences_off_its_process(log: DeliveryLog) -> None:
    # Process A claimed two messages and lost its lease; process B recovered the run.
    run, [m1, m2, m3] = plan(log)
    a1, a2 = log.claim(m1), log.claim(m2)
    log.begin_data(m2, a2)
    log.recover(run.id)
    b1 = log.claim(m1)  # B claims m1 again
    with pytest.raises(DeliveryLogError, match="closed by another process"):
        log.begin_data(m1, a1)  # A must not go on to DATA with B's claim
    with pytest.raises(DeliveryLogError, match="cannot go from unknown"):
        log.record(m2, a2, State.SENT, code=250, text="ok")  # B made it unknown
    with pytest.raises(DeliveryLogError, match="closed by another process"):
        log.release(m1, a1, reason="A tidying up")
    assert (status(log, m1), status(log, m2), status(log, m3)) == ("sending", "unknown", "ready")
    log.begin_data(m1, b1)  # B's own attempt is open
    log.record(m1, b1, State.SENT, code=250, text="ok")
    assert status(log, m1) == "sent"


def test_an_older_log_is_upgraded_in_place(path: Path) -> None:
    from distrib.deliverylog.migrations import migrate

    path.parent.mkdir(parents=True)
    with sqlite3.connect(path, isolation_level=None) as conn:
        migrate(conn, MIGRATIONS[:1])  # a log written before migrations 2 and 3
        conn.execute(
            "INSERT INTO runs (token, campaign, campaign_file, status, created_at)"
            " VALUES ('t', 'c', 'c.toml', 'stopped', 'x')"
        )
        conn.execute(
            "INSERT INTO messages (run_id, key, recipient, address, status, created_at,"
            " updated_at) VALUES (1, 'k', 'a@x.org', 'a@x.org', 'unknown', 'x', 'x')"
        )
    conn.close()
    with DeliveryLog.open(path, create=False) as log:
        [row] = log.messages(1)
        assert (row.status, row.resolution, row.resolved_by) == ("unknown", None, None)
        assert log.query("SELECT COUNT(*) FROM leases")[0][0] == 0
        versions = [r[0] for r in log.query("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in MIGRATIONS]


def test_release_only_before_data(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = log.claim(m)
    log.release(m, attempt, reason="connection lost at RCPT")
    assert status(log, m) == "ready"
    assert [(a.outcome, a.reply_text) for a in log.attempts(m)] == [
        ("requeued", "connection lost at RCPT")
    ]
    attempt = log.claim(m)
    log.begin_data(m)
    with pytest.raises(DeliveryLogError, match="cannot go from data to ready"):
        log.release(m, attempt, reason="too late: the body may be out")
    assert status(log, m) == "data"


def test_claim_only_from_ready_or_deferred(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = log.claim(m)
    with pytest.raises(DeliveryLogError, match="cannot go from sending to sending"):
        log.claim(m)
    log.record(m, attempt, State.DEFERRED, code=421, text="closing")
    log.claim(m)  # deferred is pending again
    assert log.message(m).attempts == 2


def test_a_sent_message_can_never_move_again(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = log.claim(m)
    log.begin_data(m)
    log.record(m, attempt, State.SENT, code=250, text="ok")
    with pytest.raises(DeliveryLogError):
        log.claim(m)
    with pytest.raises(DeliveryLogError):
        log.begin_data(m)
    with pytest.raises(DeliveryLogError):
        log.release(m, attempt, reason="no")
    for state in (State.SENT, State.DEFERRED, State.FAILED, State.UNKNOWN):
        with pytest.raises(DeliveryLogError):
            log.record(m, attempt, state, code=None, text="no")
    assert status(log, m) == "sent"
    assert log.message(m).attempts == 1


def test_only_outcomes_can_be_recorded(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = log.claim(m)
    with pytest.raises(ValueError, match="not an attempt outcome"):
        log.record(m, attempt, State.READY, code=None, text="x")


def test_a_missing_message_is_an_error(log: DeliveryLog) -> None:
    with pytest.raises(DeliveryLogError, match="missing"):
        log.claim(999)
    with pytest.raises(DeliveryLogError, match="no message 999"):
        log.message(999)


def test_never_sent_states_are_not_pending(log: DeliveryLog) -> None:
    run = log.create_run("c", "c.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=s.value, recipient="x@y.org", address="x@y.org", status=s)
         for s in (State.SKIPPED, State.SUPPRESSED, State.REJECTED, State.READY)],
    )  # fmt: skip
    assert [m.key for m in log.pending(run.id)] == ["ready"]
    with pytest.raises(DeliveryLogError, match="cannot go from skipped"):
        log.claim(log.messages(run.id)[0].id)


# -- recovery and reading ---------------------------------------------------------------------


def test_recover_requeues_sending_and_makes_data_unknown(log: DeliveryLog) -> None:
    run, [sending, in_data, done] = plan(log)
    other, [elsewhere, *_] = plan(log, campaign="autre")
    log.claim(sending)
    log.claim(in_data)
    log.begin_data(in_data)
    a = log.claim(done)
    log.begin_data(done)
    log.record(done, a, State.SENT, code=250, text="ok")
    log.claim(elsewhere)

    assert log.recover(run.id) == (1, 1)
    assert status(log, sending) == "ready"
    assert status(log, in_data) == "unknown"
    assert "may or may not have been delivered" in (log.message(in_data).reply_text or "")
    assert status(log, done) == "sent"
    assert [a.outcome for a in log.attempts(sending)] == ["interrupted"]
    assert [a.outcome for a in log.attempts(in_data)] == ["interrupted"]
    assert [a.outcome for a in log.attempts(done)] == ["sent"]
    assert status(log, elsewhere) == "sending"  # another run is not touched
    assert log.recover(run.id) == (0, 0)
    assert other.id != run.id


def test_pending_returns_ready_and_due_deferred_in_planning_order(
    log: DeliveryLog,
) -> None:
    run, [m0, m1, m2] = plan(log)
    a1 = log.claim(m1)
    log.record(m1, a1, State.DEFERRED, code=451, text="later", retry_at=T0 + timedelta(hours=1))
    a2 = log.claim(m2)
    log.record(m2, a2, State.DEFERRED, code=451, text="later", retry_at=T0 - timedelta(hours=1))
    assert [m.id for m in log.pending(run.id)] == [m0, m1, m2]
    assert [m.id for m in log.pending(run.id, due_by=T0)] == [m0, m2]
    assert [m.id for m in log.pending(run.id, due_by=T0 + timedelta(hours=2))] == [m0, m1, m2]


def test_sent_keys_count_anything_that_may_have_been_delivered(log: DeliveryLog) -> None:
    first, ids = plan(log, 5)
    outcomes = [State.SENT, State.UNKNOWN, State.FAILED, State.DEFERRED]
    for m, outcome in zip(ids, outcomes, strict=False):
        attempt = log.claim(m)
        log.begin_data(m)
        log.record(m, attempt, outcome, code=None, text=str(outcome))
    in_data = ids[4]
    log.claim(in_data)
    log.begin_data(in_data)
    assert log.sent_keys("printemps") == {"k0": first.id, "k1": first.id, "k4": first.id}
    assert log.sent_keys("printemps", exclude_run=first.id) == {}
    assert log.sent_keys("autre") == {}

    second, again = plan(log, 1)
    attempt = log.claim(again[0])
    log.begin_data(again[0])
    log.record(again[0], attempt, State.SENT, code=250, text="ok")
    assert log.sent_keys("printemps")["k0"] == first.id  # the earliest run that sent it
    assert log.sent_keys("printemps", exclude_run=first.id) == {"k0": second.id}


def test_counts_and_attempts(log: DeliveryLog) -> None:
    run, [m0, m1, _] = plan(log)
    a = log.claim(m0)
    log.record(m0, a, State.DEFERRED, code=451, text="one")
    a = log.claim(m0)
    log.begin_data(m0)
    log.record(m0, a, State.SENT, code=250, text="two")
    a = log.claim(m1)
    log.record(m1, a, State.FAILED, code=550, text="three")
    assert log.counts(run.id) == {"sent": 1, "failed": 1, "ready": 1}
    assert [(x.outcome, x.reply_text) for x in log.attempts(m0)] == [
        ("deferred", "one"),
        ("sent", "two"),
    ]
    assert log.message(m0).attempts == 2
    assert [m.address for m in log.messages(run.id, states=["failed", "ready"])] == [
        "r1@example.org",
        "r2@example.org",
    ]
