"""Changes to a run outside one SMTP attempt (resume, resolve, settling interrupted runs) and
what earlier runs did, on both adapters."""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

import pytest

from distrib.app.resuming import INTERRUPTED, settle_interrupted
from distrib.deliverylog import DeliveryLog, NewMessage, Run, State
from distrib.deliverylog.lease import acquire_lease
from distrib.deliverylog.runs import interrupted_runs, unresolved_unknown
from distrib.errors import DeliveryLogError, RunLockedError, RunNotFoundError
from log_helpers import T0, Clock, begin, finish, raw_execute


def plan(
    log: DeliveryLog, keys: list[str], campaign: str = "printemps", **settings: object
) -> tuple[Run, list[int]]:
    run = log.create_run(campaign, "campaign.toml", settings=settings)
    log.add_messages(
        run.id,
        [NewMessage(key=k, recipient=f"{k}@example.org", address=f"{k}@example.org",
                    content_hash=f"h-{k}", subject="old") for k in keys],
    )  # fmt: skip
    return run, [m.id for m in log.messages(run.id)]


def move(log: DeliveryLog, target: str | Path, message: int, state: State) -> None:
    """Bring ``message`` to ``state`` as the engine would; ``data`` and ``sending`` as a killed
    process leaves them (``sending``: as versions before group commits did)."""
    if state is State.SENDING:
        raw_execute(target, f"UPDATE messages SET status = 'sending' WHERE id = {message}")
    elif state is State.DATA:
        begin(log, message)
    else:
        finish(log, message, state)


def status(log: DeliveryLog, run: Run) -> tuple[str, str | None]:
    found = log.get_run(run.id)
    return found.status, found.note


def test_update_run_settings_adds_and_replaces_keys_and_keeps_the_others(
    log: DeliveryLog, other: DeliveryLog
) -> None:
    run, _ = plan(log, ["a"], drop_embargo=False, titles={"fr": "Titre"})
    later, _ = plan(log, ["b"], campaign="automne", drop_embargo=False)
    updated = log.update_run_settings(run.id, {"drop_embargo": True, "lang": "fr"})
    expected = {"drop_embargo": True, "titles": {"fr": "Titre"}, "lang": "fr"}
    assert dict(updated.settings) == expected
    assert dict(other.get_run(run.id).settings) == expected  # committed, seen by another
    assert dict(other.get_run(later.id).settings) == {"drop_embargo": False}  # only that run
    assert (updated.status, updated.campaign) == (run.status, run.campaign)
    with pytest.raises(RunNotFoundError):
        log.update_run_settings(999, {"drop_embargo": True})


def test_to_send_puts_due_messages_first_then_deferred_by_retry_time(log: DeliveryLog) -> None:
    run, [a, b, c, d, e] = plan(log, ["a", "b", "c", "d", "e"])
    finish(log, a, State.DEFERRED, retry_at=T0 + timedelta(minutes=10))
    finish(log, b, State.DEFERRED, retry_at=T0 + timedelta(minutes=5))
    finish(log, c, State.DEFERRED, retry_at=T0 - timedelta(minutes=1))  # due
    finish(log, e, State.SENT)
    assert [m.id for m in log.to_send(run.id)] == [c, d, b, a]


def test_set_aside_only_touches_pending_messages(log: DeliveryLog) -> None:
    run, [a, b, c] = plan(log, ["a", "b", "c"])
    finish(log, b, State.SENT)
    finish(log, c, State.DEFERRED)
    assert log.set_aside([a, b, c], "gone from the lists") == 2
    rows = {m.id: m for m in log.messages(run.id)}
    assert (rows[a].status, rows[a].note) == ("skipped", "gone from the lists")
    assert rows[b].status == "sent" and rows[b].note is None
    assert rows[c].status == "skipped"


