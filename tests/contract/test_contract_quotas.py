"""What a relay was handed, across runs and releases (`Quotas.relay_sends`); a `Begin` that
reserves its place in the relay's quotas, refused once every connection together filled one;
and a refusal that suppresses its address in the same transaction, on both adapters."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from distrib.deliverylog import (
    Begin,
    DeliveryLog,
    NewMessage,
    Outcome,
    Quota,
    QuotaFull,
    Release,
    State,
    apply_one,
    open_log,
    timestamp,
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


# -- the reservation: a Begin that names its relay's quotas -----------------------------------

PER_HOUR = (Quota("per_hour", 2, 3600.0),)


def test_a_begin_with_quotas_is_refused_once_every_connection_together_filled_one(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    messages = plan(log, "release-1", 3) + plan(log, "release-2", 3)
    hour = timedelta(hours=1)
    clock.now = T0
    # One send through the relay on each connection (two processes): the window is full.
    assert apply_one(log, Begin(messages[0], "relay", log.now(), RELAY, PER_HOUR)) is not None
    clock.now = T0 + timedelta(minutes=10)
    assert apply_one(other, Begin(messages[3], "relay", other.now(), RELAY, PER_HOUR)) is not None
    # Another relay's sends and a Begin without quotas are not this check's business.
    assert apply_one(log, Begin(messages[4], "relay", log.now(), "other:25", PER_HOUR))
    clock.now = T0 + timedelta(minutes=20)
    with pytest.raises(QuotaFull) as refused:
        apply_one(log, Begin(messages[1], "relay", log.now(), RELAY, PER_HOUR))
    assert refused.value.until == T0 + hour  # the oldest send leaves the window then
    assert refused.value.quota.name == "per_hour" and refused.value.relay == RELAY
    # Nothing of the refused change was written: still ready, no attempt, not counted.
    assert log.message(messages[1]).status == "ready"
    assert log.attempts(messages[1]) == []
    assert log.relay_sends(RELAY, T0) == [T0, T0 + timedelta(minutes=10)]
    # Once the oldest send is an hour old, there is room for one, not two.
    clock.now = T0 + hour
    assert apply_one(other, Begin(messages[1], "relay", other.now(), RELAY, PER_HOUR))
    with pytest.raises(QuotaFull) as again:
        apply_one(log, Begin(messages[2], "relay", log.now(), RELAY, PER_HOUR))
    assert again.value.until == T0 + timedelta(minutes=10) + hour


def test_a_group_counts_its_own_earlier_begins_and_a_later_start_already_committed(
    log: DeliveryLog, other: DeliveryLog, clock: Clock
) -> None:
    messages = plan(log, "release-1", 4)
    clock.now = T0 + timedelta(minutes=5)
    # Another process began a send at T0+5 min and committed first; this one's transaction
    # began at T0 (its MAIL FROM): the later send still counts in its window.
    apply_one(other, Begin(messages[0], "relay", other.now(), RELAY, PER_HOUR))
    at = timestamp(T0)
    results = log.apply([Begin(m, "relay", at, RELAY, PER_HOUR) for m in messages[1:]])
    assert isinstance(results[0], int)
    assert isinstance(results[1], QuotaFull) and isinstance(results[2], QuotaFull)
    assert [log.message(m).status for m in messages] == ["data", "data", "ready", "ready"]
    assert len(log.relay_sends(RELAY, T0 - timedelta(hours=1))) == 2


def test_two_connections_reserving_at_once_never_exceed_the_quota(
    target: str | Path, log: DeliveryLog, clock: Clock
) -> None:
    """Two writers (as two processes' group commits) race to begin 6 messages each through
    one relay with per_hour = 5: whatever the interleaving, exactly 5 begin."""
    per_hour = (Quota("per_hour", 5, 3600.0),)
    mine, theirs = plan(log, "release-1", 6), plan(log, "release-2", 6)
    start = threading.Barrier(2)
    begun: list[int] = []
    full: list[QuotaFull] = []

    def reserve(messages: list[int]) -> None:
        with open_log(target, clock=clock) as own:
            writer = own.writer()
            try:
                start.wait()
                for message in messages:
                    [result] = writer.apply([Begin(message, "relay", own.now(), RELAY, per_hour)])
                    if isinstance(result, QuotaFull):
                        full.append(result)
                    else:
                        assert isinstance(result, int), result
                        begun.append(message)
            finally:
                writer.close()

    threads = [threading.Thread(target=reserve, args=(m,)) for m in (mine, theirs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(begun) == 5 and len(full) == 7
    assert len(log.relay_sends(RELAY, T0 - timedelta(hours=1))) == 5
    assert sum(log.counts(run.id).get("data", 0) for run in log.runs()) == 5
