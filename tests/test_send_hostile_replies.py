"""Replies no well-behaved relay sends, against hand-scripted servers on 127.0.0.1: invalid UTF-8,
control characters, gibberish, codes outside SMTP, a 2xx where a 354 belongs, extra replies on a
pipelining server.  No single reply may abort a run, and none may be taken for what it is not:
a message is ``failed`` only on a real refusal, and a protocol error before any body byte left
puts the message back in the queue, as a dropped connection does."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign_helpers import write_campaign
from distrib.cli import app
from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, open_log
from distrib.errors import SendError, SMTPConnectionError
from distrib.send import SendReport, send_messages
from distrib.send.wire import MAX_LINE
from raw_smtp import RawSMTPServer, Session
from smtp_server import plan_messages

LIMITS = LimitsConfig(
    rate=0, connections=1, retries=1, retry_delay=0, max_retry_delay=0, pause_after=0
)
BAD = "journaliste1@redaction.example"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def addresses(n: int) -> list[str]:
    return [f"journaliste{i}@redaction.example" for i in range(n)]


def smtp(server: RawSMTPServer, **extra: Any) -> SMTPConfig:
    values: dict[str, Any] = {"timeout": 3, "data_timeout": 3} | extra
    return SMTPConfig(
        host="127.0.0.1", port=server.port, security="none", local_hostname="client.test",
        **values,
    )  # fmt: skip


def send(
    outgoing: Any, log: DeliveryLog, server: RawSMTPServer, limits: LimitsConfig = LIMITS
) -> SendReport:
    return asyncio.run(
        send_messages(outgoing, log=log, smtp=smtp(server), limits=limits, password=None)
    )


def states(log: DeliveryLog, run_id: int) -> dict[str, str]:
    return {m.address: m.status for m in log.messages(run_id)}


def every_text_is_valid(path: Path) -> None:
    """Every text value of every table reads back as valid UTF-8 without a control character
    other than a line feed (a reply's lines)."""
    with sqlite3.connect(path) as conn:
        conn.text_factory = bytes
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table.decode()}"'):
                for value in row:
                    if isinstance(value, bytes):
                        text = value.decode("utf-8")  # raises on invalid UTF-8
                        assert not any(ord(c) < 32 and c != "\n" for c in text), (table, text)


def once(reply: bytes, verb: bytes, address: str | None = None) -> Any:
    """An ``answer`` giving ``reply`` to the first ``verb`` (for ``address``, if given)."""
    given: list[bool] = []

    def answer(session: Session, line: bytes) -> bytes | None:
        if given or not line.upper().startswith(verb):
            return None
        if address is not None and address.encode() not in line:
            return None
        given.append(True)
        return reply

    return answer


# -- reply texts of any bytes ----------------------------------------------------------------


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_a_latin1_refusal_fails_the_recipient_readably_and_the_run_goes_on(
    log: DeliveryLog, pipelining: bool
) -> None:
    answer = once(b"550 5.1.1 Adresse inconnue \xe9\r\n", b"RCPT", BAD)
    run, outgoing = plan_messages(log, addresses(4))
    with RawSMTPServer(answer, pipelining=pipelining) as server:
        report = send(outgoing, log, server, LIMITS.model_copy(update={"connections": 2}))
        bodies = len(server.messages)
    assert (report.sent, report.failed) == (3, 1)
    assert bodies == 3
    found = states(log, run.id)
    assert found.pop(BAD) == "failed"
    assert set(found.values()) == {"sent"}  # every other worker's outcome is in the file
    [bad] = [m for m in log.messages(run.id) if m.address == BAD]
    assert bad.reply_code == 550
    assert bad.reply_text == "RCPT TO: 550 5.1.1 Adresse inconnue é"
    assert log.attempts(bad.id)[-1].enhanced_code == "5.1.1"
    every_text_is_valid(log.where)


