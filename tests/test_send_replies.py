"""Every reply class, error storms, connection recycling and stopping, against a real aiosmtpd
server and a real SQLite delivery log."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, open_log
from distrib.errors import RunLockedError, SMTPAuthError
from distrib.resolve import suppression_file, suppression_suggestions
from distrib.send import ABANDON_REASON, Outgoing, Progress, SendReport, send_messages
from smtp_server import SMTPTestServer, plan_messages

FAST = LimitsConfig(
    rate=0, connections=1, retries=2, retry_delay=0.01, max_retry_delay=0.05, pause_after=0
)
Factory = Callable[..., SMTPTestServer]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def addresses(n: int, domain: str = "example.org") -> list[str]:
    return [f"journalist{i}@{domain}" for i in range(n)]


def send(
    outgoing: Any, log: DeliveryLog, smtp: SMTPConfig, limits: LimitsConfig = FAST, **kw: Any
) -> SendReport:
    return asyncio.run(
        send_messages(outgoing, log=log, smtp=smtp, limits=limits, password=None, **kw)
    )


def row(log: DeliveryLog, run_id: int, address: str) -> Any:
    return next(m for m in log.messages(run_id) if m.address == address)


def outcomes(log: DeliveryLog, message: int) -> list[str | None]:
    return [a.outcome for a in log.attempts(message)]


# -- 421: reconnect, nothing marked sent ------------------------------------------------------


@pytest.mark.parametrize("command", ["RCPT", "DATA"])
def test_421_before_the_body_releases_and_reconnects(
    smtp_server: SMTPTestServer, log: DeliveryLog, command: str
) -> None:
    target = "journalist1@example.org"
    smtp_server.script(command, "421 4.7.0 Try again later", close=True, times=1, address=target)
    run, outgoing = plan_messages(log, addresses(3))
    report = send(outgoing, log, smtp_server.smtp_config())
    assert report.sent == 3 and report.connections == 2
    assert outcomes(log, row(log, run.id, target).id) == ["requeued", "sent"]
    assert len(smtp_server.received_for(target)) == 1


# -- 4xx: deferred with backoff, bounded ------------------------------------------------------


@pytest.mark.parametrize(
    "reply", ["450 4.2.1 Mailbox busy", "451 4.3.0 Local error", "452 4.2.2 Mailbox full"]
)
def test_4xx_at_rcpt_is_deferred_then_retried(
    smtp_server: SMTPTestServer, log: DeliveryLog, reply: str
) -> None:
    target = "journalist0@example.org"
    smtp_server.script("RCPT", reply, address=target, times=1)
    run, outgoing = plan_messages(log, addresses(2))
    report = send(outgoing, log, smtp_server.smtp_config())
    assert (report.sent, report.deferred) == (2, 0)
    m = row(log, run.id, target)
    assert outcomes(log, m.id) == ["deferred", "sent"]
    assert log.attempts(m.id)[0].reply_code == int(reply[:3])
    assert len(smtp_server.received_for(target)) == 1


def test_bounded_retries_leave_the_message_deferred_for_a_later_resume(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    target = "journalist0@example.org"
    smtp_server.script("DOT", "451 4.3.0 Try later", address=target)
    run, outgoing = plan_messages(log, addresses(2))
    report = send(outgoing, log, smtp_server.smtp_config())
    assert (report.sent, report.deferred) == (1, 1)
    m = row(log, run.id, target)
    assert m.status == "deferred" and m.attempts == FAST.retries + 1
    assert m.next_attempt_at is not None
    assert len(smtp_server.received_for(target)) == FAST.retries + 1  # each one refused


# -- 452 too many recipients ------------------------------------------------------------------


def test_452_too_many_recipients_reconnects_and_learns_the_connection_limit(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    third = "journalist2@example.org"
    smtp_server.script("RCPT", "452 4.5.3 Too many recipients", address=third, times=1)
    run, outgoing = plan_messages(log, addresses(7))
    report = send(outgoing, log, smtp_server.smtp_config())
    assert report.sent == 7 and report.deferred == 0
    assert outcomes(log, row(log, run.id, third).id) == ["requeued", "sent"]
    # Two messages went through before the refusal: from then on, two per connection.
    sessions = [m.session for m in smtp_server.messages]
    per_session = [sessions.count(s) for s in dict.fromkeys(sessions)]
    assert per_session == [2, 2, 2, 1]
    assert smtp_server.verbs().count("QUIT") == 4
    assert len(smtp_server.received_for(third)) == 1


def test_452_too_many_recipients_on_a_fresh_connection_is_a_deferral(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    first = "journalist0@example.org"
    smtp_server.script("RCPT", "452 4.5.3 Too many recipients", address=first, times=1)
    run, outgoing = plan_messages(log, addresses(2))
    report = send(outgoing, log, smtp_server.smtp_config())
    assert report.sent == 2
    assert outcomes(log, row(log, run.id, first).id) == ["deferred", "sent"]


# -- stop the run: it is our configuration, not the recipients --------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "454 4.7.0 Temporary authentication failure",
        "534 5.7.9 Authentication mechanism is too weak",
        "535 5.7.8 Authentication credentials invalid",
        "538 5.7.11 Encryption required for requested authentication mechanism",
    ],
)
def test_auth_replies_stop_the_run_before_any_message(
    make_smtp_server: Factory, log: DeliveryLog, reply: str
) -> None:
    server = make_smtp_server(tls="starttls", users={"presse": "secret"})
    server.script("AUTH", reply)
    run, outgoing = plan_messages(log, addresses(2))
    with pytest.raises(SMTPAuthError) as caught:
        asyncio.run(
            send_messages(
                outgoing,
                log=log,
                smtp=server.smtp_config(username="presse"),
                limits=FAST,
                password="secret",
            )
        )
    assert caught.value.code == int(reply[:3])
    assert "MAIL" not in server.verbs()
    assert {m.status for m in log.messages(run.id)} == {"ready"}


@pytest.mark.parametrize("code", [530, 534, 538])
def test_auth_replies_to_mail_from_stop_the_run(
    smtp_server: SMTPTestServer, log: DeliveryLog, code: int
) -> None:
    smtp_server.script("MAIL", f"{code} 5.7.0 Authentication required")
    run, outgoing = plan_messages(log, addresses(3))
    with pytest.raises(SMTPAuthError, match=str(code)):
        send(outgoing, log, smtp_server.smtp_config())
    assert {m.status for m in log.messages(run.id)} == {"ready"}
    assert smtp_server.verbs().count("MAIL") == 1  # nothing more was tried


# -- 5xx: failed for that message -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "suggested", "suppressed"),
    [
        # "No such user" (a code of [limits] suppress_codes): suppressed by the send itself.
        ("550 5.1.1 <x>: Recipient address rejected: User unknown", False, True),
        ("551 5.1.6 User has moved; no forwarding", True, False),
        ("553 5.1.3 Bad recipient address syntax", True, False),
        ("550 5.7.1 Relaying denied", False, False),
        ("554 5.7.1 Rejected by policy", False, False),
        ("550 Mailbox unavailable", False, False),
        ("450 4.1.1 Mailbox unavailable, try later", False, False),  # soft: deferred only
    ],
)
def test_permanent_refusals_fail_the_message_and_suppress_or_suggest_when_it_does_not_exist(
    smtp_server: SMTPTestServer, log: DeliveryLog, reply: str, suggested: bool, suppressed: bool
) -> None:
    bad = "journalist1@example.org"
    smtp_server.script("RCPT", reply, address=bad)
    run, outgoing = plan_messages(log, addresses(3))
    limits = FAST.model_copy(update={"retries": 0})
    report = send(outgoing, log, smtp_server.smtp_config(), limits)
    soft = reply.startswith("4")
    assert (report.sent, report.deferred if soft else report.failed) == (2, 1)
    assert row(log, run.id, bad).status == ("deferred" if soft else "failed")
    assert not smtp_server.received_for(bad)
    suggestions = suppression_suggestions(log, run.id)
    assert [s.message.address for s in suggestions] == ([bad] if suggested else [])
    entries = log.suppressions()
    assert [(e.address, e.reason) for e in entries] == (
        [(bad, "no such user")] if suppressed else []
    )
    if suppressed:
        assert entries[0].note == f"RCPT TO: {reply}"  # the reply, as the log keeps it
        assert entries[0].message == row(log, run.id, bad).id


def test_the_suppression_file_suppresses_exactly_the_suggested_addresses(
    smtp_server: SMTPTestServer, log: DeliveryLog, tmp_path: Path
) -> None:
    from distrib.contacts.suppress import read_suppression

    gone = ["journalist1@example.org", "journalist3@example.org"]
    for address in gone:
        smtp_server.script(
            "RCPT", "550-5.1.1 No such user\r\n550 5.1.1 see the FAQ", address=address
        )
    smtp_server.script("RCPT", "550 5.7.1 Spam", address="journalist2@example.org")
    run, outgoing = plan_messages(log, addresses(4))
    # With suppress_codes emptied, "no such user" is left to the officer (the file below).
    send(outgoing, log, smtp_server.smtp_config(), FAST.model_copy(update={"suppress_codes": ()}))
    suggestions = suppression_suggestions(log, run.id)
    expected = "RCPT TO: 550 5.1.1 No such user\n5.1.1 see the FAQ"
    assert [s.reply for s in suggestions] == [expected] * 2  # a two-line reply
    text = suppression_file(suggestions, "run 1")
    assert "# journalist1@example.org: RCPT TO: 550 5.1.1 No such user 5.1.1 see the FAQ\n" in text
    file = tmp_path / "bounced.txt"
    file.write_text(text, encoding="utf-8")
    suppression = read_suppression(file)
    assert len(suppression) == 2 and not suppression.warnings
    assert all(a in suppression for a in gone)
    assert "journalist2@example.org" not in suppression


@pytest.mark.parametrize(
    ("command", "reply"),
    [("MAIL", "552 5.3.4 Message size exceeds fixed limit"), ("DOT", "554 5.6.0 Bad content")],
)
def test_552_and_554_fail_only_that_message(
    smtp_server: SMTPTestServer, log: DeliveryLog, command: str, reply: str
) -> None:
    # MAIL is matched on the sender: give one message its own sender.
    run, outgoing = plan_messages(log, addresses(3))
    if command == "MAIL":
        smtp_server.script("MAIL", reply, address="big@example.org")
        first = outgoing[0]
        outgoing[0] = Outgoing(
            first.message, "big@example.org", first.recipient, first.data, first.message_id
        )
    else:
        smtp_server.script("DOT", reply, address=outgoing[0].recipient)
    report = send(outgoing, log, smtp_server.smtp_config())
    assert (report.sent, report.failed) == (2, 1)
    assert row(log, run.id, outgoing[0].recipient).reply_code == int(reply[:3])


# -- error storms pause the run ---------------------------------------------------------------


def test_a_storm_of_policy_rejections_pauses_the_run(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("RCPT", "550 5.7.1 Message rejected as spam")
    run, outgoing = plan_messages(log, addresses(10))
    report = send(
        outgoing, log, smtp_server.smtp_config(), FAST.model_copy(update={"pause_after": 4})
    )
    assert report.paused and report.stopped
    assert report.failed == 4
    reason = report.stop_reason or ""
    assert "4 replies in a row" in reason and "5.7.x" in reason and "550 5.7.1" in reason
    states = [m.status for m in log.messages(run.id)]
    assert states == ["failed"] * 4 + ["ready"] * 6  # nothing new started after the pause


def test_throttling_replies_pause_the_run_instead_of_mass_deferring(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("DOT", "451 4.7.0 Rate limit exceeded, slow down")
    run, outgoing = plan_messages(log, addresses(10))
    # No in-run retry, so the three replies in a row are three different messages.
    limits = FAST.model_copy(update={"pause_after": 3, "retries": 0})
    report = send(outgoing, log, smtp_server.smtp_config(), limits)
    assert report.paused
    assert "throttling" in (report.stop_reason or "")
    assert [m.status for m in log.messages(run.id)].count("deferred") == 3
    assert len(smtp_server.messages) == 3


def test_greylisting_and_unknown_users_are_not_a_storm(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("RCPT", "451 4.7.1 Greylisting in action, please come back later", times=4)
    smtp_server.script("RCPT", "550 5.1.1 No such user", address="journalist5@example.org")
    _run, outgoing = plan_messages(log, addresses(6))
    # Enough in-run retries that the four greylisting replies never exhaust one message.
    limits = FAST.model_copy(update={"pause_after": 2, "retries": 4})
    report = send(outgoing, log, smtp_server.smtp_config(), limits)
    assert not report.paused
    assert (report.sent, report.failed) == (5, 1)


def test_an_accepted_message_ends_the_row(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    for i in (0, 1, 3, 4):
        smtp_server.script("RCPT", "554 5.7.1 Blocked", address=f"journalist{i}@example.org")
    _run, outgoing = plan_messages(log, addresses(6))
    report = send(
        outgoing, log, smtp_server.smtp_config(), FAST.model_copy(update={"pause_after": 3})
    )
    assert not report.paused and (report.sent, report.failed) == (2, 4)


# -- connections ------------------------------------------------------------------------------


def test_connections_are_recycled_after_messages_per_connection(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    _, outgoing = plan_messages(log, addresses(7))
    report = send(
        outgoing,
        log,
        smtp_server.smtp_config(),
        FAST.model_copy(update={"messages_per_connection": 3}),
    )
    assert report.sent == 7 and report.connections == 3
    sessions = [m.session for m in smtp_server.messages]
    assert [sessions.count(s) for s in dict.fromkeys(sessions)] == [3, 3, 1]
    assert smtp_server.verbs().count("QUIT") == 3  # each one closed politely


# -- stopping ---------------------------------------------------------------------------------


def test_abandoning_marks_a_message_waiting_for_its_reply_unknown_at_once(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    slow = "journalist0@example.org"
    smtp_server.script("DOT", "250 OK at last", delay=3.0, address=slow)
    run, outgoing = plan_messages(log, addresses(3))
    seen: list[Progress] = []

    async def go() -> SendReport:
        stop, abandon = asyncio.Event(), asyncio.Event()

        async def press_twice() -> None:
            while not smtp_server.messages:  # the body is at the server, its reply is slow
                await asyncio.sleep(0.01)
            stop.set()  # first Ctrl-C: wait for in-flight messages
            await asyncio.sleep(0.2)
            abandon.set()  # second Ctrl-C: do not wait

        presser = asyncio.create_task(press_twice())
        report = await send_messages(
            outgoing,
            log=log,
            smtp=smtp_server.smtp_config(data_timeout=10),
            limits=FAST,
            password=None,
            stop=stop,
            abandon=abandon,
            on_progress=seen.append,
        )
        await presser
        return report

    started = time.monotonic()
    report = asyncio.run(go())
    assert time.monotonic() - started < 2.5  # did not wait for the 3 s reply
    assert report.stopped and report.stop_reason == ABANDON_REASON and report.unknown == 1
    assert [m.status for m in log.messages(run.id)] == ["unknown", "ready", "ready"]
    assert "may or may not have been delivered" in (row(log, run.id, slow).reply_text or "")
    assert [p.stopping for p in seen if p.stopping][-1] == ABANDON_REASON


def test_abandoning_before_354_releases_the_message(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("DATA", delay=3.0)  # slow to say 354
    run, outgoing = plan_messages(log, addresses(1))

    async def go() -> SendReport:
        abandon = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, abandon.set)
        return await send_messages(
            outgoing, log=log, smtp=smtp_server.smtp_config(), limits=FAST, password=None,
            abandon=abandon,
        )  # fmt: skip

    report = asyncio.run(go())
    assert report.stopped and report.unknown == 0
    [m] = log.messages(run.id)
    assert m.status == "ready" and outcomes(log, m.id) == ["requeued"]


def test_losing_the_lease_stops_the_run(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    smtp_server.script("DOT", "250 OK", delay=0.1)
    run, outgoing = plan_messages(log, addresses(30))
    beats: list[int] = []

    def heartbeat() -> bool:
        beats.append(1)
        # The lease is lost once a message is recorded as sent: an event, not a time (on a
        # loaded machine a second beat could come before any message went).
        return not any(m.status == "sent" for m in log.messages(run.id))

    with pytest.raises(RunLockedError, match="lost the campaign's lease"):
        send(outgoing, log, smtp_server.smtp_config(), heartbeat=heartbeat, heartbeat_every=0.05)
    states = [m.status for m in log.messages(run.id)]
    assert 0 < states.count("sent") < 30 and set(states) == {"sent", "ready"}


def test_a_message_deferred_by_an_earlier_run_waits_for_its_retry_time(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    _run, outgoing = plan_messages(log, addresses(2))
    later = log.current_time() + timedelta(seconds=40)
    outgoing[1] = dataclasses.replace(outgoing[1], retry_at=later)
    asked: list[float] = []

    async def fake_sleep(delay: float) -> None:
        asked.append(delay)
        await asyncio.sleep(0)

    report = send(outgoing, log, smtp_server.smtp_config(), sleep=fake_sleep)
    assert report.sent == 2
    assert len(asked) == 1 and 39 < asked[0] <= 40
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == addresses(2)


def test_an_unexpected_error_before_354_leaves_the_message_ready(
    smtp_server: SMTPTestServer, log: DeliveryLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distrib.send.transport import Connection

    async def broken(self: Connection) -> None:
        raise RuntimeError("a bug while sending DATA")

    monkeypatch.setattr(Connection, "data_command", broken)
    run, outgoing = plan_messages(log, addresses(2))
    with pytest.raises(RuntimeError, match="a bug"):
        send(outgoing, log, smtp_server.smtp_config())
    first = log.messages(run.id)[0]
    # `data` was committed, but no body byte left: the log says so instead of "unknown".
    assert first.status == "ready" and outcomes(log, first.id) == ["requeued"]
