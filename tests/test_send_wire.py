"""The hand-written transaction layer (`distrib.send.wire`): PIPELINING against real servers
(aiosmtpd advertising it, Postfix's smtp-sink when installed), replies that must never be
mis-paired, unreadable replies, and the body's fast path against the regex one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtplib.email import parse_address
from hypothesis import given
from hypothesis import strategies as st

from distrib.addrspec import PLAIN_ADDRESS
from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, open_log
from distrib.send import send_messages
from distrib.send.transport import BadAddress, Connection, Dropped, check_address, wire_body
from distrib.send.wire import MAX_LINE, command_line
from smtp_server import SMTPTestServer, plan_messages

FAST = LimitsConfig(rate=0, connections=1, retries=0, retry_delay=0, pause_after=0)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def addresses(n: int) -> list[str]:
    return [f"journaliste{i}@redaction.example" for i in range(n)]


def send(outgoing: Any, log: DeliveryLog, smtp: SMTPConfig, limits: LimitsConfig = FAST) -> Any:
    return asyncio.run(send_messages(outgoing, log=log, smtp=smtp, limits=limits, password=None))


# -- PIPELINING with a real server ------------------------------------------------------------


def test_pipelined_envelopes_pair_every_reply_with_its_command(
    make_smtp_server: Any, log: DeliveryLog
) -> None:
    server: SMTPTestServer = make_smtp_server(pipelining=True)
    bad, slow = "journaliste2@redaction.example", "journaliste4@redaction.example"
    server.script("RCPT", "550 5.1.1 <x>: no such user", address=bad)
    server.script("MAIL", "451 4.3.0 try later", times=1)  # the first MAIL FROM
    server.script("RCPT", delay=0.05, address=slow)  # a slow reply must not shift the others
    run, outgoing = plan_messages(log, addresses(6))
    report = send(outgoing, log, server.smtp_config(), FAST.model_copy(update={"connections": 2}))
    states = {m.address: m.status for m in log.messages(run.id)}
    assert states.pop(bad) == "failed"
    assert states.pop(outgoing[0].recipient) == "deferred"  # MAIL FROM refused, not retried
    assert set(states.values()) == {"sent"}
    assert (report.sent, report.failed, report.deferred) == (4, 1, 1)
    got = {m.rcpt_tos[0]: m.data for m in server.messages}
    assert set(got) == set(states)
    for out in outgoing:
        if out.recipient in got:
            assert got[out.recipient].replace(b"\r\n", b"\n") == out.data.replace(b"\r\n", b"\n")
    [refused] = [m for m in log.messages(run.id) if m.address == bad]
    assert refused.reply_code == 550 and "no such user" in (refused.reply_text or "")


def test_a_pipelined_data_refused_or_dropped_sends_nothing_and_loses_nothing(
    make_smtp_server: Any, log: DeliveryLog
) -> None:
    server: SMTPTestServer = make_smtp_server(pipelining=True)
    server.script("DATA", "554 5.7.1 refused", times=1)  # the first message's DATA
    server.script("DATA", disconnect=True, times=1)  # the second's: the connection drops
    run, outgoing = plan_messages(log, addresses(4))
    limits = FAST.model_copy(update={"retries": 1, "retry_delay": 0})
    report = send(outgoing, log, server.smtp_config(), limits)
    states = {m.address: m.status for m in log.messages(run.id)}
    assert states[outgoing[0].recipient] == "failed"
    assert [states[o.recipient] for o in outgoing[1:]] == ["sent"] * 3  # requeued, then sent
    assert report.sent == 3 and report.failed == 1 and report.unknown == 0
    got = [m.rcpt_tos[0] for m in server.messages]
    assert sorted(got) == sorted(o.recipient for o in outgoing[1:])  # each once
    [refused] = [m for m in log.messages(run.id) if m.address == outgoing[0].recipient]
    assert refused.reply_code == 554


@contextlib.asynccontextmanager
async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    """A hand-scripted SMTP server on 127.0.0.1 (for replies aiosmtpd cannot be made to send);
    yields its port, and on the way out waits for every session to end."""
    sessions: list[asyncio.Task[None]] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sessions.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            with contextlib.suppress(ConnectionError):  # the client hung up on us
                await handle(reader, writer)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
        await asyncio.wait_for(asyncio.gather(*sessions, return_exceptions=True), 5)


def _pipelining_relay(*, refuse_rcpt: bool = False, seen: list[bytes]) -> Any:
    """A relay offering PIPELINING that answers MAIL FROM only once RCPT TO *and* DATA are
    here (a client waiting for a reply before writing the next command would time out).
    ``refuse_rcpt``: 550 to RCPT TO, and yet 354 to DATA (out of step, as a broken relay)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 relay.test ESMTP\r\n")
        while line := await reader.readline():
            seen.append(line)
            if line.startswith(b"EHLO"):
                writer.write(b"250-relay.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif line.startswith(b"MAIL"):
                seen.extend([await reader.readline(), await reader.readline()])  # RCPT, DATA
                rcpt = b"550 5.1.1 no such user" if refuse_rcpt else b"250 2.1.5 ok"
                writer.write(b"250 2.1.0 ok\r\n" + rcpt + b"\r\n354 go ahead\r\n")
                if refuse_rcpt:
                    continue
                while (body := await reader.readline()) != b".\r\n":
                    if not body:
                        return  # the client hung up
                    seen.append(body)
                writer.write(b"250 2.0.0 queued as 7A\r\n")
            elif line.startswith(b"RSET"):
                writer.write(b"250 ok\r\n")
            elif line.startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                break
        await writer.drain()

    return handle


def test_mail_rcpt_and_data_leave_together_and_the_body_follows_354(
    tmp_path: Path, log: DeliveryLog
) -> None:
    seen: list[bytes] = []
    run, outgoing = plan_messages(log, addresses(3))

    async def go() -> Any:
        async with raw_server(_pipelining_relay(seen=seen)) as port:
            return await send_messages(
                outgoing, log=log, smtp=_smtp(port, timeout=2), limits=FAST, password=None
            )

    report = asyncio.run(go())
    assert report.sent == 3
    assert {m.status for m in log.messages(run.id)} == {"sent"}
    assert seen.count(b"DATA\r\n") == 3
    assert [m.reply_text for m in log.messages(run.id)] == ["2.0.0 queued as 7A"] * 3


def test_a_relay_that_invites_a_body_after_refusing_the_recipient_gets_none(
    tmp_path: Path, log: DeliveryLog
) -> None:
    seen: list[bytes] = []
    run, outgoing = plan_messages(log, addresses(2))

    async def go() -> Any:
        handler = _pipelining_relay(refuse_rcpt=True, seen=seen)
        async with raw_server(handler) as port:
            return await send_messages(
                outgoing, log=log, smtp=_smtp(port, timeout=2), limits=FAST, password=None
            )

    report = asyncio.run(go())
    assert report.failed == 2 and report.sent == 0
    for message in log.messages(run.id):
        assert message.status == "failed" and message.reply_code == 550
    # No body line and no RSET (it would be read as the body): the connection was dropped.
    assert not any(line.startswith((b"Subject", b"RSET")) for line in seen)
    assert seen.count(b"EHLO client.test\r\n") == 2  # a new session for the second message


def _smtp(port: int, **extra: Any) -> SMTPConfig:
    return SMTPConfig(
        host="127.0.0.1", port=port, security="none", local_hostname="client.test", **extra
    )


def _scripted(lines: dict[bytes, bytes]) -> Callable[..., Awaitable[None]]:
    """A raw SMTP server answering each command (by its first word, ``.`` for the end of the
    body) with fixed bytes; ``|`` in them marks where a packet ends."""

    async def push(writer: asyncio.StreamWriter, reply: bytes) -> None:
        for chunk in reply.split(b"|"):
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.01)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await push(writer, b"220 relay.test ESMTP\r\n")
        while line := await reader.readline():
            verb = line.split(b" ")[0].strip().upper()
            usual = {b"QUIT": b"221 bye\r\n", b"DATA": b"354 go ahead\r\n"}
            reply = lines.get(verb, usual.get(verb, b"250 OK\r\n"))
            await push(writer, reply)
            if verb == b"QUIT":
                return
            if verb == b"DATA" and reply.startswith(b"354"):
                while await reader.readline() not in {b".\r\n", b""}:
                    pass
                await push(writer, lines.get(b".", b"250 queued\r\n"))

    return handle


