"""The replies of one SMTP session, read off the socket in order, for commands written in order.

`Wire` is the asyncio protocol of every connection distrib opens to a relay, from the first byte
(the greeting) to the last (QUIT); `distrib.send.smtp_client` drives the session on it
(EHLO, STARTTLS, AUTH) and `distrib.send.transport` the transactions.  Nothing here comes from
another SMTP library.  Hand-written because of what decides the speed of a send:

- **PIPELINING** (RFC 2920): MAIL FROM, RCPT TO and DATA leave in one write and their replies
  are read together (`send` takes how many replies a write will get).  On a link with a real
  round trip this halves the time of a message (`docs/benchmarks.md`, the delayed link: 1.96x
  at 30 ms each way); on 127.0.0.1 it saves a write and a wake-up per command;
- **per-command cost**: a reply waits on one future with one timer (no lock, no
  ``asyncio.wait_for``), and an address is checked once per message, not at every command.

The rules it keeps: a reply is a 3-digit code from 200 to 599 and text, possibly on several
``NNN-`` lines with the same code; a line over 8,192 bytes, a reply over 32 KB, a line without
such a code or lines with different codes are unreadable, and the session is dropped (never
guessed from).  The text of a reply is made by `distrib.send.replies.Scrubber` (any bytes become
valid text; credentials are redacted).  Replies nobody asked for are dropped, so they can never
be taken for the reply to the next command, and counted (``strays``): the connection checks,
before it writes a body, that none came during the transaction.  A command line never holds a
control character: it is refused before anything is written.

**STARTTLS** (`start_tls`): once the reply to STARTTLS is read, nothing more is read in
plaintext: the rest of what arrived with it is discarded, reading stops, and the same protocol
goes on under TLS (``loop.start_tls``).  A server (or a man in the middle) that sends replies
ahead of the handshake can never have them taken for replies to commands sent under TLS (the
STARTTLS response injection of CVE-2011-0411 and its kin).
"""

from __future__ import annotations

import asyncio
import re
import ssl
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
    """Replies in order, for commands written in order: one session, from its greeting on.

    Made before the connection (``loop.create_connection(lambda: wire, ...)``); the greeting
    is the first reply owed.  ``scrub`` turns reply bytes into text (it may be replaced, e.g.
    by one that knows an access token once it is known).
    """

    def __init__(self, scrub: Scrubber | None = None) -> None:
        self.transport: asyncio.Transport | None = None
        self.scrub = scrub or Scrubber()
        self._loop = asyncio.get_running_loop()
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # the lines of a reply being received
        self._code = 0
        self._size = 0
        self._replies: deque[Reply] = deque()
        self._expected = 1  # replies owed for commands written: first, the greeting
        self._waiter: asyncio.Future[None] | None = None
        self._gone: Lost | None = None
        self._then_tls = False  # the reply owed is STARTTLS's: read nothing after it
        self._deaf = False  # between that reply and the TLS handshake: discard what comes
        self.strays = 0  # replies nobody asked for, since the caller last set it to 0
        self.closed = self._loop.create_future()  # done once the socket is closed

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._deaf:
            return  # plaintext after the reply to STARTTLS: never read (see the module)
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

    @property
    def encrypted(self) -> bool:
        """Tell whether the connection runs over TLS."""
        return (
            self.transport is not None and self.transport.get_extra_info("sslcontext") is not None
        )

    def send(self, data: bytes, replies: int, *, then_tls: bool = False) -> None:
        """Write ``data`` (whole command lines, or a body and its final dot) that ``replies``
        replies will answer.  Raises `Lost` when nothing could be written.  ``then_tls``:
        ``data`` is STARTTLS; nothing after its reply is read until `start_tls`."""
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
        self._then_tls = then_tls
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

    async def start_tls(
        self, context: ssl.SSLContext, server_hostname: str, timeout: float
    ) -> None:
        """Go on under TLS after the reply to STARTTLS (sent with ``then_tls``) was read.

        Whatever arrived in plaintext after that reply is discarded.  Raises `ssl.SSLError`
        (certificate, protocol), `TimeoutError`, or `Lost`.
        """
        if self.transport is None or self._gone is not None:
            raise Lost(str(self._gone or "connection lost"))
        self._buffer.clear()
        self._replies.clear()
        self._lines, self._size = [], 0
        self._expected = 0
        self.strays = 0
        self._then_tls = False
        self._deaf = True
        try:
            secured = await self._loop.start_tls(
                self.transport,
                self,
                context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except ConnectionError as exc:
            raise Lost(f"connection lost during the TLS handshake ({exc})") from None
        if secured is None or self._gone is not None:
            raise Lost(str(self._gone or "connection lost during the TLS handshake"))
        self.transport = secured
        self._deaf = False

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
                text = self.scrub.from_bytes(line.strip(b" \t\r\n"))
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
            reply = Reply(code, self.scrub.from_bytes(b"\n".join(self._lines)))
            self._lines, self._size = [], 0
            if self._expected > 0:
                self._expected -= 1
                self._replies.append(reply)
                if self._then_tls and not self._expected:
                    # The reply to STARTTLS: what follows it in plaintext is never read.
                    self._deaf = True
                    buffer.clear()
                    if self.transport is not None:
                        self.transport.pause_reading()
                    return
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
        if waiter is not None and not waiter.done():
            # A reply parsed before the failure (in the same packet) is still given to the
            # read waiting for it; the next read raises.  Left waiting, that read ran out its
            # whole timeout and lost the reason.
            if self._replies:
                waiter.set_result(None)
            else:
                waiter.set_exception(self._gone)

    def _expire(self, waiter: asyncio.Future[None]) -> None:
        if not waiter.done():
            waiter.set_exception(Lost("no reply in time", timeout=True))
