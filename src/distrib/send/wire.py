"""The commands of a mail transaction, written and read on the socket directly.

aiosmtplib opens every session (connection, STARTTLS, EHLO, AUTH: the policy lives there and
in `distrib.send.transport`); then this protocol takes the transport over for the
transactions themselves: MAIL FROM, RCPT TO, DATA, the body, RSET and QUIT.  Hand-written,
because of two things aiosmtplib cannot do and that decide the speed of a send (issue 7,
measured on 127.0.0.1 against Postfix's smtp-sink, 8 connections):

- **PIPELINING** (RFC 2920): MAIL FROM and RCPT TO leave in one write and their replies are
  read together.  aiosmtplib reads exactly one reply per command and ignores replies that
  arrive together (its documentation says so).  One round trip less per message: 2,300 →
  4,000 messages per second with a bare loop;
- **per-command cost**: aiosmtplib re-parses each address with ``email.utils.parseaddr`` at
  every command, takes a lock and an ``asyncio.wait_for`` per reply; here an address is
  checked once (`distrib.send.transport.check_address`), a reply waits on one future with one
  timer, and the body needs no second copy.

The rules it keeps: a reply is a 3-digit code from 200 to 599 and text, possibly on several
``NNN-`` lines with the same code; a line over 8,192 bytes, a reply over 32 KB, a line without
such a code or lines with different codes are unreadable, and the session is dropped (never
guessed from).  The text of a reply is made by `distrib.send.replies.Scrubber` (any bytes become
valid text; credentials are redacted).  Replies nobody asked for are dropped, so they can never
be taken for the reply to the next command, and counted (``strays``): the connection checks,
before it writes a body, that none came during the transaction.  A command line never holds a
control character: it is refused before anything is written.  Tested against the
aiosmtpd test server with and without PIPELINING, and against smtp-sink when installed.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque

from distrib.send.policy import Reply
from distrib.send.replies import Scrubber

__all__ = ["MAX_LINE", "MAX_REPLY", "Lost", "Unreadable", "Wire", "command_line"]

#: The longest reply line accepted (RFC 5321 says 512; servers are generous).
MAX_LINE = 8192
#: The longest reply accepted, all its lines together.
MAX_REPLY = MAX_LINE * 4
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


class Lost(Exception):
    """The connection is gone, or a reply did not come in time (``timeout``)."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        self.timeout = timeout
        super().__init__(message)


class Unreadable(Lost):
    """The server sent something that is not an SMTP reply."""


def command_line(verb: bytes, *args: bytes) -> bytes:
    """Join a command and its arguments into one line; refuse control characters in them."""
    line = b" ".join((verb, *args))
    if _CONTROL.search(line):
        raise ValueError("an SMTP command may not hold a control character")
    return line + b"\r\n"


class Wire(asyncio.Protocol):
    """Replies in order, for commands written in order; one session's transactions."""

    def __init__(self, transport: asyncio.Transport, scrub: Scrubber | None = None) -> None:
        self.transport: asyncio.Transport | None = transport
        self._scrub = scrub or Scrubber()
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a reply being received
        self._code = 0
        self._size = 0
        self._replies: deque[Reply] = deque()
        self._expected = 0  # replies owed for commands written
        self._waiter: asyncio.Future[None] | None = None
        self._gone: Lost | None = None
        self.strays = 0  # replies nobody asked for, since the caller last set it to 0
        self.closed = self._loop.create_future()  # done once the socket is closed
        transport.set_protocol(self)

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse()
        except Unreadable as exc:
            self._fail(exc)
            if self.transport is not None:
                self.transport.abort()
            return
        if self._replies:
            self._wake()

    def eof_received(self) -> bool:
        self._fail(Lost("the server closed the connection"))
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(Lost("connection lost" + (f" ({exc})" if exc else "")))
        self.transport = None
        if not self.closed.done():
            self.closed.set_result(None)

    # -- use ----------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Tell whether commands can still be written."""
        return (
            self._gone is None and self.transport is not None and not (self.transport.is_closing())
        )

    def send(self, data: bytes, replies: int) -> None:
        """Write ``data`` (whole command lines, or a body and its final dot) that ``replies``
        replies will answer.  Raises `Lost` when nothing could be written."""
        if self._gone is not None:
            raise Lost(str(self._gone))
        if self.transport is None or self.transport.is_closing():
            raise Lost("connection lost")
        if self._expected or self._replies:
            # A reply owed to an earlier command was not read: the next one would be taken
            # for this command's.  Never guess: end the session.
            self.abort()
            raise Lost("replies out of step with commands")
        self._expected = replies
        self.transport.write(data)

    async def read(self, timeout: float) -> Reply:
        """Return the next reply owed, waiting at most ``timeout`` seconds for it."""
        if not self._replies:
            if self._gone is not None:
                raise self._gone
            waiter = self._waiter = self._loop.create_future()
            timer = self._loop.call_later(timeout, self._expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        return self._replies.popleft()

    def abort(self) -> None:
        """Close at once, without QUIT."""
        self._fail(Lost("connection closed by distrib"))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    # -- inside -------------------------------------------------------------------------------

    def _parse(self) -> None:
        buffer = self._buffer
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            line = bytes(buffer[start : end + 1])
            start = end + 1
            if len(line) > MAX_LINE:
                raise Unreadable("a reply line is too long")
            head = line[:3]
            if (
                not head.isdigit()
                or line[3:4] not in {b" ", b"-", b"\r", b"\n"}
                or head[:1] not in b"2345"
            ):
                text = self._scrub.from_bytes(line.strip(b" \t\r\n"))
                raise Unreadable(f"not an SMTP reply: {text[:80]!r}")
            code = int(head)
            if self._lines and code != self._code:
                raise Unreadable("the lines of one reply have different codes")
            self._code = code
            self._size += len(line)
            if self._size > MAX_REPLY:
                raise Unreadable("a reply is too long")
            self._lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] == b"-":
                continue
            reply = Reply(code, self._scrub.from_bytes(b"\n".join(self._lines)))
            self._lines, self._size = [], 0
            if self._expected > 0:
                self._expected -= 1
                self._replies.append(reply)
            else:
                # Nobody asked (a stray reply, or one reply too many): dropped, and counted.
                self.strays += 1
        del buffer[:start]
        if len(buffer) > MAX_LINE:
            raise Unreadable("a reply line is too long")

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, exc: Lost) -> None:
        if self._gone is None:
            self._gone = exc
        waiter = self._waiter
        if waiter is not None and not waiter.done() and not self._replies:
            waiter.set_exception(self._gone)

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(Lost("no reply in time", timeout=True))