@pytest.mark.parametrize(
    ("reply", "readable"),
    [
        (
            b"550 5.1.1 nul\x00 bell\x07 esc\x1b[31m red\x7f\r\n",
            "nul\\x00 bell\\x07 esc\\x1b[31m red",
        ),
        (b"550 5.1.1 tab\there\r\n", "tab here"),
        (b"550 5.1.1 utf8 ok: \xc3\xa9t\xc3\xa9\r\n", "utf8 ok: été"),
        (b"550 5.1.1 c1 \xc2\x9b31m\r\n", "c1 \\x9b31m"),
        (b"550-5.1.1 caf\xe9\r\n550 5.1.1 \xe2\x82\xac ok\r\n", "café\n5.1.1 € ok"),
        (b"550 5.1.1 " + bytes(range(0x80, 0x100)) + b"\r\n", "5.1.1 "),
        (b"550 5.1.1 " + b"\xff" * (MAX_LINE - 20) + b"\r\n", "5.1.1 ÿÿÿ"),
        (b"550\r\n", ""),
    ],
    ids=["controls", "tab", "utf-8", "c1", "mixed-lines", "high-bytes", "long-line", "bare-code"],
)
def test_any_bytes_in_a_refusal_become_valid_text(
    log: DeliveryLog, reply: bytes, readable: str
) -> None:
    run, outgoing = plan_messages(log, addresses(3))
    with RawSMTPServer(once(reply, b"RCPT", BAD)) as server:
        report = send(outgoing, log, server)
    assert (report.sent, report.failed) == (2, 1)
    [bad] = [m for m in log.messages(run.id) if m.address == BAD]
    assert bad.status == "failed" and bad.reply_code == 550
    assert readable in (bad.reply_text or "")
    every_text_is_valid(log.where)


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
@pytest.mark.parametrize(
    "reply",
    [
        b"hello there\r\n",  # gibberish
        b" 5.1.1 no code\r\n",  # no code
        b"55 short code\r\n",
        b"5500 long code\r\n",
        b"999 5.1.1 not an SMTP code\r\n",
        b"150 5.1.1 not an SMTP code\r\n",
        b"354 go ahead\r\n",  # an invitation to send a body, in reply to RCPT TO
        b"550-5.1.1 one code\r\n451 4.0.0 then another\r\n",  # mixed codes
        b"550 5.1.1 " + b"x" * (MAX_LINE + 10) + b"\r\n",  # a line too long
        b"550-5.1.1 x\r\n" * 5000 + b"550 5.1.1 x\r\n",  # a reply too long
        b"\x00\xff\xfe\r\n",
    ],
    ids=[
        "gibberish", "no-code", "short-code", "long-code", "code-999", "code-150", "354-to-rcpt",
        "mixed-codes", "long-line", "long-reply", "binary",
    ],
)  # fmt: skip
def test_an_unreadable_reply_before_the_body_requeues_the_message(
    log: DeliveryLog, reply: bytes, pipelining: bool
) -> None:
    run, outgoing = plan_messages(log, addresses(3))
    with RawSMTPServer(once(reply, b"RCPT", BAD), pipelining=pipelining) as server:
        report = send(outgoing, log, server)
        bodies = [m for m in server.messages if BAD.encode() in m]
    # Never failed on a reply that is not a refusal: dropped, put back, sent on a new session.
    assert (report.sent, report.failed, report.unknown) == (3, 0, 0)
    assert set(states(log, run.id).values()) == {"sent"}
    assert len(bodies) == 1
    [bad] = [m for m in log.messages(run.id) if m.address == BAD]
    outcomes = [a.outcome for a in log.attempts(bad.id)]
    assert outcomes == ["requeued", "sent"]
    assert "nothing was sent" in (log.attempts(bad.id)[0].reply_text or "")
    every_text_is_valid(log.where)