def _one_message(lines: dict[bytes, bytes], timeout: float = 2) -> list[Any]:
    """Open a session on a scripted server and run one whole transaction; return what each
    step gave (a reply, or the exception)."""

    async def go() -> list[Any]:
        steps: list[Any] = []
        async with raw_server(_scripted(lines)) as port:
            conn = Connection(_smtp(port, timeout=timeout, data_timeout=timeout), password=None,
                              tls=None)  # fmt: skip
            await conn.open()
            try:
                steps.append(await conn.envelope("a@b.example", "c@d.example", options=[],
                                                 utf8=False))  # fmt: skip
                steps.append(await conn.data_command())
                steps.append(await conn.data_body(b"Subject: x\r\n\r\nbody\r\n"))
            except Dropped as exc:
                steps.append(exc)
            steps.append(conn.is_open)
            await conn.close()
        return steps

    return asyncio.run(go())


def test_a_multiline_reply_split_across_packets_is_one_reply() -> None:
    steps = _one_message({
        b"EHLO": b"250-relay.test\r\n250 PIPELINING\r\n",
        b"DATA": b"354 go|\r\n",
        b".": b"250-2.0.0 queued|\r\n250-as 4XyZ|\r\n250 thanks\r\n",
    })  # fmt: skip
    envelope, data, dot, still_open = steps
    assert [r.code for r in envelope] == [250, 250]
    assert data.code == 354
    assert dot.code == 250 and dot.text == "2.0.0 queued\nas 4XyZ\nthanks"
    assert still_open


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (b"hello there\r\n", "not an SMTP reply"),
        (b"250-2.0.0 ok\r\n451 mixed codes\r\n", "different codes"),
        (b"250 " + b"x" * (MAX_LINE + 10) + b"\r\n", "too long"),
    ],
)
def test_an_unreadable_reply_to_the_dot_is_unknown_never_a_guess(reply: bytes, why: str) -> None:
    steps = _one_message({b"EHLO": b"250 relay.test\r\n", b".": reply})
    dropped = steps[-2]
    assert isinstance(dropped, Dropped) and dropped.body_sent
    assert why in str(dropped)
    assert steps[-1] is False  # the session is out of step: never reused


