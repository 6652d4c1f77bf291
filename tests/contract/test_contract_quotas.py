"""What a relay was handed, across runs and releases (`Quotas.relay_sends`), and a refusal
that suppresses its address in the same transaction, on both adapters."""

from __future__ import annotations

from datetime import timedelta

from distrib.deliverylog import (
    Begin,
    DeliveryLog,
    NewMessage,
    Outcome,
    Release,
    State,
    apply_one,
)
from distrib.deliverylog.records import NO_SUCH_USER, NewSuppression
from log_helpers import T0, Clock

RELAY = "smtp.example.org:587 as presse@example.org"


def plan(log: DeliveryLog, campaign: str, n: int) -> list[int]:
    run = log.create_run(campaign, f"{campaign}.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=f"k{i}", recipient=f"r{i}@example.org", address=f"r{i}@example.org")
         for i in range(n)],
    )  # fmt: skip
    return [m.id for m in log.messages(run.id)]


def test_every_recipient_a_relay_accepted_counts_across_runs_and_releases(
    log: DeliveryLog, clock: Clock
) -> None:
    first = plan(log, "release-1", 3)
    second = plan(log, "release-2", 3)
    hour = timedelta(hours=1)
    # Release 1: sent, then refused after the dot (the relay took the recipient: it counts).
    clock.now = T0
    attempt = apply_one(log, Begin(first[0], "relay", log.now(), RELAY))
    apply_one(log, Outcome(first[0], attempt, State.SENT, 250, "ok", log.now()))
    clock.now = T0 + hour
    attempt = apply_one(log, Begin(first[1], "relay", log.now(), RELAY))
    apply_one(log, Outcome(first[1], attempt, State.FAILED, 554, "no", log.now()))
    # Refused at RCPT TO: the relay never took it; nothing counts.
    apply_one(log, Outcome(first[2], None, State.FAILED, 550, "no such user", log.now()))
    # Release 2, two hours later: a refusal of DATA after RCPT was accepted counts, a
    # connection dropped before anything does not, another relay's sends do not.
    clock.now = T0 + 2 * hour
    apply_one(log, Outcome(second[0], None, State.DEFERRED, 451, "later", log.now(),
                           started=log.now(), relay=RELAY))  # fmt: skip
    apply_one(log, Release(second[1], None, "dropped", log.now()))
    attempt = apply_one(log, Begin(second[2], "relay", log.now(), "other:25"))
    apply_one(log, Outcome(second[2], attempt, State.SENT, 250, "ok", log.now()))

    assert log.relay_sends(RELAY, T0 - hour) == [T0, T0 + hour, T0 + 2 * hour]
    # The window starts at `since`, inclusive; the list is oldest first.
    assert log.relay_sends(RELAY, T0 + hour) == [T0 + hour, T0 + 2 * hour]
    assert log.relay_sends(RELAY, T0 + 3 * hour) == []
    assert log.relay_sends("other:25", T0) == [T0 + 2 * hour]
    assert log.relay_sends("nobody:25", T0) == []


def test_a_no_such_user_refusal_suppresses_its_address_in_the_same_change(
    log: DeliveryLog, other: DeliveryLog
) -> None:
    [message, later] = plan(log, "release-1", 2)
    entry = NewSuppression("r0@example.org", "r0@example.org", NO_SUCH_USER,
                           "refused 5.1.1 by relay", message=message,
                           note="RCPT TO: 550 5.1.1 no such user")  # fmt: skip
    results = log.apply([
        Outcome(message, None, State.FAILED, 550, "RCPT TO: 550 5.1.1 no such user", log.now(),
                "5.1.1", suppress=entry),
        Outcome(later, None, State.FAILED, 550, "RCPT TO: 550 5.7.1 spam", log.now(), "5.7.1"),
    ])  # fmt: skip
    assert results == [None, None]
    [suppressed] = other.suppressions()  # committed: another connection sees it
    assert (suppressed.address, suppressed.reason, suppressed.message) == (
        "r0@example.org", NO_SUCH_USER, message,
    )  # fmt: skip
    assert suppressed.note == "RCPT TO: 550 5.1.1 no such user"
    assert other.message(message).status == State.FAILED


def test_a_refused_change_leaves_no_suppression(log: DeliveryLog) -> None:
    [message] = plan(log, "release-1", 1)
    log.set_aside([message], "left out")
    entry = NewSuppression("r0@example.org", "r0@example.org", NO_SUCH_USER, "refused")
    [result] = log.apply(
        [Outcome(message, None, State.FAILED, 550, "no", log.now(), "5.1.1", suppress=entry)]
    )
    assert isinstance(result, Exception)
    assert log.suppressions() == []
