"""Replies to sent messages (`distrib replies`): recorded once by their Message-ID, read back
by message and by run, on both adapters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from audit_helpers import PEOPLE, Clock, add_run
from distrib.deliverylog import DeliveryLog, Run
from distrib.deliverylog.records import NewReply

ARRIVED = datetime(2027, 2, 2, 16, 30, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def run(log: DeliveryLog, clock: Clock) -> Run:
    return add_run(log, clock)


def reply(message: int, notice: str, kind: str = "reply", **changes: object) -> NewReply:
    values: dict[str, object] = {
        "message": message, "notice": notice, "sender": "zoe@fleuve.example",
        "subject": "Re: Le festival", "kind": kind,
        "reason": "" if kind == "reply" else "Auto-Submitted: auto-replied",
        "matched_by": "in-reply-to", "source": "inbox/1.eml", "arrived_at": ARRIVED,
    }  # fmt: skip
    values.update(changes)
    return NewReply(**values)  # type: ignore[arg-type]


def test_replies_are_recorded_once_and_read_by_message_and_run(
    log: DeliveryLog, run: Run, clock: Clock
) -> None:
    first, second = log.messages(run.id)[:2]
    news = log.record_replies([
        reply(first.id, "<r1@fleuve.example>"),
        reply(second.id, "<r2@x>", "auto-reply", sender="absent@x", subject="Absent\x00 du bureau"),
        reply(first.id, "<r1@fleuve.example>", source="again"),  # the same reply, read again
    ])  # fmt: skip
    assert news == [True, True, False]
    assert log.record_replies([reply(first.id, "<r1@fleuve.example>")]) == [False]
    rows = log.replies()
    assert [(r.message, r.run_id, r.notice, r.kind, r.automatic) for r in rows] == [
        (first.id, run.id, "<r1@fleuve.example>", "reply", False),
        (second.id, run.id, "<r2@x>", "auto-reply", True),
    ]
    assert rows[0].source == "inbox/1.eml" and rows[0].matched_by == "in-reply-to"
    assert rows[0].arrived_at == "2027-02-02T16:30:00.000+00:00"
    assert rows[1].subject == "Absent\ufffd du bureau"  # a NUL cannot be stored as is
    assert rows[1].reason == "Auto-Submitted: auto-replied"
    assert [r.notice for r in log.replies(message=second.id)] == ["<r2@x>"]
    other = add_run(log, clock, PEOPLE[:2], campaign="automne", start=3600,
                    ids=lambda i: f"<second.{i}@quais.example>")  # fmt: skip
    assert log.replies(run_id=other.id) == []
    log.record_replies([reply(log.messages(other.id)[0].id, "<r3@x>")])
    assert [r.notice for r in log.replies(run_id=other.id)] == ["<r3@x>"]
    assert [r.notice for r in log.replies(run_id=run.id)] == ["<r1@fleuve.example>", "<r2@x>"]


def test_a_reply_of_an_unknown_kind_is_refused_and_nothing_of_the_batch_is_kept(
    log: DeliveryLog, run: Run
) -> None:
    first = log.messages(run.id)[0]
    with pytest.raises(ValueError, match="not a kind of reply"):
        log.record_replies([reply(first.id, "<ok@x>"), reply(first.id, "<bad@x>", "thanks")])
    assert log.replies() == []