def test_a_reply_read_with_an_unreadable_one_is_still_given_and_the_session_drops_at_once() -> None:
    """The reply to MAIL FROM and a garbled reply to RCPT TO in one packet: the first is
    read, then the session is dropped for the second at once (it waited for its whole
    timeout, then said "no reply in time")."""

    async def go() -> Any:
        lines = {b"EHLO": b"250-relay.test\r\n250 PIPELINING\r\n", b"MAIL": b"",
                 b"RCPT": b"250 2.1.0 sender ok\r\nhello there\r\n"}  # fmt: skip
        async with raw_server(_scripted(lines)) as port:
            conn = Connection(_smtp(port, timeout=20), password=None, tls=None)
            await conn.open()
            try:
                await conn.envelope_and_data("a@b.example", "c@d.example", options=[],
                                             utf8=False)  # fmt: skip
            except Dropped as exc:
                return exc, conn.is_open
            finally:
                await conn.close()
        return None, None

    dropped, still_open = asyncio.run(go())
    assert isinstance(dropped, Dropped) and not dropped.body_sent
    assert "not an SMTP reply" in str(dropped), str(dropped)
    assert still_open is False


def test_no_reply_in_time_drops_the_session() -> None:
    steps = _one_message({b"EHLO": b"250 relay.test\r\n", b"DATA": b"|"}, timeout=0.3)
    dropped = steps[-2]
    assert isinstance(dropped, Dropped) and not dropped.body_sent
    assert "timed out" in str(dropped) and "before 354" in str(dropped)


