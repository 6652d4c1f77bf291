"""The state machine of one message, through `DeliveryLog.apply`, on both adapters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from distrib.deliverylog import (
    Begin,
    DeliveryLog,
    NewMessage,
    Outcome,
    Run,
    State,
    Withdrawn,
    apply_one,
    open_log,
)
from distrib.deliverylog.migrations import SCHEMA
from distrib.errors import DeliveryLogError, NoLogError, RunNotFoundError
from log_helpers import T0, Clock, begin, finish, outcome, raw_execute, raw_rows, release


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


# -- opening ----------------------------------------------------------------------------------


def test_a_new_log_is_created_with_every_migration(log: DeliveryLog) -> None:
    assert [(v, n) for v, n, _ in log.migrations()] == list(SCHEMA)
    assert not log.read_only and not log.warnings


def test_reopening_keeps_everything_and_migrates_nothing_twice(
    target: str | Path, clock: Clock
) -> None:
    with open_log(target, clock=clock) as first:
        run, ids = plan(first)
        begin(first, ids[0], "relay:587")
    with open_log(target, create=False, clock=clock) as again:
        assert again.upgraded == ()
        assert len(again.migrations()) == len(SCHEMA)
        assert again.get_run(run.id).settings == {"rate": 2}
        assert status(again, ids[0]) == "data"
        assert [a.server for a in again.attempts(ids[0])] == ["relay:587"]


def test_opening_a_missing_log_without_create_is_an_error(empty_target: str | Path) -> None:
    with pytest.raises(NoLogError, match="no delivery log"):
        open_log(empty_target, create=False)
    with pytest.raises(NoLogError, match="no delivery log"):
        open_log(empty_target, read_only=True)


# -- runs -------------------------------------------------------------------------------------


def test_runs_are_recorded_and_stamped(log: DeliveryLog, clock: Clock) -> None:
    run, _ = plan(log)
    assert (run.status, run.created_at, run.started_at) == (
        "planned",
        "2026-02-02T09:00:00.000+00:00",
        None,
    )
    clock.now = T0 + timedelta(minutes=1)
    log.set_run_status(run.id, "sending")
    clock.now = T0 + timedelta(minutes=9)
    log.set_run_status(run.id, "finished", note="all done")
    done = log.get_run(run.id)
    assert done.started_at == "2026-02-02T09:01:00.000+00:00"
    assert done.finished_at == "2026-02-02T09:09:00.000+00:00"
    assert done.note == "all done"
    assert [r.id for r in log.runs("printemps")] == [run.id]
    assert [r.id for r in log.runs()] == [run.id]
    assert log.runs("other") == []
    with pytest.raises(RunNotFoundError):
        log.get_run(run.id + 100)


def test_a_duplicate_key_in_one_run_adds_nothing(log: DeliveryLog) -> None:
    run, _ = plan(log, 1)
    twice = [NewMessage(key="dup", recipient="a@x.org", address="a@x.org")] * 2
    # A DistribError (a clear message, no traceback in the CLI), not the driver's error.
    with pytest.raises(DeliveryLogError, match=r"(?i)unique|duplicate") as caught:
        log.add_messages(run.id, twice)
    assert type(caught.value) is DeliveryLogError
    assert len(log.messages(run.id)) == 1
    log.add_messages(run.id, [NewMessage(key="ok", recipient="b@x.org", address="b@x.org")])
    assert len(log.messages(run.id)) == 2  # the failed transaction was rolled back cleanly


# -- the state machine ------------------------------------------------------------------------


def test_the_happy_path_begin_then_sent(log: DeliveryLog, clock: Clock) -> None:
    _, [m, *_] = plan(log)
    attempt = begin(log, m, "relay:587")
    assert status(log, m) == "data" and log.message(m).attempts == 1
    clock.now = T0 + timedelta(seconds=2)
    outcome(log, m, attempt, State.SENT, code=250, text="2.0.0 queued as ABC", enhanced="2.0.0")
    row = log.message(m)
    assert (row.status, row.reply_code, row.reply_text) == ("sent", 250, "2.0.0 queued as ABC")
    assert row.sent_at == "2026-02-02T09:00:02.000+00:00"
    [a] = log.attempts(m)
    assert (a.id, a.outcome, a.reply_code, a.enhanced_code, a.server) == (
        attempt,
        "sent",
        250,
        "2.0.0",
        "relay:587",
    )
    assert a.started_at < (a.finished_at or "")


def test_deferred_and_failed_end_an_attempt_or_refuse_before_data(log: DeliveryLog) -> None:
    _, [m1, m2, m3] = plan(log)
    retry = "2026-02-02T09:05:00.000+00:00"
    a1 = begin(log, m1)
    outcome(log, m1, a1, State.DEFERRED, code=451, text="greylisted", retry_at=retry)
    a2 = begin(log, m2)
    outcome(log, m2, a2, State.FAILED, code=554, text="rejected", enhanced="5.7.1")
    finish(log, m3, State.FAILED, code=550, text="no such user", enhanced="5.1.1")
    assert status(log, m1) == "deferred" and log.message(m1).next_attempt_at == retry
    assert status(log, m2) == "failed" and log.message(m2).sent_at is None
    assert status(log, m3) == "failed" and log.message(m3).attempts == 1
    [refusal] = log.attempts(m3)
    assert (refusal.outcome, refusal.reply_code, refusal.enhanced_code) == ("failed", 550, "5.1.1")
    assert refusal.finished_at is not None


def test_sent_and_unknown_only_after_data_began(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    for state in (State.SENT, State.UNKNOWN):
        with pytest.raises(ValueError, match="only a refusal"):
            apply_one(log, Outcome(m, None, state, 250, "x", log.now()))
    assert status(log, m) == "ready" and log.attempts(m) == []


def test_begin_only_from_ready_or_deferred(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = begin(log, m)
    with pytest.raises(DeliveryLogError, match="cannot go from data to data"):
        begin(log, m)
    outcome(log, m, attempt, State.DEFERRED, code=421, text="closing")
    begin(log, m)  # deferred is pending again
    assert log.message(m).attempts == 2


def test_release_from_data_only_before_354(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = begin(log, m)
    release(log, m, attempt, "dropped before 354")
    assert status(log, m) == "ready"
    assert [(a.outcome, a.reply_text) for a in log.attempts(m)] == [
        ("requeued", "dropped before 354")
    ]
    with pytest.raises(DeliveryLogError, match="cannot go from ready"):
        release(log, m, attempt, "again")


def test_a_release_before_data_keeps_the_state_and_the_reason(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    finish(log, m, State.DEFERRED, code=451, text="later", retry_in=0)
    release(log, m, None, "421 closing (nothing was sent)")
    row = log.message(m)
    assert (row.status, row.attempts) == ("deferred", 2)
    assert [a.outcome for a in log.attempts(m)] == ["deferred", "requeued"]


def test_the_retry_time_comes_from_the_log_clock(log: DeliveryLog, clock: Clock) -> None:
    _, [m, *_] = plan(log)
    clock.now = T0 + timedelta(minutes=3)
    finish(log, m, State.DEFERRED, code=451, text="later", retry_in=90.5)
    assert log.message(m).next_attempt_at == "2026-02-02T09:04:30.500+00:00"
    assert log.current_time() == T0 + timedelta(minutes=3)
    assert log.now() == "2026-02-02T09:03:00.000+00:00"


def test_a_closed_attempt_fences_off_its_process(log: DeliveryLog, other: DeliveryLog) -> None:
    # Process A began two messages and went silent; process B recovered the run.
    run, [m1, m2, m3] = plan(log)
    a1, a2 = begin(log, m1), begin(log, m2)
    assert other.recover(run.id) == (0, 2)
    with pytest.raises(DeliveryLogError, match="cannot go from unknown"):
        outcome(log, m2, a2, State.SENT, code=250, text="ok")  # B made it unknown
    other.resolve([other.message(m1)], "resend", note="not in the relay's log", by="marie")
    b1 = begin(other, m1)  # B takes m1 again
    with pytest.raises(DeliveryLogError, match="closed by another process"):
        outcome(log, m1, a1, State.SENT, code=250, text="ok")  # A must not record on B's
    with pytest.raises(DeliveryLogError, match="closed by another process"):
        release(log, m1, a1, "A tidying up")
    assert (status(log, m1), status(log, m2), status(log, m3)) == ("data", "unknown", "ready")
    outcome(other, m1, b1, State.SENT, code=250, text="ok")
    assert status(log, m1) == "sent"


def test_a_sent_message_can_never_move_again(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = finish(log, m, State.SENT, code=250, text="ok")
    assert attempt is not None
    with pytest.raises(DeliveryLogError):
        begin(log, m)
    with pytest.raises(DeliveryLogError):
        release(log, m, attempt, "no")
    with pytest.raises(DeliveryLogError):
        release(log, m, None, "no")
    for state in (State.SENT, State.DEFERRED, State.FAILED, State.UNKNOWN):
        with pytest.raises(DeliveryLogError):
            outcome(log, m, attempt, state, text="no")
        if state in {State.DEFERRED, State.FAILED}:
            with pytest.raises(DeliveryLogError):
                apply_one(log, Outcome(m, None, state, 550, "no", log.now()))
    assert status(log, m) == "sent"
    assert log.message(m).attempts == 1


def test_only_outcomes_end_an_attempt(log: DeliveryLog) -> None:
    _, [m, *_] = plan(log)
    attempt = begin(log, m)
    with pytest.raises(ValueError, match="not an attempt outcome"):
        outcome(log, m, attempt, State.READY)
    assert status(log, m) == "data"


def test_a_missing_message_is_an_error(log: DeliveryLog) -> None:
    with pytest.raises(DeliveryLogError, match="missing"):
        begin(log, 999)
    with pytest.raises(DeliveryLogError, match="no message 999"):
        log.message(999)


def test_never_sent_states_are_not_pending_and_never_begin(log: DeliveryLog) -> None:
    run = log.create_run("c", "c.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=s.value, recipient="x@y.org", address="x@y.org", status=s)
         for s in (State.SKIPPED, State.SUPPRESSED, State.REJECTED, State.READY)],
    )  # fmt: skip
    assert [m.key for m in log.pending(run.id)] == ["ready"]
    for row in log.messages(run.id)[:3]:
        with pytest.raises(Withdrawn, match=f"became {row.status}"):
            begin(log, row.id)


def test_one_refused_change_leaves_the_others_of_its_group(log: DeliveryLog) -> None:
    _, [done, fresh, wrong] = plan(log)
    finish(log, done, State.SENT, code=250, text="ok")
    results = log.apply(
        [
            Begin(done, None, log.now()),  # a sent message: refused
            Begin(fresh, None, log.now()),
            Outcome(wrong, None, State.SENT, 250, "OK", log.now()),  # a bug: never applies
        ]
    )
    assert isinstance(results[0], DeliveryLogError) and "cannot go from sent" in str(results[0])
    assert isinstance(results[1], int)
    assert isinstance(results[2], ValueError)
    assert [status(log, m) for m in (done, fresh, wrong)] == ["sent", "data", "ready"]


def test_text_that_no_database_can_store_is_stored_readable(log: DeliveryLog) -> None:
    # Surrogates (bytes kept by surrogateescape) and NUL (PostgreSQL text cannot hold it).
    _, [refused, other] = plan(log, 2)
    attempt = begin(log, other)
    results = log.apply(
        [
            Outcome(refused, None, State.FAILED, 550, "550 inconnu \udce9\x00", log.now()),
            Outcome(other, attempt, State.SENT, 250, "2.0.0 ok \udcff", log.now()),
        ]
    )
    assert results == [None, None]
    assert log.message(refused).reply_text == "550 inconnu é\ufffd"
    assert log.attempts(refused)[0].reply_text == "550 inconnu é\ufffd"
    assert log.message(other).reply_text == "2.0.0 ok ÿ"


def test_a_failed_transaction_fails_every_change_in_it(empty_target: str | Path) -> None:
    with open_log(empty_target) as log:
        _, ids = plan(log)
    if isinstance(empty_target, Path):
        raw_execute(
            empty_target,
            "CREATE TRIGGER no_attempts BEFORE INSERT ON attempts"
            " BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
        )
    else:
        raw_execute(
            empty_target,
            "CREATE FUNCTION no_attempts() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'disk says no'; END $$;"
            " CREATE TRIGGER no_attempts BEFORE INSERT ON attempts FOR EACH ROW"
            " EXECUTE FUNCTION no_attempts();",
        )
    with open_log(empty_target) as log:
        results = log.apply([Begin(m, None, log.now()) for m in ids])
        assert all(isinstance(r, DeliveryLogError) and "disk says no" in str(r) for r in results)
        assert {status(log, m) for m in ids} == {"ready"}  # rolled back as a whole


# -- recovery and reading ---------------------------------------------------------------------


def test_recover_makes_data_unknown_and_closes_its_attempts(log: DeliveryLog) -> None:
    run, [in_data, done, waiting] = plan(log)
    other, [elsewhere, *_] = plan(log, campaign="autre")
    begin(log, in_data)
    finish(log, done, State.SENT, code=250, text="ok")
    begin(log, elsewhere)

    assert log.recover(run.id) == (0, 1)
    assert status(log, in_data) == "unknown"
    assert "may or may not have been delivered" in (log.message(in_data).reply_text or "")
    assert (status(log, done), status(log, waiting)) == ("sent", "ready")
    assert [a.outcome for a in log.attempts(in_data)] == ["interrupted"]
    assert [a.outcome for a in log.attempts(done)] == ["sent"]
    assert status(log, elsewhere) == "data"  # another run is not touched
    assert log.recover(run.id) == (0, 0)
    assert other.id != run.id


def test_recover_puts_an_older_version_s_sending_back_to_ready(
    log: DeliveryLog, target: str | Path
) -> None:
    # Versions before group commits claimed a message (``sending``) before ``data``.
    run, [m, *_] = plan(log)
    raw_execute(target, f"UPDATE messages SET status = 'sending' WHERE id = {m}")
    raw_execute(
        target,
        f"INSERT INTO attempts (message, started_at) VALUES ({m}, '2026-02-02T08:00:00.000+00:00')",
    )
    assert log.recover(run.id) == (1, 0)
    assert status(log, m) == "ready"
    assert [a.outcome for a in log.attempts(m)] == ["interrupted"]
    begin(log, m)  # and it goes out again


def test_pending_returns_ready_and_due_deferred_in_planning_order(log: DeliveryLog) -> None:
    run, [m0, m1, m2] = plan(log)
    finish(log, m1, State.DEFERRED, code=451, text="later", retry_at=T0 + timedelta(hours=1))
    finish(log, m2, State.DEFERRED, code=451, text="later", retry_at=T0 - timedelta(hours=1))
    assert [m.id for m in log.pending(run.id)] == [m0, m1, m2]
    assert [m.id for m in log.pending(run.id, due_by=T0)] == [m0, m2]
    assert [m.id for m in log.pending(run.id, due_by=T0 + timedelta(hours=2))] == [m0, m1, m2]


def test_counts_attempts_and_last_attempts(log: DeliveryLog) -> None:
    run, [m0, m1, _] = plan(log)
    finish(log, m0, State.DEFERRED, code=451, text="one")
    finish(log, m0, State.SENT, code=250, text="two")
    finish(log, m1, State.FAILED, code=550, text="three", enhanced="5.1.1")
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
    [(message, last)] = log.last_attempts(run.id, "failed").items()
    assert (message, last.reply_text, last.enhanced_code) == (m1, "three", "5.1.1")
    assert log.messages_by_id([m1, 999, m0]) == [log.message(m1), log.message(m0)]


def test_a_committed_change_is_seen_by_another_connection(
    log: DeliveryLog, target: str | Path
) -> None:
    _, [m, *_] = plan(log, 1)
    begin(log, m)
    assert raw_rows(target, "SELECT status FROM messages WHERE id = ?", (m,)) == [("data",)]
