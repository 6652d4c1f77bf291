"""Taking an address off the suppression list, on both adapters: every entry of the person
goes, each removal is recorded with who decided it, when and why (never without a reason),
in one transaction, and another connection sees it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from distrib.deliverylog import DeliveryLog
from distrib.deliverylog.records import HARD_BOUNCE, UNSUBSCRIBED
from distrib.errors import InvalidRequestError
from log_helpers import Clock


def test_a_removal_takes_every_entry_off_and_records_who_when_and_why(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    listed_at = log.now()
    log.add_suppression("Zoe@Fleuve.example", "zoe@fleuve.example", reason=UNSUBSCRIBED,
                        source="one-click unsubscribe link")  # fmt: skip
    log.add_suppression("zoe@fleuve.example", "zoe@fleuve.example", reason=HARD_BOUNCE,
                        source="bounce")  # fmt: skip
    log.add_suppression("ana@quai.example", "ana@quai.example", reason=UNSUBSCRIBED, source="cli")
    clock.now += timedelta(days=30)
    removed = log.remove_suppressions(
        "zoe@fleuve.example", why="asked again by phone on 3 March, email kept", by="camille"
    )
    assert [(r.address, r.reason, r.source) for r in removed] == [
        ("Zoe@Fleuve.example", UNSUBSCRIBED, "one-click unsubscribe link"),
        ("zoe@fleuve.example", HARD_BOUNCE, "bounce"),
    ]
    assert all(r.listed_at == listed_at and r.removed_at == log.now() for r in removed)
    assert all(r.removed_by == "camille" and r.why.startswith("asked again") for r in removed)
    assert [s.key for s in other.suppressions()] == ["ana@quai.example"]
    assert other.suppression_removals() == removed  # committed, and read back the same
    assert [r.id for r in removed] == sorted({r.id for r in removed})

    # On the list again later: a new entry; the removal stays in the record.
    assert log.add_suppression("zoe@fleuve.example", "zoe@fleuve.example",
                               reason=UNSUBSCRIBED, source="cli")  # fmt: skip
    assert len(other.suppression_removals()) == 2
    assert log.remove_suppressions("nobody@nowhere.example", why="test", by="camille") == []


@pytest.mark.parametrize(("why", "by"), [("", "camille"), ("  ", "camille"), ("a reason", "")])
def test_a_removal_without_its_reason_or_its_author_removes_nothing(
    log: DeliveryLog, why: str, by: str
) -> None:
    log.add_suppression("ana@quai.example", "ana@quai.example", reason=UNSUBSCRIBED, source="cli")
    with pytest.raises(InvalidRequestError):
        log.remove_suppressions("ana@quai.example", why=why, by=by)
    assert [s.key for s in log.suppressions()] == ["ana@quai.example"]
    assert log.suppression_removals() == []