def test_a_latin1_refusal_fails_the_recipient_and_resume_does_not_crash(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = "sam.okafor@river.example"
    with RawSMTPServer(lambda s, line: b"550 5.1.1 Adresse inconnue \xe9\r\n"
                       if bad.encode() in line else None) as server:  # fmt: skip
        files = write_campaign(tmp_path / "c", port=server.port)
        first = runner.invoke(app, ["send", str(files.campaign), "--yes"])
        again = runner.invoke(app, ["send", str(files.campaign), "--resume", "latest", "--yes"])
    for result in (first, again):
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert "Traceback" not in result.output
    assert first.exit_code == 3, first.output  # finished, with a failed message
    assert "Adresse inconnue é" in first.output
    assert again.exit_code in {0, 3}, again.output
    with sqlite3.connect(files.log) as conn:
        rows = dict(conn.execute("SELECT address, status FROM messages"))
        [text] = conn.execute("SELECT reply_text FROM messages WHERE address = ?", (bad,))
    assert rows.pop(bad) == "failed"
    assert set(rows.values()) == {"sent"}
    assert text == ("RCPT TO: 550 5.1.1 Adresse inconnue é",)
    every_text_is_valid(files.log)


# -- replies while opening a session (greeting, EHLO) ----------------------------------------


@pytest.mark.parametrize(
    "ehlo",
    [
        b"hello\r\n",
        b"250-relay.test\r\n250 " + b"x" * (MAX_LINE + 10) + b"\r\n",
        b"\xff\xfe\r\n",
    ],
    ids=["gibberish", "long-line", "binary"],
)
def test_an_unreadable_ehlo_reply_is_a_dropped_connection_not_a_crash(
    log: DeliveryLog, ehlo: bytes
) -> None:
    run, outgoing = plan_messages(log, addresses(2))
    with RawSMTPServer(once(ehlo, b"EHLO")) as server:
        report = send(outgoing, log, server)
    assert report.sent == 2
    assert set(states(log, run.id).values()) == {"sent"}


@pytest.mark.parametrize(
    "size",
    [b"\xc2\xb2", b"9" * 5000, b"-5", b"\xff"],
    ids=["superscript-two", "5000-digits", "negative", "binary"],
)
def test_an_unreadable_size_in_ehlo_is_no_fixed_limit_not_a_crash(
    log: DeliveryLog, size: bytes
) -> None:
    run, outgoing = plan_messages(log, addresses(2))
    ehlo = b"250-relay.test\r\n250-8BITMIME\r\n250 SIZE " + size + b"\r\n"

    def answer(session: Session, line: bytes) -> bytes | None:
        return ehlo if line.upper().startswith(b"EHLO") else None

    with RawSMTPServer(answer) as server:
        report = send(outgoing, log, server)
        commands = [c for s in server.sessions for c in s.commands]
    assert report.sent == 2
    assert set(states(log, run.id).values()) == {"sent"}
    assert all(b"SIZE=" in c for c in commands if c.startswith(b"MAIL"))


@pytest.mark.parametrize(
    "greeting",
    [
        b"hello there\r\n",
        b" ready\r\n",
        b"999 what\r\n",
        b"220 " + b"x" * (MAX_LINE + 10) + b"\r\n",
        b"220-x\r\n" * 6000 + b"220 x\r\n",
    ],
    ids=["gibberish", "no-code", "code-999", "long-line", "long-reply"],
)
def test_an_unreadable_greeting_is_retried_then_a_clear_connection_error(
    log: DeliveryLog, greeting: bytes
) -> None:
    run, outgoing = plan_messages(log, addresses(2))
    with (
        RawSMTPServer(greeting=greeting) as server,
        pytest.raises(SMTPConnectionError, match="giving up after") as caught,
    ):
        send(outgoing, log, server)
    assert "protocol error" in str(caught.value)
    assert len(server.sessions) == 4  # retried like a dropped connection, then given up
    assert set(states(log, run.id).values()) == {"ready"}


def test_a_latin1_refusal_at_the_greeting_is_a_readable_error(log: DeliveryLog) -> None:
    _, outgoing = plan_messages(log, addresses(1))
    with (
        RawSMTPServer(greeting=b"554 5.7.1 Acc\xe8s refus\xe9 \x1b[31m\r\n") as server,
        pytest.raises(SendError) as caught,
    ):
        send(outgoing, log, server)
    message = str(caught.value)
    message.encode("utf-8")  # valid text: it can be printed and stored
    assert "Accès refusé \\x1b[31m" in message
    assert caught.value.reply is not None and "\x1b" not in caught.value.reply


# -- 2xx to DATA, extra replies: protocol errors, never a refusal -------------------------


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_a_250_reply_to_data_drops_the_connection_and_keeps_the_message(
    log: DeliveryLog, pipelining: bool
) -> None:
    run, outgoing = plan_messages(log, addresses(3))
    answer = once(b"250 2.0.0 ok\r\n", b"DATA")
    with RawSMTPServer(answer, pipelining=pipelining) as server:
        report = send(outgoing, log, server)
        first = server.sessions[0]
        sessions = len(server.sessions)
        bodies = server.messages
    # The first message's DATA got 250: no body was sent on that session, which was dropped.
    assert first.body == [] and b"QUIT" not in first.verbs()
    assert sessions == 2
    assert (report.sent, report.failed, report.unknown) == (3, 0, 0)
    assert len(bodies) == 3
    [row] = [m for m in log.messages(run.id) if m.address == outgoing[0].recipient]
    attempts = log.attempts(row.id)
    assert [a.outcome for a in attempts] == ["requeued", "sent"]
    assert "protocol error" in (attempts[0].reply_text or "")
    assert "250" in (attempts[0].reply_text or "")


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_a_relay_that_always_answers_250_to_data_stops_the_run_with_nothing_sent(
    log: DeliveryLog, pipelining: bool
) -> None:
    run, outgoing = plan_messages(log, addresses(2))

    def answer(session: Session, line: bytes) -> bytes | None:
        return b"250 2.0.0 ok\r\n" if line.upper().startswith(b"DATA") else None

    with (
        RawSMTPServer(answer, pipelining=pipelining) as server,
        pytest.raises(SMTPConnectionError, match="protocol error"),
    ):
        send(outgoing, log, server)
    assert server.body_lines == []
    assert set(states(log, run.id).values()) == {"ready"}  # never failed, sent or unknown


def test_an_extra_reply_before_the_354_on_a_pipelining_relay_sends_nothing(
    log: DeliveryLog,
) -> None:
    # MAIL FROM answered twice: RCPT TO gets the extra reply, DATA gets RCPT TO's 250.
    run, outgoing = plan_messages(log, addresses(3))
    answer = once(b"250 2.1.0 ok\r\n250 2.1.0 ok again\r\n", b"MAIL")
    with RawSMTPServer(answer, pipelining=True) as server:
        report = send(outgoing, log, server)
        first = server.sessions[0]
        bodies = server.messages
    assert first.body == []
    assert (report.sent, report.failed, report.unknown) == (3, 0, 0)
    assert sorted(bodies) == sorted(set(bodies)) and len(bodies) == 3
    [row] = [m for m in log.messages(run.id) if m.address == outgoing[0].recipient]
    assert [a.outcome for a in log.attempts(row.id)] == ["requeued", "sent"]


@pytest.mark.parametrize("pipelining", [False, True], ids=["one-by-one", "pipelining"])
def test_an_extra_reply_after_the_354_sends_no_body(log: DeliveryLog, pipelining: bool) -> None:
    # The 354 and an unsolicited reply in one write: the body would be answered by the stray.
    run, outgoing = plan_messages(log, addresses(3))
    answer = once(b"354 go ahead\r\n250 2.0.0 stray\r\n", b"DATA")
    with RawSMTPServer(answer, pipelining=pipelining) as server:
        report = send(outgoing, log, server)
        first = server.sessions[0]
        bodies = server.messages
    assert first.body == []  # no body byte on the session that was out of step
    assert (report.sent, report.failed, report.unknown) == (3, 0, 0)
    assert len(bodies) == 3
    [row] = [m for m in log.messages(run.id) if m.address == outgoing[0].recipient]
    attempts = log.attempts(row.id)
    assert [a.outcome for a in attempts] == ["requeued", "sent"]
    assert "protocol error" in (attempts[0].reply_text or "")


def test_an_extra_reply_to_mail_without_pipelining_sends_no_body(log: DeliveryLog) -> None:
    _, outgoing = plan_messages(log, addresses(2))
    answer = once(b"250 2.1.0 ok\r\n250 2.1.0 ok again\r\n", b"MAIL")
    with RawSMTPServer(answer) as server:
        report = send(outgoing, log, server)
        first = server.sessions[0]
    assert first.body == []
    assert (report.sent, report.failed, report.unknown) == (2, 0, 0)
