"""`distrib sink`: real messages sent with aiosmtplib to a CaptureSink on 127.0.0.1."""

from __future__ import annotations

import asyncio
import mailbox
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import aiosmtplib
import pytest

from distrib.sink import CaptureSink, SinkError, run_sink


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def sink(tmp_path: Path, lines: list[str]) -> Iterator[CaptureSink]:
    with CaptureSink(tmp_path / "mail" / "captured", port=0, on_message=lines.append) as started:
        yield started


def message(to: str, subject: str, body: str = "Bonjour\n") -> EmailMessage:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = "Service de presse <press@example.org>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def deliver(
    port: int,
    msg: EmailMessage | bytes,
    sender: str,
    recipients: list[str],
    *,
    utf8: bool = False,
) -> None:
    async def go() -> None:
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1", port=port, start_tls=False, local_hostname="client.test"
        ) as client:
            if isinstance(msg, bytes):
                options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
                await client.sendmail(sender, recipients, msg, mail_options=options)
            else:
                await client.send_message(msg, sender=sender, recipients=recipients)

    asyncio.run(go())


def stored(sink: CaptureSink) -> list[bytes]:
    box = mailbox.Maildir(sink.maildir, factory=None, create=False)
    return [box.get_bytes(key) for key in box.iterkeys()]


def test_each_message_lands_in_the_maildir_with_its_envelope(
    sink: CaptureSink, lines: list[str]
) -> None:
    msg = message("zoe@example.org", "Lancement du rapport annuel")
    deliver(sink.port, msg, "bounces@example.org", ["zoe@example.org", "copy@example.net"])

    assert sink.maildir.joinpath("new").is_dir() and sink.maildir.joinpath("cur").is_dir()
    [raw] = stored(sink)
    head, _, body = raw.partition(b"\n\n")
    header_lines = head.split(b"\n")
    assert header_lines[0] == b"Return-Path: <bounces@example.org>"
    assert b"Delivered-To: zoe@example.org" in header_lines
    assert b"Delivered-To: copy@example.net" in header_lines
    assert b"Subject: Lancement du rapport annuel" in header_lines
    assert body == b"Bonjour\n"
    assert b"\r\n" not in raw

    [captured] = sink.captured
    assert captured.rcpt_tos == ("zoe@example.org", "copy@example.net")
    assert lines == [captured.summary]
    assert "bounces@example.org -> zoe@example.org, copy@example.net" in lines[0]
    assert "Lancement du rapport annuel" in lines[0]
    assert f"({captured.size:,} bytes)" in lines[0]


def test_an_encoded_non_ascii_subject_is_shown_decoded(sink: CaptureSink, lines: list[str]) -> None:
    subject = "Communiqué : l’été à Québec"
    msg = message("zoe@example.org", subject)
    assert b"=?utf-8?" in bytes(msg)  # really encoded on the wire
    deliver(sink.port, msg, "press@example.org", ["zoe@example.org"])
    assert subject in lines[0]
    assert sink.captured[0].subject == subject


def test_smtputf8_and_8bit_bodies_are_accepted_unchanged(
    sink: CaptureSink, lines: list[str]
) -> None:
    raw = (
        "From: presse@example.org\r\nTo: zoé@exemple.fr\r\nSubject: Été\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
        "\r\nVoilà, déjà.\r\n"
    ).encode()
    deliver(sink.port, raw, "presse@example.org", ["zoé@exemple.fr"], utf8=True)
    [stored_raw] = stored(sink)
    assert "Delivered-To: zoé@exemple.fr".encode() in stored_raw
    assert stored_raw.endswith(raw.replace(b"\r\n", b"\n"))
    assert sink.captured[0].rcpt_tos == ("zoé@exemple.fr",)
    assert "“Été”" in lines[0]


def test_a_message_above_aiosmtpds_default_limit_is_accepted(sink: CaptureSink) -> None:
    head = b"From: press@example.org\r\nTo: zoe@example.org\r\nSubject: Dossier\r\n\r\n"
    raw = head + b"x" * 998 + b"\r\n" * 1 + (b"y" * 998 + b"\r\n") * 34_000  # ~34 MB > 32 MiB
    deliver(sink.port, raw, "press@example.org", ["zoe@example.org"])
    assert sink.captured[0].size == len(raw)


def test_control_characters_never_reach_the_summary(sink: CaptureSink, lines: list[str]) -> None:
    raw = (
        b"From: press@example.org\r\nTo: zoe@example.org\r\n"
        b"Subject: =?utf-8?q?Hi=1B[31mred=0Aline?=\r\n\r\nbody\r\n"
    )
    deliver(sink.port, raw, "press@example.org", ["zoe@example.org"])
    assert "\x1b" not in lines[0] and "\n" not in lines[0]
    assert "Hi?[31mred?line" in lines[0]


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SinkError, match=f"cannot listen on 127.0.0.1:{port}"):
            CaptureSink(tmp_path / "box", port=port).start()


def test_a_maildir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    clash = tmp_path / "box"
    clash.write_text("not a folder")
    with pytest.raises(SinkError, match="cannot use as a Maildir"):
        CaptureSink(clash, port=0).start()


def test_run_sink_serves_until_stopped(tmp_path: Path) -> None:
    stop = threading.Event()
    ready = threading.Event()
    where: list[tuple[str, int]] = []
    lines: list[str] = []
    result: list[int] = []

    def on_ready(host: str, port: int) -> None:
        where.append((host, port))
        ready.set()

    def serve() -> None:
        result.append(
            run_sink(
                maildir=tmp_path / "box",
                port=0,
                on_message=lines.append,
                on_ready=on_ready,
                stop=stop,
            )
        )

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert ready.wait(10)
        host, port = where[0]
        deliver(port, message("zoe@example.org", "Un"), "press@example.org", ["zoe@example.org"])
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert result == [1] and len(lines) == 1
    assert host == "127.0.0.1" and port > 0
