"""Runs a killed process left unfinished, on a real SQLite file: found, settled as --resume
would, and told apart from what was sent (issue 10, #3).  End to end: test_send_after_crash."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from distrib.app.resuming import INTERRUPTED, settle_interrupted
from distrib.deliverylog import DeliveryLog, NewMessage, Run, State
from distrib.deliverylog.lease import acquire_lease
from distrib.deliverylog.runs import earlier_outcomes, interrupted_runs, unresolved_unknown
from distrib.errors import RunLockedError


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with DeliveryLog.open(tmp_path / "log.sqlite") as opened:
        yield opened


def plan(
    log: DeliveryLog, keys: list[str], campaign: str = "printemps", **settings: object
) -> tuple[Run, list[int]]:
    run = log.create_run(campaign, "campaign.toml", settings=settings)
    log.add_messages(
        run.id, [NewMessage(key=k, recipient=f"{k}@example.org", address=f"{k}@example.org")
                 for k in keys],
    )  # fmt: skip
    return run, [m.id for m in log.messages(run.id)]


def move(log: DeliveryLog, message: int, state: State) -> None:
    """Bring ``message`` to ``state`` as the engine would (``sending`` and ``data``: as a killed
    process leaves them)."""
    attempt = log.claim(message)
    if state is State.SENDING:
        return
    log.begin_data(message, attempt)
    if state is not State.DATA:
        log.record(message, attempt, state, code=None, text=str(state))


def status(log: DeliveryLog, run: Run) -> tuple[str, str | None]:
    found = log.get_run(run.id)
    return found.status, found.note


def test_earlier_outcomes_tell_sent_from_may_have_arrived(log: DeliveryLog) -> None:
    first, [a1, b1, c1, d1, e1] = plan(log, ["a", "b", "c", "d", "e"])
    second, [a2, b2, *_] = plan(log, ["a", "b", "c", "d", "e"])
    _, [other] = plan(log, ["f"], campaign="autre")
    move(log, a1, State.UNKNOWN)
    move(log, a2, State.SENT)  # sent by run 2: an unknown copy in run 1 changes nothing
    move(log, b1, State.DATA)  # left in `data` by a run still to settle: may have arrived
    move(log, c1, State.SENDING)  # never reached DATA: to send
    move(log, d1, State.FAILED)
    move(log, e1, State.DEFERRED)
    move(log, b2, State.UNKNOWN)
    move(log, other, State.SENT)
    earlier = earlier_outcomes(log, "printemps")
    assert earlier.sent == {"a": second.id}
    assert earlier.unknown == {"b": first.id}


def test_interrupted_runs_are_those_left_sending_or_with_messages_in_flight(
    log: DeliveryLog,
) -> None:
    sending, _ = plan(log, ["a"])
    log.set_run_status(sending.id, "sending")
    planned, _ = plan(log, ["a"])  # killed between its rows and its first message
    aborted, [message] = plan(log, ["a"])
    move(log, message, State.DATA)
    log.set_run_status(aborted.id, "aborted", note="disk full")
    stopped, _ = plan(log, ["a"])
    log.set_run_status(stopped.id, "stopped", note="stop requested")
    test, _ = plan(log, ["t"], test_to="officer@example.org")  # test sends take no lease
    log.set_run_status(test.id, "sending")
    other, _ = plan(log, ["a"], campaign="autre")
    log.set_run_status(other.id, "sending")
    found = [run.id for run in interrupted_runs(log, "printemps")]
    assert found == [sending.id, planned.id, aborted.id]


def test_settling_recovers_each_interrupted_run_under_the_lease(log: DeliveryLog) -> None:
    run, [a, b, c, _] = plan(log, ["a", "b", "c", "d"])
    log.set_run_status(run.id, "sending")
    move(log, a, State.SENT)
    move(log, b, State.DATA)
    move(log, c, State.SENDING)
    done, [e] = plan(log, ["e"])
    log.set_run_status(done.id, "sending")
    move(log, e, State.DATA)
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
    assert log.query("SELECT COUNT(*) FROM leases")[0][0] == 0  # given back
    assert settle_interrupted(log, "printemps") == ()  # nothing left to settle


def test_a_run_whose_process_lives_is_not_settled(log: DeliveryLog) -> None:
    run, [a] = plan(log, ["a"])
    log.set_run_status(run.id, "sending")
    move(log, a, State.DATA)
    lease = acquire_lease(log, "printemps", run_id=run.id, host=socket.gethostname())
    with pytest.raises(RunLockedError, match="being sent right now"):
        settle_interrupted(log, "printemps")
    assert log.message(a).status == "data" and status(log, run)[0] == "sending"
    lease.release()


def test_settling_can_keep_the_run_being_resumed(log: DeliveryLog) -> None:
    resumed, [a] = plan(log, ["a"])
    log.set_run_status(resumed.id, "sending")
    move(log, a, State.DATA)
    with acquire_lease(log, "printemps") as lease:
        assert settle_interrupted(log, "printemps", lease=lease, keep=resumed.id) == ()
    assert log.message(a).status == "data"


def test_unknown_messages_of_test_sends_do_not_count(log: DeliveryLog) -> None:
    _, [t] = plan(log, ["t"], test_to="officer@example.org")
    move(log, t, State.UNKNOWN)
    run, [a] = plan(log, ["a"])
    move(log, a, State.UNKNOWN)
    assert unresolved_unknown(log, "printemps") == {run.id: 1}