def test_a_stray_reply_between_transactions_is_never_taken_for_the_next_one() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 relay.test\r\n")
        while line := await reader.readline():
            if line.startswith(b"EHLO"):
                # A confused server: the EHLO reply, then a stray "250" nobody asked for.
                writer.write(b"250 relay.test\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b"250 2.1.0 stray\r\n")
            elif line.startswith(b"MAIL"):
                writer.write(b"553 5.7.1 sender refused\r\n")
            elif line.startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                break
            await writer.drain()
        writer.close()

    async def go() -> Any:
        async with raw_server(handle) as port:
            conn = Connection(_smtp(port, timeout=2), password=None, tls=None)
            await conn.open()
            await asyncio.sleep(0.2)  # the stray reply arrives while nothing is asked
            mail, _ = await conn.envelope("a@b.example", "c@d.example", options=[], utf8=False)
            await conn.close()
            return mail

    assert asyncio.run(go()).code == 553  # the reply to MAIL FROM, not the stray 250


def test_a_command_line_never_holds_a_control_character() -> None:
    assert command_line(b"RCPT", b"TO:<a@b.example>") == b"RCPT TO:<a@b.example>\r\n"
    for bad in (b"TO:<a@b.example>\r\nDATA", b"TO:<a\x00@b.example>", b"TO:<a@b\n>"):
        with pytest.raises(ValueError, match="control character"):
            command_line(b"RCPT", bad)


# -- Postfix's smtp-sink, when installed ------------------------------------------------------


@pytest.fixture
def smtp_sink() -> Iterator[int]:
    sink = shutil.which("smtp-sink") or (
        "/usr/sbin/smtp-sink" if Path("/usr/sbin/smtp-sink").exists() else None
    )
    if sink is None:
        pytest.skip("Postfix's smtp-sink is not installed (Debian package postfix)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([sink, *user, f"127.0.0.1:{port}", "100"])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_pipelined_sending_to_postfix_smtp_sink(smtp_sink: int, log: DeliveryLog) -> None:
    run, outgoing = plan_messages(log, addresses(60))
    limits = FAST.model_copy(update={"connections": 4})
    report = send(outgoing, log, _smtp(smtp_sink, timeout=10), limits)
    assert report.sent == 60
    assert {m.status for m in log.messages(run.id)} == {"sent"}


# -- the body ---------------------------------------------------------------------------------


def _reference(data: bytes) -> bytes:
    """The regex version (what wire_body did before its fast path)."""
    body = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", body) + b".\r\n"


@given(st.lists(st.sampled_from([b"a", b"\xc3\xa9", b".", b"\r", b"\n", b"\r\n", b" "])))
def test_the_body_fast_path_gives_the_same_bytes(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert wire_body(data) == _reference(data)


def test_a_line_starting_with_a_dot_is_stuffed_on_the_fast_path_too() -> None:
    data = b"Subject: x\r\n\r\n.example=\r\n.b\r\n.\r\n"
    assert wire_body(data) == b"Subject: x\r\n\r\n..example=\r\n..b\r\n..\r\n.\r\n"
    assert wire_body(b".a\r\n") == b"..a\r\n.\r\n" == _reference(b".a\r\n")


@given(st.from_regex(PLAIN_ADDRESS, fullmatch=True))
def test_the_plain_address_shortcut_agrees_with_the_library(address: str) -> None:
    """What check_address accepts without parsing, aiosmtplib's parser returns unchanged."""
    assert parse_address(address) == address


@pytest.mark.parametrize(
    "address",
    ["a@b.example", "x.y+z@m\u00e9dia.example", '"q r"@b.example', "a@[127.0.0.1]"],
)
def test_check_address_accepts_what_the_library_keeps(address: str) -> None:
    check_address(address)  # the shortcut or the parser: both accept these


@pytest.mark.parametrize(
    "address",
    ["a@b.example\r\nRCPT TO:<x@y>", "a@b.example>", "<a@b.example>", "a b@c.example", "a,b@c"],
)
def test_check_address_refuses_what_cannot_go_on_a_command_line(address: str) -> None:
    with pytest.raises(BadAddress):
        check_address(address)


def test_a_rendered_message_takes_the_fast_path_unchanged() -> None:
    data = b"Subject: x\r\n\r\nline one\r\nline two\r\n"
    assert wire_body(data) == data + b".\r\n"
    assert wire_body(b"") == b"\r\n.\r\n" == _reference(b"")