def test_skip_sent_elsewhere_never_lets_two_runs_send_to_one_contact(log: DeliveryLog) -> None:
    first, [_, _, _, d1] = plan(log, ["a", "b", "c", "d"])
    second, [a2, b2, _, d2] = plan(log, ["a", "b", "c", "d"])
    _, [a3] = plan(log, ["a"], campaign="autre")
    finish(log, a2, State.SENT)  # the newer run sent to a and b (b maybe)
    finish(log, b2, State.UNKNOWN)
    finish(log, a3, State.SENT)  # another campaign does not count
    finish(log, d1, State.DEFERRED)
    finish(log, d2, State.SENT)
    assert log.skip_sent_elsewhere(first.id) == 3
    rows = {m.key: m for m in log.messages(first.id)}
    assert {k: rows[k].status for k in rows} == {
        "a": "skipped",
        "b": "skipped",
        "c": "ready",
        "d": "skipped",
    }
    assert rows["a"].note == f"already sent by run {second.id}"
    assert (
        rows["b"].note
        == f"may have arrived in run {second.id} (unknown): see distrib resolve {second.id}"
    )
    assert log.skip_sent_elsewhere(second.id) == 0  # c is ready in both: neither sent it


def test_replan_changes_only_pending_messages(log: DeliveryLog) -> None:
    _, [a, b] = plan(log, ["a", "b"])
    finish(log, b, State.SENT)
    log.replan(a, content_hash="h-new", subject="new")
    assert (log.message(a).content_hash, log.message(a).subject) == ("h-new", "new")
    with pytest.raises(DeliveryLogError, match="only a pending message"):
        log.replan(b, content_hash="h-new", subject="new")
    assert log.message(b).content_hash == "h-b"


def test_resolutions_are_kept_with_who_when_and_why(log: DeliveryLog, clock: Clock) -> None:
    run, [a, b, c] = plan(log, ["a", "b", "c"])
    clock.now = T0 + timedelta(seconds=5)
    finish(log, a, State.UNKNOWN)
    finish(log, b, State.UNKNOWN)
    finish(log, c, State.FAILED)
    clock.now = T0 + timedelta(hours=2)
    rows = {m.id: m for m in log.messages(run.id)}
    assert log.resolve([rows[a]], "mark-sent", note="relay: queued as 4XyZ", by="marie") == 1
    log.resolve([rows[b], rows[c]], "resend", note="not in relay log", by="marie")
    after = {m.id: m for m in log.messages(run.id)}
    assert after[a].status == "sent"
    assert after[a].sent_at == "2026-02-02T09:00:05.000+00:00"  # when the body went out
    assert (after[a].resolution, after[a].resolved_by, after[a].note) == (
        "mark-sent",
        "marie",
        "relay: queued as 4XyZ",
    )
    assert after[a].resolved_at == "2026-02-02T11:00:00.000+00:00"
    assert after[b].status == after[c].status == "ready"
    [history] = log.resolutions(c)
    assert (history.from_status, history.to_status, history.note) == (
        "failed",
        "ready",
        "not in relay log",
    )
    assert [m.id for m in log.to_send(run.id)] == [b, c]


def test_a_resolution_applies_to_all_or_none(log: DeliveryLog) -> None:
    run, [a, b] = plan(log, ["a", "b"])
    finish(log, a, State.UNKNOWN)
    finish(log, b, State.SENT)
    rows = log.messages(run.id)
    with pytest.raises(DeliveryLogError, match="cannot mark-sent a message that is sent"):
        log.resolve(rows, "mark-sent", note="x", by="marie")
    assert log.message(a).status == "unknown" and not log.resolutions(a)
    with pytest.raises(ValueError, match="needs a note"):
        log.resolve(rows[:1], "mark-sent", note=" ", by="marie")
    with pytest.raises(DeliveryLogError, match="cannot resend a message that is sent"):
        log.resolve(rows[1:], "resend", note="x", by="marie")


def test_a_test_run_s_sent_messages_become_test(log: DeliveryLog) -> None:
    run, [a, b] = plan(log, ["a", "b"], test_to="officer@example.org")
    finish(log, a, State.SENT)
    finish(log, b, State.FAILED)
    assert log.mark_test(run.id) == 1
    assert log.counts(run.id) == {"test": 1, "failed": 1}


# -- what earlier runs did, and runs a killed process left ------------------------------------


