"""One SMTP connection: the TLS and AUTH policy, and each command's reply, classified.

The engine decides what a reply means for the delivery log; this module only guarantees that
every command ends in exactly one of: a `Reply` (the server answered), `Dropped` (no usable
answer: the connection was lost or timed out, or the server broke the protocol), `BadAddress`
(nothing was sent), or a `SendError` subclass (the run cannot go on).  The password is only
ever handed to aiosmtplib's ``login``.

**Protocol errors are dropped connections.**  A reply that is not SMTP (gibberish, no code, a
code outside 200-599, mixed codes, too long), a reply of a class the command cannot have (a
2xx or a 3xx other than 354 to DATA, a 3xx to MAIL FROM or RCPT TO), or a reply nobody asked
for during a transaction (an extra reply: the next one would be taken for the wrong command)
ends the session at once.  Before any body byte left, that is `Dropped` with ``body_sent``
False: the message goes back to the queue, never ``failed``; while opening a session it is
`ConnectFailed`, retried like a lost connection.

**Every reply text goes through one `distrib.send.replies.Scrubber`** per connection, made
with the credentials: decoded leniently to valid text, control characters shown, and the
password in every encoding it was sent in redacted, before it is stored, raised or printed.

aiosmtplib opens each session (TLS, EHLO, AUTH); the transactions then run on `Wire`, which
pipelines MAIL FROM and RCPT TO when the server offers PIPELINING (`distrib.send.wire` says why
that is hand-written).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from typing import Literal

import aiosmtplib
from aiosmtplib.email import parse_address
from aiosmtplib.protocol import SMTPProtocol

from distrib.config import SMTPConfig
from distrib.errors import SMTPAuthError, SMTPConfigError, SMTPConnectionError, SMTPSecurityError
from distrib.send.crash import crash_point
from distrib.send.policy import Reply
from distrib.send.replies import Scrubber
from distrib.send.wire import Lost, Unreadable, Wire, command_line

__all__ = [
    "AUTH_CODES",
    "BadAddress",
    "ConnectFailed",
    "Connection",
    "Dropped",
    "build_tls_context",
    "check_address",
    "wire_body",
]

_LINE_ENDINGS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_QUIT_TIMEOUT = 10.0
_CLOSE_WAIT = 2.0
_SIZE = re.compile(r"[0-9]{1,18}")
_SHOWN = 200  # characters of a reply that broke the protocol, in its error message
#: Auth failures that stop the run: RFC 4954 530/534/535/538 (and 454, temporary failure).
AUTH_CODES = frozenset({454, 530, 534, 535, 538})


class ConnectFailed(Exception):
    """Could not open a usable session this time (refused, timed out, 421 at the greeting).

    ``code`` is the server's reply code when it answered (e.g. 421), else None.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class Dropped(Exception):
    """The server gave no reply: the connection was lost or the reply timed out.

    ``body_sent`` says whether any byte of the message body may have left this process.
    """

    def __init__(self, message: str, *, body_sent: bool = False) -> None:
        self.body_sent = body_sent
        super().__init__(message)


class BadAddress(Exception):
    """An address cannot be put on an SMTP command line as it is (nothing was sent for it)."""


