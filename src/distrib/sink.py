"""`distrib sink`: a local SMTP server that captures every message in a Maildir.

Nothing is ever relayed: every message, for any recipient, is stored and acknowledged.  Each
stored message starts with ``Return-Path:`` (the envelope sender) and one ``Delivered-To:`` per
envelope recipient, so a reader can tell who it was for, whatever the headers say.
"""

from __future__ import annotations

import asyncio
import email.policy
import mailbox
import re
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from pathlib import Path
from types import FrameType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from distrib.errors import SinkError

__all__ = [
    "DEFAULT_PORT",
    "MAX_MESSAGE_SIZE",
    "CaptureSink",
    "CapturedMessage",
    "SinkError",
    "run_sink",
]

DEFAULT_PORT = 2525
MAX_MESSAGE_SIZE = 50 * 1024 * 1024
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One message the sink stored."""

    key: str
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    size: int

    @property
    def summary(self) -> str:
        """Return the one-line summary printed by ``distrib sink``."""
        to = ", ".join(self.rcpt_tos)
        return (
            f"{self.received_at:%H:%M:%S}  {self.mail_from or '<>'} -> {to}"
            f"  “{self.subject}”  ({self.size:,} bytes)"
        )

    def __str__(self) -> str:
        return self.summary


def _printable(text: str) -> str:
    # Message data is untrusted: no terminal escape sequence or line break reaches the screen.
    return _UNPRINTABLE.sub("?", text)


def _subject(data: bytes) -> str:
    try:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(data)
        subject = headers.get("subject")
    except Exception:  # a malformed message is still captured, just without a subject
        return "(unreadable subject)"
    return _printable(str(subject)) if subject is not None else "(no subject)"


def _envelope_lines(mail_from: str, rcpt_tos: tuple[str, ...], now: datetime) -> bytes:
    lines = [f"Return-Path: <{_printable(mail_from)}>"]
    lines += [f"Delivered-To: {_printable(rcpt)}" for rcpt in rcpt_tos]
    lines.append(f"X-Distrib-Captured: {now.isoformat(timespec='seconds')}")
    return ("\n".join(lines) + "\n").encode("utf-8")


class _Handler:
    """Store every message in the Maildir and report it; never relay."""

    def __init__(self, maildir: mailbox.Maildir, on_message: Callable[[str], None] | None) -> None:
        self.maildir = maildir
        self.on_message = on_message
        self.captured: list[CapturedMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content
        if not isinstance(data, bytes):
            return "451 4.3.0 Nothing to store"
        now = datetime.now().astimezone()
        mail_from = envelope.mail_from or ""
        rcpt_tos = tuple(envelope.rcpt_tos)
        # Maildir files use LF line endings, like the local mail tools that read them.
        stored = _envelope_lines(mail_from, rcpt_tos, now) + data.replace(b"\r\n", b"\n")
        try:
            key = self.maildir.add(stored)
        except OSError as exc:
            return f"451 4.3.0 Cannot store the message: {exc.strerror or exc}"
        captured = CapturedMessage(
            key=key,
            received_at=now,
            mail_from=_printable(mail_from),
            rcpt_tos=tuple(_printable(r) for r in rcpt_tos),
            subject=_subject(data),
            size=len(data),
        )
        with self.lock:
            self.captured.append(captured)
        if self.on_message is not None:
            self.on_message(captured.summary)
        return f"250 2.0.0 Captured as {key}"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        # With port 0 the OS picks the port: learn it before the base class probes the server.
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class CaptureSink:
    """The capture server, running in its own thread.  Use as a context manager.

    ``on_message`` is called with each message's one-line summary, from the server's thread.
    """

    def __init__(
        self,
        maildir: str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        on_message: Callable[[str], None] | None = None,
        data_size_limit: int = MAX_MESSAGE_SIZE,
    ) -> None:
        self.maildir = Path(maildir)
        self._host = host
        self._requested_port = port
        self._on_message = on_message
        self._data_size_limit = data_size_limit
        self._controller: _Controller | None = None
        self._handler: _Handler | None = None

    @property
    def host(self) -> str:
        """Return the address the sink listens on."""
        return self._host

    @property
    def port(self) -> int:
        """Return the port the sink listens on (the one the OS chose when asked for 0)."""
        if self._controller is None:
            return self._requested_port
        return int(self._controller.port)

    @property
    def captured(self) -> list[CapturedMessage]:
        """Return every message captured since `start`, in order."""
        if self._handler is None:
            return []
        with self._handler.lock:
            return list(self._handler.captured)

    def start(self) -> Self:
        """Create the Maildir if needed and start listening."""
        if self._controller is not None:
            raise RuntimeError("the sink is already running")
        try:
            # mailbox.Maildir(create=True) skips tmp/new/cur when the folder already exists.
            for sub in ("tmp", "new", "cur"):
                (self.maildir / sub).mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(self.maildir, factory=None, create=False)
        except OSError as exc:
            raise SinkError(f"{self.maildir}: cannot use as a Maildir: {exc.strerror}") from None
        _check_free(self._host, self._requested_port)
        self._handler = _Handler(box, self._on_message)
        smtp_options: dict[str, Any] = {
            "server_hostname": "distrib-sink",
            "ident": "distrib sink (captures, never relays)",
            "enable_SMTPUTF8": True,
            "decode_data": False,  # keep the bytes exactly, and offer 8BITMIME
            "data_size_limit": self._data_size_limit,
        }
        controller = _Controller(
            self._handler, hostname=self._host, port=self._requested_port, **smtp_options
        )
        try:
            controller.start()
        except OSError as exc:
            controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()  # the thread gave up before closing it
            where = f"{self._host}:{self._requested_port}"
            raise SinkError(f"cannot listen on {where}: {exc.strerror or exc}") from None
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _check_free(host: str, port: int) -> None:
    """Fail fast and clearly when the address is taken (aiosmtpd would wait its full timeout)."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            # The same option asyncio's create_server sets, so only a live listener conflicts.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise SinkError(f"cannot listen on {where}: {exc.strerror or exc}") from None


def run_sink(
    *,
    maildir: str | Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    on_message: Callable[[str], None] | None = None,
    on_ready: Callable[[str, int], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the sink until Ctrl-C, SIGTERM or ``stop`` is set; return how many messages it took."""
    done = stop if stop is not None else threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous: Any = None
    if in_main:

        def on_term(signum: int, frame: FrameType | None) -> None:
            done.set()

        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with CaptureSink(maildir, host=host, port=port, on_message=on_message) as sink:
            if on_ready is not None:
                on_ready(sink.host, sink.port)
            try:
                while not done.wait(0.2):
                    pass
            except KeyboardInterrupt:
                pass
            return len(sink.captured)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
