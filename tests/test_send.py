"""The send engine against a real aiosmtpd server on 127.0.0.1 and a real SQLite delivery log."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, State, open_log
from distrib.errors import SMTPConfigError, SMTPConnectionError
from distrib.send import (
    RECONNECT_ATTEMPTS,
    STOP_REASON,
    Outgoing,
    Progress,
    SendReport,
    send_messages,
)
from smtp_server import SMTPTestServer, build_message, plan_messages

FAST = LimitsConfig(rate=0, connections=1, retries=3, retry_delay=0.01, max_retry_delay=0.05)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def addresses(n: int) -> list[str]:
    return [f"journalist{i}@example.org" for i in range(n)]


def send(
    outgoing: Any,
    log: DeliveryLog,
    smtp: SMTPConfig,
    limits: LimitsConfig = FAST,
    **kwargs: Any,
) -> SendReport:
    return asyncio.run(
        send_messages(outgoing, log=log, smtp=smtp, limits=limits, password=None, **kwargs)
    )


def status(log: DeliveryLog, run_id: int) -> dict[str, str]:
    return {m.address: m.status for m in log.messages(run_id)}


def outcomes(log: DeliveryLog, message: int) -> list[str | None]:
    return [a.outcome for a in log.attempts(message)]


def row_for(log: DeliveryLog, run_id: int, address: str) -> Any:
    return next(m for m in log.messages(run_id) if m.address == address)


# -- the happy path ---------------------------------------------------------------------------


def test_every_message_is_received_once_with_its_exact_bytes(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    run, outgoing = plan_messages(log, addresses(6))
    report = send(
        outgoing, log, smtp_server.smtp_config(), FAST.model_copy(update={"connections": 2})
    )

    assert (report.sent, report.failed, report.deferred, report.unknown) == (6, 0, 0, 0)
    assert not report.stopped
    received = {m.rcpt_tos: m for m in smtp_server.messages}
    assert len(smtp_server.messages) == 6
    for out in outgoing:
        got = received[(out.recipient,)]
        assert got.data == out.data  # dot-stuffing undone, nothing rewritten
        assert got.mail_from == "press@example.org"
    rows = log.messages(run.id)
    assert {r.status for r in rows} == {"sent"}
    assert all(r.reply_code == 250 and r.sent_at and r.attempts == 1 for r in rows)
    assert all(outcomes(log, r.id) == ["sent"] for r in rows)
    assert all(log.attempts(r.id)[0].server == f"127.0.0.1:{smtp_server.port}" for r in rows)


def test_one_connection_is_reused_for_every_message(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    _, outgoing = plan_messages(log, addresses(5))
    report = send(outgoing, log, smtp_server.smtp_config())
    assert report.sent == 5
    assert smtp_server.connections == report.connections == 1
    assert {m.session for m in smtp_server.messages} == {smtp_server.messages[0].session}
    verbs = smtp_server.verbs()
    assert verbs.count("EHLO") == 1 and verbs.count("MAIL") == 5 and verbs[-1] == "QUIT"


def test_workers_never_open_more_connections_than_configured(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    _, outgoing = plan_messages(log, addresses(12))
    report = send(
        outgoing, log, smtp_server.smtp_config(), FAST.model_copy(update={"connections": 3})
    )
    assert report.sent == 12
    assert 1 <= smtp_server.connections == report.connections <= 3
    assert smtp_server.verbs().count("EHLO") == report.connections


def test_outgoing_is_consumed_lazily(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    _, planned = plan_messages(log, addresses(20))
    pulled = 0
    ahead: list[int] = []

    def lazily() -> Iterator[Outgoing]:
        nonlocal pulled
        for out in planned:
            pulled += 1
            yield out

    def progress(p: Progress) -> None:
        ahead.append(pulled - (p.sent + p.failed + p.unknown + p.deferred))

    limits = FAST.model_copy(update={"connections": 2})
    report = send(lazily(), log, smtp_server.smtp_config(), limits, on_progress=progress)
    assert report.sent == 20
    # Never more than the queue (one per worker) plus what the workers hold plus one rendering.
    assert max(ahead) <= 2 * limits.connections + 1


def test_progress_is_reported_after_every_outcome(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("RCPT", "550 5.1.1 No such user", address="journalist1@example.org")
    _, outgoing = plan_messages(log, addresses(4))
    seen: list[Progress] = []
    report = send(outgoing, log, smtp_server.smtp_config(), total=4, on_progress=seen.append)
    assert len(seen) == 4
    assert [p.sent + p.failed for p in seen] == [1, 2, 3, 4]
    assert seen[-1].total == 4 and (seen[-1].sent, seen[-1].failed) == (3, 1)
    assert (report.sent, report.failed) == (3, 1)


# -- refused recipients and messages ----------------------------------------------------------


def test_a_refused_recipient_fails_alone_and_the_connection_is_kept(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    bad = "journalist2@example.org"
    smtp_server.script("RCPT", "550 5.1.1 No such user here", address=bad)
    run, outgoing = plan_messages(log, addresses(5))
    report = send(outgoing, log, smtp_server.smtp_config())

    assert (report.sent, report.failed) == (4, 1)
    assert status(log, run.id)[bad] == "failed"
    assert not smtp_server.received_for(bad)
    row = row_for(log, run.id, bad)
    assert row.reply_code == 550 and "No such user" in (row.reply_text or "")
    [attempt] = log.attempts(row.id)
    assert (attempt.outcome, attempt.reply_code, attempt.enhanced_code) == ("failed", 550, "5.1.1")
    assert "RSET" in smtp_server.verbs()
    assert smtp_server.connections == 1


@pytest.mark.parametrize("reply", ["552 5.3.4 Message too big", "554 5.7.1 Rejected as spam"])
def test_a_permanent_reply_to_the_message_fails_it(
    smtp_server: SMTPTestServer, log: DeliveryLog, reply: str
) -> None:
    bad = "journalist0@example.org"
    smtp_server.script("DOT", reply, address=bad)
    run, outgoing = plan_messages(log, addresses(3))
    report = send(outgoing, log, smtp_server.smtp_config())
    assert (report.sent, report.failed) == (2, 1)
    row = row_for(log, run.id, bad)
    assert row.status == "failed" and row.reply_code == int(reply[:3])
    assert log.attempts(row.id)[0].enhanced_code == reply.split()[1]
    assert len(smtp_server.received_for(bad)) == 1  # refused once, never retried


def test_greylisting_is_deferred_then_sent_within_the_run(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    grey = "journalist1@example.org"
    smtp_server.script("RCPT", "451 4.7.1 Greylisted, try again later", address=grey, times=2)
    run, outgoing = plan_messages(log, addresses(3))
    seen: list[Progress] = []
    report = send(outgoing, log, smtp_server.smtp_config(), on_progress=seen.append)

    assert (report.sent, report.deferred) == (3, 0)
    row = row_for(log, run.id, grey)
    assert row.status == "sent" and row.attempts == 3
    assert outcomes(log, row.id) == ["deferred", "deferred", "sent"]
    assert log.attempts(row.id)[0].enhanced_code == "4.7.1"
    assert len(smtp_server.received_for(grey)) == 1
    assert seen[-1].requeued == 2


def test_a_server_that_keeps_deferring_leaves_the_message_deferred_with_a_retry_time(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    grey = "journalist0@example.org"
    smtp_server.script("MAIL", "450 4.2.0 Mailbox busy")
    run, outgoing = plan_messages(log, [grey])
    limits = FAST.model_copy(update={"retries": 2})
    before = datetime.now(UTC)
    report = send(outgoing, log, smtp_server.smtp_config(), limits)

    assert (report.sent, report.deferred) == (0, 1)
    row = row_for(log, run.id, grey)
    assert row.status == "deferred" and row.attempts == 3
    assert outcomes(log, row.id) == ["deferred"] * 3
    assert row.next_attempt_at is not None
    assert datetime.fromisoformat(row.next_attempt_at) > before
    assert not smtp_server.messages


def test_backoff_delays_grow_from_retry_delay_and_are_capped(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("RCPT", "451 4.7.1 Greylisted")
    _, outgoing = plan_messages(log, addresses(1))
    asked: list[float] = []

    async def fake_sleep(delay: float) -> None:
        asked.append(delay)
        await asyncio.sleep(0)

    limits = LimitsConfig(rate=0, connections=1, retries=4, retry_delay=30, max_retry_delay=100)
    report = send(outgoing, log, smtp_server.smtp_config(), limits, sleep=fake_sleep)
    assert report.deferred == 1
    assert len(asked) == 4
    for delay, low in zip(asked, [30, 60, 100, 100], strict=True):
        assert low <= delay <= min(100, low * 1.25)


# -- lost connections, timeouts and 421 -------------------------------------------------------


def test_a_connection_lost_after_the_body_is_unknown_and_never_resent(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    lost = "journalist1@example.org"
    smtp_server.script("DOT", disconnect=True, address=lost)
    run, outgoing = plan_messages(log, addresses(3))
    report = send(outgoing, log, smtp_server.smtp_config())

    assert (report.sent, report.unknown) == (2, 1)
    row = row_for(log, run.id, lost)
    assert row.status == "unknown" and row.attempts == 1
    assert "may or may not have been delivered" in (row.reply_text or "")
    [received] = smtp_server.received_for(lost)
    assert received.reply is None  # the server had the whole body and never answered
    assert smtp_server.connections == 2  # the others went on over a new connection
    assert log.earlier_outcomes("test-campaign").unknown[row.key] == run.id  # never planned again


def test_a_slow_reply_to_the_message_beyond_data_timeout_is_unknown(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    slow = "journalist0@example.org"
    smtp_server.script("DOT", "250 OK at last", delay=3.0, address=slow)
    run, outgoing = plan_messages(log, addresses(2))
    report = send(outgoing, log, smtp_server.smtp_config(data_timeout=0.3, timeout=2.0))

    assert (report.sent, report.unknown) == (1, 1)
    row = row_for(log, run.id, slow)
    assert row.status == "unknown" and "0.3 s" in (row.reply_text or "")
    assert len(smtp_server.received_for(slow)) == 1


def test_a_connection_lost_at_rcpt_is_released_and_sent_once_after_reconnecting(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    flaky = "journalist1@example.org"
    smtp_server.script("RCPT", disconnect=True, address=flaky, times=1)
    run, outgoing = plan_messages(log, addresses(3))
    report = send(outgoing, log, smtp_server.smtp_config())

    assert report.sent == 3
    row = row_for(log, run.id, flaky)
    assert row.status == "sent"
    assert outcomes(log, row.id) == ["requeued", "sent"]
    assert len(smtp_server.received_for(flaky)) == 1
    assert smtp_server.connections == report.connections == 2


def test_a_connection_lost_before_354_is_released_not_unknown(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    flaky = "journalist0@example.org"
    smtp_server.script("DATA", disconnect=True, address=flaky, times=1)
    run, outgoing = plan_messages(log, [flaky])
    report = send(outgoing, log, smtp_server.smtp_config())

    assert report.sent == 1
    row = row_for(log, run.id, flaky)
    # The `data` state was committed, but the server never invited the body: back to ready.
    assert outcomes(log, row.id) == ["requeued", "sent"]
    assert "nothing was sent" in (log.attempts(row.id)[0].reply_text or "")
    assert len(smtp_server.received_for(flaky)) == 1
    assert smtp_server.connections == 2


def test_421_before_data_reconnects_and_finishes(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("MAIL", "421 4.3.2 Service shutting down", close=True, times=1)
    run, outgoing = plan_messages(log, addresses(3))
    report = send(outgoing, log, smtp_server.smtp_config())

    assert report.sent == 3
    first = log.messages(run.id)[0]
    assert outcomes(log, first.id) == ["requeued", "sent"]
    assert "421" in (log.attempts(first.id)[0].reply_text or "")
    assert len(smtp_server.messages) == 3
    assert report.connections == smtp_server.connections == 2


def test_421_in_reply_to_the_message_is_deferred_then_retried(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    target = "journalist0@example.org"
    smtp_server.script("DOT", "421 4.3.2 Shutting down", close=True, times=1, address=target)
    run, outgoing = plan_messages(log, [target])
    report = send(outgoing, log, smtp_server.smtp_config())

    assert report.sent == 1
    row = row_for(log, run.id, target)
    assert outcomes(log, row.id) == ["deferred", "sent"]
    assert [m.accepted for m in smtp_server.received_for(target)] == [False, True]


def test_a_relay_that_keeps_closing_with_421_pauses_the_run(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("MAIL", "421 4.3.2 Go away", close=True)
    run, outgoing = plan_messages(log, addresses(2))
    limits = FAST.model_copy(update={"retry_delay": 0.0})
    report = send(outgoing, log, smtp_server.smtp_config(), limits)
    assert report.paused and report.stopped
    assert "421" in (report.stop_reason or "") and "connection problems in a row" in (
        report.stop_reason or ""
    )
    assert set(status(log, run.id).values()) == {"ready"}  # nothing marked sent, nothing lost
    assert not smtp_server.messages
    assert smtp_server.connections == RECONNECT_ATTEMPTS + 1  # reconnected with backoff


def test_a_relay_that_keeps_dropping_the_connection_stops_the_run(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("MAIL", disconnect=True)
    run, outgoing = plan_messages(log, addresses(2))
    limits = FAST.model_copy(update={"retry_delay": 0.0})
    with pytest.raises(SMTPConnectionError, match="connection problems in a row"):
        send(outgoing, log, smtp_server.smtp_config(), limits)
    assert set(status(log, run.id).values()) == {"ready"}
    assert not smtp_server.messages


def test_421_at_the_greeting_is_retried_with_backoff(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    rule = smtp_server.script("CONNECT", "421 4.7.0 Busy, come back later", close=True, times=2)
    _, outgoing = plan_messages(log, addresses(2))
    asked: list[float] = []

    async def fake_sleep(delay: float) -> None:
        asked.append(delay)
        await asyncio.sleep(0)

    limits = FAST.model_copy(update={"retry_delay": 1.0, "max_retry_delay": 60})
    report = send(outgoing, log, smtp_server.smtp_config(), limits, sleep=fake_sleep)
    assert report.sent == 2 and report.connections == 1
    assert rule.hits == 2
    assert len(asked) == 2 and 1.0 <= asked[0] <= 1.25 and 2.0 <= asked[1] <= 2.5


def test_554_at_the_greeting_stops_at_once(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    rule = smtp_server.script("CONNECT", "554 5.7.1 No SMTP service for you")
    run, outgoing = plan_messages(log, addresses(2))
    with pytest.raises(SMTPConnectionError, match="554") as caught:
        send(outgoing, log, smtp_server.smtp_config())
    assert caught.value.code == 554
    assert rule.hits == 1
    assert set(status(log, run.id).values()) == {"ready"}


def test_a_relay_that_caps_connections_gets_fewer_not_a_failed_run(
    make_smtp_server: Any, log: DeliveryLog
) -> None:
    server = make_smtp_server(max_sessions=1)
    run, outgoing = plan_messages(log, addresses(6))
    limits = FAST.model_copy(update={"connections": 3, "retry_delay": 0.0})
    report = send(outgoing, log, server.smtp_config(), limits)
    assert report.sent == 6
    assert server.peak_sessions == 1
    assert set(status(log, run.id).values()) == {"sent"}


def test_a_refused_worker_waits_for_a_connection_still_being_greeted(
    make_smtp_server: Any, log: DeliveryLog
) -> None:
    # The first connection's greeting is held until the second worker has been turned away
    # (421) as many times as it tries: that worker gives up while the first is still opening.
    # It must wait to see whether that connection opens instead of pausing the run; it used
    # to pause it when the machine was loaded (the order here is set by events, not time).
    server = make_smtp_server(max_sessions=1)
    go = threading.Event()
    server.script("CONNECT", hold=go, times=1)
    tries = RECONNECT_ATTEMPTS + 1

    def release() -> None:
        deadline = time.monotonic() + 60
        while server.refused_sessions < tries and time.monotonic() < deadline:
            time.sleep(0.005)
        go.set()

    releaser = threading.Thread(target=release, daemon=True)
    releaser.start()
    run, outgoing = plan_messages(log, addresses(4))
    limits = FAST.model_copy(update={"connections": 2, "retry_delay": 0.0})
    report = send(outgoing, log, server.smtp_config(), limits)
    releaser.join()
    assert server.refused_sessions == tries
    assert (report.sent, report.paused, report.stop_reason) == (4, False, None)
    assert set(status(log, run.id).values()) == {"sent"}


def test_nothing_listening_stops_the_run_with_a_connection_error(log: DeliveryLog) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    run, outgoing = plan_messages(log, addresses(2))
    smtp = SMTPConfig(host="127.0.0.1", port=port, security="none", timeout=2.0)
    limits = FAST.model_copy(update={"retry_delay": 0.0})
    with pytest.raises(SMTPConnectionError, match=f"127.0.0.1:{port}"):
        send(outgoing, log, smtp, limits)
    assert set(status(log, run.id).values()) == {"ready"}
    assert all(not log.attempts(m.id) for m in log.messages(run.id))


def test_a_refused_sender_stops_the_run_and_releases_the_message(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    smtp_server.script("MAIL", "553 5.7.1 Sender address rejected: not owned by you")
    run, outgoing = plan_messages(log, addresses(3))
    with pytest.raises(SMTPConfigError, match="refused our sender") as caught:
        send(outgoing, log, smtp_server.smtp_config())
    assert caught.value.code == 553
    assert set(status(log, run.id).values()) == {"ready"}
    first = log.messages(run.id)[0]
    assert outcomes(log, first.id) == ["requeued"]


# -- addresses --------------------------------------------------------------------------------


def test_a_non_ascii_local_part_fails_alone_when_the_server_lacks_smtputf8(
    make_smtp_server: Any, log: DeliveryLog
) -> None:
    server = make_smtp_server(smtputf8=False)
    utf8 = "zoé@example.org"
    run, outgoing = plan_messages(log, ["a@example.org", utf8, "b@example.org"])
    report = send(outgoing, log, server.smtp_config())

    assert (report.sent, report.failed) == (2, 1)
    row = row_for(log, run.id, utf8)
    assert row.status == "failed" and "SMTPUTF8" in (row.reply_text or "")
    assert not server.received_for(utf8)


def test_a_non_ascii_local_part_is_sent_with_smtputf8_when_offered(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    utf8 = "zoé@example.org"
    _, outgoing = plan_messages(log, [utf8, "plain@example.org"])
    report = send(outgoing, log, smtp_server.smtp_config())
    assert report.sent == 2
    [received] = smtp_server.received_for(utf8)
    assert "SMTPUTF8" in received.mail_options
    [plain] = smtp_server.received_for("plain@example.org")
    assert "SMTPUTF8" not in plain.mail_options


def test_an_address_that_would_be_rewritten_is_failed_not_sent(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    run, planned = plan_messages(log, ["x@example.org"])
    evil = "x@example.org>"  # would smuggle characters onto the command line
    outgoing = [Outgoing(planned[0].message, "press@example.org", evil, planned[0].data, "<m@x>")]
    report = send(outgoing, log, smtp_server.smtp_config())
    assert report.failed == 1
    assert log.messages(run.id)[0].status == "failed"
    assert "RCPT" not in smtp_server.verbs()


# -- stopping ---------------------------------------------------------------------------------


def test_the_stop_event_lets_in_flight_messages_finish_and_starts_nothing_new(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    run, outgoing = plan_messages(log, addresses(8))

    async def go() -> SendReport:
        stop = asyncio.Event()

        def progress(p: Progress) -> None:
            if p.sent == 2:
                stop.set()

        return await send_messages(
            outgoing,
            log=log,
            smtp=smtp_server.smtp_config(),
            limits=FAST,
            password=None,
            on_progress=progress,
            stop=stop,
        )

    report = asyncio.run(go())
    assert report.stopped and report.stop_reason == STOP_REASON
    assert report.sent == 2
    states = status(log, run.id)
    assert list(states.values()).count("sent") == 2
    assert list(states.values()).count("ready") == 6  # never tried, still ready
    assert not {"sending", "data"} & set(states.values())
    assert len(smtp_server.messages) == 2
    assert smtp_server.verbs()[-1] == "QUIT"


def test_a_render_error_stops_the_run_after_what_was_sent(
    smtp_server: SMTPTestServer, log: DeliveryLog
) -> None:
    run, planned = plan_messages(log, addresses(4))

    def rendering() -> Iterator[Outgoing]:
        yield planned[0]
        yield planned[1]
        raise RuntimeError("template exploded")

    with pytest.raises(RuntimeError, match="template exploded"):
        send(rendering(), log, smtp_server.smtp_config())
    states = [m.status for m in log.messages(run.id)]
    assert states[2:] == ["ready", "ready"]
    assert State.SENDING not in states and State.DATA not in states
    assert len(smtp_server.messages) == states.count("sent")


# -- pacing -----------------------------------------------------------------------------------


def test_the_rate_limit_holds_in_real_time(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    _, outgoing = plan_messages(log, addresses(6))
    limits = LimitsConfig(rate=20, connections=2, retries=0, retry_delay=0, max_retry_delay=0)
    report = send(outgoing, log, smtp_server.smtp_config(), limits)
    assert report.sent == 6
    # Six messages at 20/s with no burst need at least 5 intervals of 50 ms.
    assert report.elapsed >= 5 / 20 * 0.9
    assert report.elapsed < 10  # tolerant: only catches a limiter that waits far too long


def test_data_is_never_changed_on_the_wire(smtp_server: SMTPTestServer, log: DeliveryLog) -> None:
    body = ".\n.starts with a dot\n..two dots\nend without newline"
    _, planned = plan_messages(log, ["dots@example.org"])
    data = build_message("press@example.org", "dots@example.org", body=body)
    out = Outgoing(planned[0].message, "press@example.org", "dots@example.org", data, "<d@x>")
    assert send([out], log, smtp_server.smtp_config()).sent == 1
    assert smtp_server.messages[0].data == data
