"""Changes to a run outside one SMTP attempt (resume and resolve), on a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distrib.deliverylog import DeliveryLog, NewMessage, Run, State
from distrib.deliverylog.runs import (
    replan,
    resolutions,
    resolve_messages,
    rows_by_id,
    set_aside,
    skip_sent_elsewhere,
    to_send,
    to_send_ids,
)
from distrib.errors import DeliveryLogError

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> Iterator[DeliveryLog]:
    with DeliveryLog.open(tmp_path / "log.sqlite", clock=clock) as opened:
        yield opened


def plan(log: DeliveryLog, keys: list[str], campaign: str = "printemps") -> tuple[Run, list[int]]:
    run = log.create_run(campaign, "campaign.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=k, recipient=f"{k}@example.org", address=f"{k}@example.org",
                    content_hash=f"h-{k}", subject="old") for k in keys],
    )  # fmt: skip
    return run, [m.id for m in log.messages(run.id)]


def finish(log: DeliveryLog, message: int, state: State, **kwargs: object) -> None:
    attempt = log.claim(message)
    if state in {State.SENT, State.UNKNOWN}:
        log.begin_data(message, attempt)
    log.record(message, attempt, state, code=None, text=str(state), **kwargs)  # type: ignore[arg-type]


def test_to_send_puts_due_messages_first_then_deferred_by_retry_time(log: DeliveryLog) -> None:
    run, [a, b, c, d, e] = plan(log, ["a", "b", "c", "d", "e"])
    finish(log, a, State.DEFERRED, retry_at=T0 + timedelta(minutes=10))
    finish(log, b, State.DEFERRED, retry_at=T0 + timedelta(minutes=5))
    finish(log, c, State.DEFERRED, retry_at=T0 - timedelta(minutes=1))  # due
    finish(log, e, State.SENT)
    assert [m.id for m in to_send(log, run.id)] == [c, d, b, a]


def test_to_send_ids_read_in_chunks_give_the_same_rows_in_the_same_order(
    log: DeliveryLog,
) -> None:
    run, ids = plan(log, [f"k{i}" for i in range(12)])
    finish(log, ids[1], State.DEFERRED, retry_in=300)  # not due: last
    finish(log, ids[4], State.DEFERRED, retry_in=100)  # not due: before it
    finish(log, ids[6], State.DEFERRED, retry_in=0)  # due: in planning order
    finish(log, ids[8], State.SENT)  # done: not there at all
    due, later = to_send_ids(log, run.id)
    assert later == [ids[4], ids[1]]
    assert ids[6] in due and ids[8] not in due
    rows = list(rows_by_id(log, due + later, chunk=5))
    assert rows == to_send(log, run.id)


def test_set_aside_only_touches_pending_messages(log: DeliveryLog) -> None:
    run, [a, b, c] = plan(log, ["a", "b", "c"])
    finish(log, b, State.SENT)
    finish(log, c, State.DEFERRED)
    assert set_aside(log, [a, b, c], "gone from the lists") == 2
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
    assert skip_sent_elsewhere(log, first.id) == 3
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
    assert skip_sent_elsewhere(log, second.id) == 0  # c is ready in both: neither sent it


def test_replan_changes_only_pending_messages(log: DeliveryLog) -> None:
    _, [a, b] = plan(log, ["a", "b"])
    finish(log, b, State.SENT)
    replan(log, a, content_hash="h-new", subject="new")
    assert (log.message(a).content_hash, log.message(a).subject) == ("h-new", "new")
    with pytest.raises(DeliveryLogError, match="only a pending message"):
        replan(log, b, content_hash="h-new", subject="new")
    assert log.message(b).content_hash == "h-b"


def test_resolutions_are_kept_with_who_when_and_why(log: DeliveryLog, clock: Clock) -> None:
    run, [a, b, c] = plan(log, ["a", "b", "c"])
    clock.now = T0 + timedelta(seconds=5)
    finish(log, a, State.UNKNOWN)
    finish(log, b, State.UNKNOWN)
    finish(log, c, State.FAILED)
    clock.now = T0 + timedelta(hours=2)
    rows = {m.id: m for m in log.messages(run.id)}
    resolve_messages(log, [rows[a]], "mark-sent", note="relay: queued as 4XyZ", by="marie")
    resolve_messages(log, [rows[b], rows[c]], "resend", note="not in relay log", by="marie")
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
    [history] = resolutions(log, c)
    assert (history.from_status, history.to_status, history.note) == (
        "failed",
        "ready",
        "not in relay log",
    )
    assert [m.id for m in to_send(log, run.id)] == [b, c]


def test_a_resolution_applies_to_all_or_none(log: DeliveryLog) -> None:
    run, [a, b] = plan(log, ["a", "b"])
    finish(log, a, State.UNKNOWN)
    finish(log, b, State.SENT)
    rows = log.messages(run.id)
    with pytest.raises(DeliveryLogError, match="cannot mark-sent a message that is sent"):
        resolve_messages(log, rows, "mark-sent", note="x", by="marie")
    assert log.message(a).status == "unknown" and not resolutions(log, a)
    with pytest.raises(ValueError, match="needs a note"):
        resolve_messages(log, rows[:1], "mark-sent", note=" ", by="marie")
    with pytest.raises(DeliveryLogError, match="cannot resend a message that is sent"):
        resolve_messages(log, rows[1:], "resend", note="x", by="marie")