def build_tls_context(smtp: SMTPConfig) -> ssl.SSLContext | None:
    """Build the TLS context for ``smtp`` (None when ``security`` is ``none``)."""
    if smtp.security == "none":
        return None
    cafile = str(smtp.ca_file) if smtp.ca_file is not None else None
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SMTPSecurityError(f"smtp.ca_file: cannot load {cafile}: {reason}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not smtp.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def check_address(address: str) -> None:
    """Refuse an address that cannot go on an SMTP command line exactly as it is."""
    if _PLAIN_ADDRESS.fullmatch(address):
        # An ASCII dot-atom at a host name: parse_address returns it unchanged (property-tested
        # against it), and one regex costs a tenth of parsing.  Anything else is parsed.
        return
    try:
        parsed = parse_address(address)
    except ValueError as exc:
        raise BadAddress(f"address {address!r} cannot be used on an SMTP command line") from exc
    # parseaddr() can extract a *different* address from a malformed one (CVE-2023-27043):
    # only send an address that passes through unchanged.
    if parsed != address:
        raise BadAddress(f"address {address!r} is not a plain addr-spec")


def _envelope_lines(
    sender: str, recipient: str, options: list[str], utf8: bool
) -> tuple[bytes, bytes]:
    """The MAIL FROM and RCPT TO command lines (addresses already through `check_address`)."""
    encoding = "utf-8" if utf8 else "ascii"
    mail = command_line(
        b"MAIL", b"FROM:<" + sender.encode(encoding) + b">", *(o.encode() for o in options)
    )
    return mail, command_line(b"RCPT", b"TO:<" + recipient.encode(encoding) + b">")


def wire_body(data: bytes) -> bytes:
    """Return ``data`` with CRLF line endings, a final CRLF, dot-stuffing and the final dot."""
    crlf = data.count(b"\r\n")
    if data.count(b"\n") == crlf == data.count(b"\r"):
        # Already CRLF throughout (what the renderer writes): every line but the first starts
        # after a CRLF, so one bytes.replace dot-stuffs them (a line of quoted-printable often
        # starts with a dot: "=\r\n.example").  Counting and replacing cost a fraction of the
        # two regular-expression substitutions below (tested equal to them).
        if b"\n." in data:
            data = data.replace(b"\r\n.", b"\r\n..")
        if data.startswith(b"."):
            data = b"." + data
        return data + (b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n")
    body = _LINE_ENDINGS.sub(b"\r\n", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return _LEADING_DOT.sub(b"..", body) + b".\r\n"


class Connection:
    """One reusable SMTP session to the relay, opened on demand."""

    def __init__(
        self, smtp: SMTPConfig, *, password: str | None, tls: ssl.SSLContext | None
    ) -> None:
        self._cfg = smtp
        self._password = password
        self._tls = tls
        # The one place where what this server says becomes text (see the module docstring).
        self._scrub = Scrubber(smtp.username, [password])
        self._client: aiosmtplib.SMTP | None = None
        self._wire: Wire | None = None  # the session's transactions, once it is open
        self._wires: list[Wire] = []  # every session opened, to wait for its close
        self._protocols: list[SMTPProtocol] = []  # sessions still on aiosmtplib (opening)
        self._size: int | None = None
        self._pipelining = False
        self._checked_sender = ""  # the last envelope sender that passed `check_address`
        self.server = f"{smtp.host}:{smtp.port}"

    def __repr__(self) -> str:
        return f"<Connection {self.server} open={self.is_open}>"

    @property
    def is_open(self) -> bool:
        """Tell whether the session is connected and usable."""
        return self._wire is not None and self._wire.usable

    def supports(self, extension: str) -> bool:
        """Tell whether the server advertised ``extension`` (e.g. ``smtputf8``) in its EHLO."""
        return self._client is not None and self._client.supports_extension(extension)

    @property
    def size_limit(self) -> int | None:
        """Return the SIZE the server advertised (0 = no fixed limit), or None without SIZE."""
        return self._size

    def _connected(self) -> Wire:
        if self._wire is None or not self._wire.usable:
            raise Dropped(f"{self.server}: not connected")
        return self._wire

    def check_sender(self, sender: str) -> None:
        """`check_address` for the envelope sender, once per sender (it rarely changes)."""
        if sender != self._checked_sender:
            check_address(sender)
            self._checked_sender = sender

    # -- opening ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, secure and authenticate; raise `ConnectFailed` (retry) or a `SendError`."""
        self.abort()
        cfg = self._cfg
        security: Literal["none", "starttls", "tls"] = cfg.security
        # Never leave start_tls at aiosmtplib's opportunistic default (None): it silently stays
        # in plaintext when the server does not offer STARTTLS.
        client = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            local_hostname=cfg.local_hostname,
            timeout=cfg.timeout,
            use_tls=security == "tls",
            start_tls=security == "starttls",
            tls_context=self._tls,
        )
        self._client = client
        try:
            await self._connect(client)
            if security != "none" and client.get_transport_info("sslcontext") is None:
                raise SMTPSecurityError(f"{self.server}: the connection is not encrypted")
            await self._hello(client)
            if cfg.username:
                await self._login(client, cfg.username)
            transport = client.transport
            if not isinstance(transport, asyncio.Transport) or transport.is_closing():
                raise ConnectFailed(f"{self.server}: connection lost while opening the session")
            self._size = (
                _size(client.esmtp_extensions.get("size", "")) if self.supports("size") else None
            )
            self._pipelining = self.supports("pipelining")
            self._wire = Wire(transport, self._scrub)  # the transactions run on this now
            self._wires = [w for w in self._wires if not w.closed.done()] + [self._wire]
            self._protocols = [p for p in self._protocols if p is not client.protocol]
        except BaseException:
            self.abort()
            raise

    async def _connect(self, client: aiosmtplib.SMTP) -> None:
        where, said = self.server, self._said
        try:
            await client.connect()
            if client.protocol is not None:
                self._protocols = [p for p in self._protocols if p.transport is not None]
                self._protocols.append(client.protocol)
        except aiosmtplib.SMTPConnectResponseError as exc:
            raise self._not_welcome(exc) from None
        except aiosmtplib.SMTPConnectError as exc:
            if isinstance(exc.__cause__, ssl.SSLError):
                raise SMTPSecurityError(f"{where}: TLS failed: {exc.__cause__}") from None
            message = self._scrub.from_text(exc.message)
            raise ConnectFailed(f"cannot connect to {where}: {message}") from None
        except ssl.SSLError as exc:
            raise SMTPSecurityError(f"{where}: TLS failed: {exc}") from None
        except aiosmtplib.SMTPHeloError as exc:
            raise self._ehlo_refused(exc) from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            message = self._scrub.from_text(exc.message)
            raise ConnectFailed(f"{where}: {message} while opening the session") from None
        except aiosmtplib.SMTPResponseException as exc:
            if not 400 <= exc.code < 600:
                # aiosmtplib could not read a reply (not SMTP, too long), or a 2xx/3xx where
                # a 220 or a refusal belongs.
                raise self._protocol_error(exc, "while opening the session") from None
            # Only STARTTLS answers with a bare response error here (454 TLS not available).
            raise SMTPSecurityError(
                f"{where} refused STARTTLS: {said(exc)}; distrib never falls back to plaintext",
                code=exc.code,
                reply=self._scrub.from_text(exc.message),
            ) from None
        except aiosmtplib.SMTPException as exc:
            message = self._scrub.from_text(exc.message)
            raise SMTPSecurityError(
                f"{where} does not offer STARTTLS ({message}); distrib never falls back to"
                ' plaintext: use security = "tls" if the relay speaks implicit TLS'
            ) from None

    def _not_welcome(self, exc: aiosmtplib.SMTPConnectResponseError) -> Exception:
        """The greeting was not 220: 421 means "busy, come back", 554 "not for you"."""
        if 400 <= exc.code < 500:
            return ConnectFailed(
                f"{self.server} is not accepting connections: {self._said(exc)}", code=exc.code
            )
        if 500 <= exc.code < 600:
            return SMTPConnectionError(
                f"{self.server} refused the session: {self._said(exc)}",
                code=exc.code,
                reply=self._scrub.from_text(exc.message),
            )
        return self._protocol_error(exc, "in the greeting")

    def _ehlo_refused(self, exc: aiosmtplib.SMTPHeloError) -> Exception:
        """EHLO refused while aiosmtplib opened the session (before STARTTLS)."""
        if 400 <= exc.code < 500:
            return ConnectFailed(f"{self.server} refused EHLO for now: {self._said(exc)}")
        if not 500 <= exc.code < 600:
            return self._protocol_error(exc, "in reply to EHLO")
        return SMTPConfigError(
            f"{self.server} refused our EHLO: {self._said(exc)} (check smtp.local_hostname)",
            code=exc.code,
            reply=self._scrub.from_text(exc.message),
        )

    async def _hello(self, client: aiosmtplib.SMTP) -> None:
        if not client.is_ehlo_or_helo_needed:
            return
        try:
            try:
                await client.ehlo()
            except aiosmtplib.SMTPHeloError as exc:
                if 400 <= exc.code < 500 or not client.is_connected:
                    raise ConnectFailed(f"{self.server} refused EHLO: {self._said(exc)}") from None
                await client.helo()
        except aiosmtplib.SMTPHeloError as exc:
            if not 500 <= exc.code < 600:
                raise self._protocol_error(exc, "in reply to HELO") from None
            raise SMTPConfigError(
                f"{self.server} refused HELO: {self._said(exc)}",
                code=exc.code,
                reply=self._scrub.from_text(exc.message),
            ) from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            message = self._scrub.from_text(exc.message)
            raise ConnectFailed(f"{self.server}: {message} after EHLO") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise self._protocol_error(exc, "in reply to EHLO") from None

    async def _login(self, client: aiosmtplib.SMTP, username: str) -> None:
        where = self.server
        if self._password is None:
            raise SMTPAuthError(
                f"smtp.username is set but the environment variable {self._cfg.password_env}"
                " is empty or unset"
            )
        # aiosmtplib's login() does not check this; the password must never cross in clear.
        if client.get_transport_info("sslcontext") is None:
            raise SMTPAuthError(
                f"refusing to send the password to {where} over an unencrypted connection"
                ' (set smtp.security to "starttls" or "tls")'
            )
        try:
            await client.login(username, self._password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            if not 300 <= exc.code < 600:
                raise self._protocol_error(exc, "in reply to AUTH") from None
            text = self._scrub.from_text(exc.message)
            raise SMTPAuthError(
                f"{where} refused the credentials of {username!r}: {exc.code} {text}",
                code=exc.code,
                reply=text,
            ) from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            message = self._scrub.from_text(exc.message)
            raise ConnectFailed(f"{where}: {message} during AUTH") from None
        except aiosmtplib.SMTPResponseException as exc:
            if not 300 <= exc.code < 600:
                raise self._protocol_error(exc, "in reply to AUTH") from None
            text = self._scrub.from_text(exc.message)
            raise SMTPAuthError(
                f"{where}: AUTH failed: {exc.code} {text}", code=exc.code, reply=text
            ) from None
        except aiosmtplib.SMTPException:
            raise SMTPAuthError(f"{where} does not offer AUTH, but smtp.username is set") from None

    def _said(self, exc: aiosmtplib.SMTPResponseException) -> str:
        """``code text`` of a reply aiosmtplib read, scrubbed (see `Scrubber`)."""
        text = self._scrub.from_text(exc.message.strip())
        return f"{exc.code} {text}".strip() if exc.code >= 0 else text

    def _protocol_error(self, exc: aiosmtplib.SMTPResponseException, when: str) -> ConnectFailed:
        """A reply that is not SMTP, or not one the command allows, while opening the session:
        handled like a lost connection (retried, then the run stops)."""
        said = self._said(exc)
        if len(said) > _SHOWN:
            said = said[:_SHOWN] + "…"
        return ConnectFailed(f"{self.server}: protocol error {when}: {said}")

    # -- one transaction ----------------------------------------------------------------------

    async def envelope(
        self, sender: str, recipient: str, *, options: list[str], utf8: bool
    ) -> tuple[Reply, Reply | None]:
        """Send MAIL FROM, then RCPT TO once it is accepted (a server without PIPELINING;
        see `envelope_and_data`); return their replies, the second None when MAIL FROM was
        refused.

        Both addresses must have passed `check_address`.
        """
        wire = self._connected()
        mail, rcpt = _envelope_lines(sender, recipient, options, utf8)
        timeout = self._cfg.timeout
        try:
            wire.strays = 0  # a new transaction
            wire.send(mail, 1)
            first = self._expect(await self._read(wire, timeout), "MAIL FROM")
            if not first.positive:
                return first, None
            wire.send(rcpt, 1)
            return first, self._expect(await self._read(wire, timeout), "RCPT TO")
        except Lost as exc:
            raise self._dropped(f"{_lost(exc)} after MAIL FROM / RCPT TO") from None

    @property
    def pipelining(self) -> bool:
        """Whether the open session's server offers PIPELINING (RFC 2920)."""
        return self._pipelining

    async def envelope_and_data(
        self, sender: str, recipient: str, *, options: list[str], utf8: bool
    ) -> tuple[Reply, Reply | None, Reply | None]:
        """With PIPELINING: send MAIL FROM, RCPT TO and DATA in one write (RFC 2920 lets DATA
        end a group) and return their replies; None for those that will not come (after a
        421, the server is closing).  No body byte is written here: the caller decides, on
        the replies, whether to send the body.

        Both addresses must have passed `check_address`.
        """
        wire = self._connected()
        mail, rcpt = _envelope_lines(sender, recipient, options, utf8)
        timeout = self._cfg.timeout
        try:
            wire.strays = 0  # a new transaction
            wire.send(mail + rcpt + b"DATA\r\n", 3)
            first = self._expect(await self._read(wire, timeout), "MAIL FROM")
            if first.code == 421:
                return first, None, None
            second = self._expect(await self._read(wire, timeout), "RCPT TO")
            if second.code == 421:
                return first, second, None
            third = await self._read(wire, timeout)
        except Lost as exc:
            raise self._dropped(f"{_lost(exc)} after MAIL FROM / RCPT TO / DATA") from None
        if first.positive and second.positive:
            self._expect(third, "DATA")
        elif not (third.transient or third.permanent):
            # A body invited (or a 2xx) for a refused envelope: out of step, never reuse.
            self.abort()
        return first, second, third

    async def _read(self, wire: Wire, timeout: float) -> Reply:
        reply = await wire.read(timeout)
        if reply.code == 421:
            self.abort()  # the server is closing the session (RFC 5321 §3.8): so do we
        return reply

    def _expect(self, reply: Reply, command: str) -> Reply:
        """Return ``reply`` if ``command`` may have it (DATA: 354, 4xx, 5xx; MAIL FROM and RCPT
        TO: 2xx, 4xx, 5xx); else end the session: a protocol error, nothing of the body sent.

        A 2xx to DATA is what a server out of step sends (a reply too many earlier on, or a
        broken relay): taking it for a refusal would fail a message nobody refused.
        """
        if command == "DATA":
            allowed = reply.code == 354 or reply.transient or reply.permanent
        else:
            allowed = reply.positive or reply.transient or reply.permanent
        if not allowed:
            raise self._dropped(f"protocol error: {reply} in reply to {command}")
        return reply

    async def data_command(self) -> Reply:
        """Send the DATA command alone; a `Dropped` here means no body byte was sent."""
        wire = self._connected()
        try:
            wire.send(b"DATA\r\n", 1)
            return self._expect(await self._read(wire, self._cfg.timeout), "DATA")
        except Lost as exc:
            raise self._dropped(f"{_lost(exc)} after DATA, before 354") from None

    async def data_body(self, data: bytes) -> Reply:
        """Write the body and the final dot, then wait up to ``data_timeout`` for the reply.

        Raises `Dropped` with ``body_sent=True`` once anything may have been written: the
        server may have the message (RFC 1047), so the caller must not send it again.
        """
        wire = self._connected()
        if wire.strays:
            # A reply nobody asked for came during this transaction: the server is out of
            # step, and the reply to the body could be one meant for something else.
            n = wire.strays
            raise self._dropped(
                f"protocol error: {n} reply(ies) nobody asked for during the transaction"
            )
        payload = wire_body(data)
        try:
            wire.send(payload, 1)
        except Lost:
            # send() refuses before writing anything when the transport is already closing.
            raise self._dropped("connection lost after 354, before the body") from None
        crash_point("after-dot")
        timeout = self._cfg.data_timeout
        try:
            reply = await wire.read(timeout)
        except Lost as exc:
            if exc.timeout:
                what = f"no reply to the end of the message within {timeout:g} s"
            elif isinstance(exc, Unreadable):
                what = f"unreadable reply to the end of the message: {exc}"
            else:
                what = f"{exc} after the message body"
            raise self._dropped(what, body_sent=True) from None
        if reply.code == 421:
            self.abort()  # the server is closing the session: so do we
        return reply

    async def rset(self) -> None:
        """Reset the transaction; if that fails, close (the next message reconnects)."""
        if not self.is_open or self._wire is None:
            return
        try:
            self._wire.send(b"RSET\r\n", 1)
            reply = await self._wire.read(self._cfg.timeout)
        except Lost:
            self.abort()
            return
        if not reply.positive:
            self.abort()

    def _dropped(self, what: str, *, body_sent: bool = False) -> Dropped:
        # After a lost reply the session is out of step: never reuse it.
        self.abort()
        return Dropped(f"{self.server}: {what}", body_sent=body_sent)

    # -- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Say QUIT (briefly), close, and wait until the sockets this connection used are shut."""
        wire = self._wire
        if wire is not None and wire.usable:
            with contextlib.suppress(Lost):
                wire.send(b"QUIT\r\n", 1)
                await wire.read(min(self._cfg.timeout, _QUIT_TIMEOUT))
        self.abort()
        await self._wait_closed()

    def abort(self) -> None:
        """Close the connection at once, without QUIT."""
        wire, self._wire = self._wire, None
        client, self._client = self._client, None
        if wire is not None:
            wire.abort()
        if client is None:
            return
        transport = client.transport
        if isinstance(transport, asyncio.Transport) and not transport.is_closing():
            # abort(), not close(): a TLS close waits for the server's close_notify; the
            # session is over either way.
            transport.abort()
        client.close()

    async def _wait_closed(self) -> None:
        # A socket is closed once its protocol's connection_lost has run (aiosmtplib's then
        # drops its transport; ours marks itself closed): wait for that (briefly) so no socket
        # outlives the event loop.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CLOSE_WAIT
        while loop.time() < deadline and (
            any(p.transport is not None for p in self._protocols)
            or any(not w.closed.done() for w in self._wires)
        ):
            await asyncio.sleep(0.005)
        self._protocols = [p for p in self._protocols if p.transport is not None]
        self._wires = [w for w in self._wires if not w.closed.done()]


def _size(advertised: str) -> int:
    """The SIZE a server advertised (RFC 1870), 0 for no fixed limit: also for a value that is
    not a plain number (``str.isdigit`` takes "²", and ``int`` refuses 5,000 digits)."""
    value = advertised.strip()
    return int(value) if _SIZE.fullmatch(value) else 0


def _lost(exc: Lost) -> str:
    if exc.timeout:
        return "timed out waiting for the reply"
    if isinstance(exc, Unreadable):
        return f"unreadable reply ({exc})"
    return str(exc)