def test_earlier_outcomes_tell_sent_from_may_have_arrived(
    log: DeliveryLog, target: str | Path
) -> None:
    first, [a1, b1, c1, d1, e1] = plan(log, ["a", "b", "c", "d", "e"])
    second, [a2, b2, *_] = plan(log, ["a", "b", "c", "d", "e"])
    _, [other] = plan(log, ["f"], campaign="autre")
    move(log, target, a1, State.UNKNOWN)
    move(log, target, a2, State.SENT)  # sent by run 2: an unknown copy in run 1 changes nothing
    move(log, target, b1, State.DATA)  # left in `data` by a run still to settle
    move(log, target, c1, State.SENDING)  # never reached DATA: to send
    move(log, target, d1, State.FAILED)
    move(log, target, e1, State.DEFERRED)
    move(log, target, b2, State.UNKNOWN)
    move(log, target, other, State.SENT)
    earlier = log.earlier_outcomes("printemps")
    assert earlier.sent == {"a": second.id}
    assert earlier.unknown == {"b": first.id}
    assert log.earlier_outcomes("autre").sent == {"f": 3}
    assert log.earlier_outcomes("nothing") == type(earlier)({}, {})


def test_interrupted_runs_are_those_left_sending_or_with_messages_in_flight(
    log: DeliveryLog,
) -> None:
    sending, _ = plan(log, ["a"])
    log.set_run_status(sending.id, "sending")
    planned, _ = plan(log, ["a"])  # killed between its rows and its first message
    aborted, [message] = plan(log, ["a"])
    begin(log, message)
    log.set_run_status(aborted.id, "aborted", note="disk full")
    stopped, _ = plan(log, ["a"])
    log.set_run_status(stopped.id, "stopped", note="stop requested")
    test, _ = plan(log, ["t"], test_to="officer@example.org")  # test sends take no lease
    log.set_run_status(test.id, "sending")
    other, _ = plan(log, ["a"], campaign="autre")
    log.set_run_status(other.id, "sending")
    found = [run.id for run in interrupted_runs(log, "printemps")]
    assert found == [sending.id, planned.id, aborted.id]


def test_settling_recovers_each_interrupted_run_under_the_lease(
    log: DeliveryLog, target: str | Path
) -> None:
    run, [a, b, c, _] = plan(log, ["a", "b", "c", "d"])
    log.set_run_status(run.id, "sending")
    move(log, target, a, State.SENT)
    move(log, target, b, State.DATA)
    move(log, target, c, State.SENDING)
    done, [e] = plan(log, ["e"])
    log.set_run_status(done.id, "sending")
    move(log, target, e, State.DATA)
    # The lease of the process that was killed: this host, a pid that no longer exists.
    acquire_lease(log, "printemps", run_id=run.id, pid=2**22 + 1, alive=lambda _: False)
    settled = settle_interrupted(log, "printemps")
    assert [(s.run.id, s.requeued, s.unknown, s.pending) for s in settled] == [
        (run.id, 1, 1, frozenset({"c", "d"})),
        (done.id, 0, 1, frozenset()),
    ]
    assert status(log, run) == ("stopped", INTERRUPTED)  # messages left: --resume continues
    assert status(log, done) == ("finished", INTERRUPTED)
    assert log.counts(run.id) == {"sent": 1, "unknown": 1, "ready": 2}
    assert unresolved_unknown(log, "printemps") == {run.id: 1, done.id: 1}
    assert log.lease_holder("printemps") is None  # given back
    assert settle_interrupted(log, "printemps") == ()  # nothing left to settle


def test_a_run_whose_process_lives_is_not_settled(log: DeliveryLog) -> None:
    run, [a] = plan(log, ["a"])
    log.set_run_status(run.id, "sending")
    begin(log, a)
    lease = acquire_lease(log, "printemps", run_id=run.id, host=socket.gethostname())
    with pytest.raises(RunLockedError, match="being sent right now"):
        settle_interrupted(log, "printemps")
    assert log.message(a).status == "data" and status(log, run)[0] == "sending"
    lease.release()


def test_settling_can_keep_the_run_being_resumed(log: DeliveryLog) -> None:
    resumed, [a] = plan(log, ["a"])
    log.set_run_status(resumed.id, "sending")
    begin(log, a)
    with acquire_lease(log, "printemps") as lease:
        assert settle_interrupted(log, "printemps", lease=lease, keep=resumed.id) == ()
    assert log.message(a).status == "data"


def test_unknown_messages_of_test_sends_do_not_count(log: DeliveryLog) -> None:
    _, [t] = plan(log, ["t"], test_to="officer@example.org")
    finish(log, t, State.UNKNOWN)
    run, [a] = plan(log, ["a"])
    finish(log, a, State.UNKNOWN)
    assert unresolved_unknown(log, "printemps") == {run.id: 1}
