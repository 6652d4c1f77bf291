"""One SMTP connection: the TLS and AUTH policy, and each command's reply, classified.

The engine decides what a reply means for the delivery log; this module only guarantees that
every command ends in exactly one of: a `Reply` (the server answered), `Dropped` (no usable
answer: the connection was lost or timed out, or the server broke the protocol), `BadAddress`
(nothing was sent for it), or a `SendError` subclass (the run cannot go on).  The password (or
an access token) is only ever handed to a `distrib.send.auth.Mechanism`, and only once the
connection is encrypted.

The session runs on distrib's own SMTP client (`distrib.send.smtp_client`, on
`distrib.send.wire`), which pipelines MAIL FROM, RCPT TO and DATA when the server offers
PIPELINING; nothing of another SMTP library is used (`docs/benchmarks.md`, the delayed link,
says why: on a relay's round trip, pipelining halves the time of a message).

**Opening a session**: connect (``smtp.timeout``), the greeting (``220``; a 4xx is "busy,
come back", a 5xx stops the run), EHLO (HELO when EHLO is refused, but never with STARTTLS),
STARTTLS when ``security = "starttls"`` (required: a server that does not offer it, or
refuses it, stops the run; never a fallback to plaintext), EHLO again under TLS, then AUTH when
``smtp.username`` is set (never on an unencrypted connection).

**Protocol errors are dropped connections.**  A reply that is not SMTP (gibberish, no code, a
code outside 200-599, mixed codes, too long), a reply of a class the command cannot have (a
2xx or a 3xx other than 354 to DATA, a 3xx to MAIL FROM or RCPT TO), or a reply nobody asked
for during a transaction (an extra reply: the next one would be taken for the wrong command)
ends the session at once.  Before any body byte left, that is `Dropped` with ``body_sent``
False: the message goes back to the queue, never ``failed``; while opening a session it is
`ConnectFailed`, retried like a lost connection.

**Every reply text goes through one `distrib.send.replies.Scrubber`** per connection, made
with the credentials: decoded leniently to valid text, control characters shown, and the
password (or token) in every encoding it was sent in redacted, before it is stored, raised or
printed.
"""

from __future__ import annotations

import asyncio
import re
import ssl

from distrib.addrspec import UTF8_DOT_ATOM, plain_address
from distrib.config import SMTPConfig
from distrib.errors import SMTPAuthError, SMTPConfigError, SMTPConnectionError, SMTPSecurityError
from distrib.send import auth
from distrib.send.crash import crash_point
from distrib.send.policy import Reply
from distrib.send.replies import Scrubber
from distrib.send.smtp_client import (
    InsecureAuth,
    SMTPClient,
    TLSFailed,
    default_local_hostname,
)
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
# RFC 5321 §4.1.2 Mailbox, with RFC 6531's UTF-8 (SMTPUTF8): a dot-string or a quoted string,
# at a domain or an address literal.  No space, control character, "<" or ">" outside quotes.
_U = "\u0080-\U0010ffff"
_QUOTED = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_U}]|\\[\x20-\x7e])*"'
_ULABEL = rf"[A-Za-z0-9{_U}](?:[A-Za-z0-9{_U}-]*[A-Za-z0-9{_U}])?"
_LITERAL = r"\[(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|IPv6:[0-9A-Fa-f:.]+)\]"
_MAILBOX = re.compile(rf"(?:{UTF8_DOT_ATOM}|{_QUOTED})@(?:{_ULABEL}(?:\.{_ULABEL})*|{_LITERAL})")
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
    """Refuse an address that cannot go on an SMTP command line exactly as it is: anything but
    an RFC 5321 mailbox (RFC 6531 UTF-8 allowed), so that ``<address>`` can never carry a
    space, a control character, a ``>`` or a second command."""
    if plain_address.fullmatch(address):
        return  # the common case: an ASCII dot-atom at a host name
    if not _MAILBOX.fullmatch(address):
        raise BadAddress(f"address {address!r} cannot be used on an SMTP command line")


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
    """One reusable SMTP session to the relay, opened on demand.

    ``token``: an OAuth2 access token source (`distrib.send.auth.TokenSource`); with
    ``smtp.username`` it authenticates with XOAUTH2 or OAUTHBEARER instead of a password.
    ``tokens``: an OAuth2 token provider (`distrib.send.auth.Tokens`, asked in a worker
    thread); when the relay refuses its token (``535``/``454``: it expired or was revoked since
    it was issued), a fresh one is asked for and AUTH is tried once more on the same session.
    """

    def __init__(
        self,
        smtp: SMTPConfig,
        *,
        password: str | None,
        tls: ssl.SSLContext | None,
        token: auth.TokenSource | None = None,
        tokens: auth.Tokens | None = None,
    ) -> None:
        self._cfg = smtp
        self._password = password
        self._token = token
        self._refresh: auth.TokenSource | None = None
        if tokens is not None:
            self._token = lambda: asyncio.to_thread(tokens.access_token)
            self._refresh = lambda: asyncio.to_thread(tokens.access_token, force_refresh=True)
        self._tls = tls
        # The one place where what this server says becomes text (see the module docstring).
        self._scrub = Scrubber(smtp.username, [password])
        self._client: SMTPClient | None = None
        self._wire: Wire | None = None  # the session's transactions, once it is open
        self._wires: list[Wire] = []  # every session opened, to wait for its close
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
        return self._client is not None and self._client.extensions.supports(extension)

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
        if cfg.username and self._password is None and self._token is None:
            raise SMTPAuthError(
                f"smtp.username is set but the environment variable {cfg.password_env}"
                " is empty or unset"
            )
        name = cfg.local_hostname or await default_local_hostname()
        try:
            command_line(b"EHLO", name.encode("ascii"))
        except (UnicodeEncodeError, ValueError):
            raise SMTPConfigError(
                f"smtp.local_hostname {name!r} cannot be said in EHLO: use a host name"
            ) from None
        implicit = self._tls if cfg.security == "tls" else None
        if cfg.security != "none" and self._tls is None:
            raise SMTPSecurityError(f"{self.server}: no TLS context for security = {cfg.security}")
        client = await self._connect(implicit)
        self._client = client
        try:
            await self._hello(client, name)
            if cfg.security == "starttls":
                await self._starttls(client, name)
            if cfg.security != "none" and not client.encrypted:
                raise SMTPSecurityError(f"{self.server}: the connection is not encrypted")
            if cfg.username:
                await self._login(client, cfg.username)
            if not client.wire.usable:
                raise ConnectFailed(f"{self.server}: connection lost while opening the session")
            advertised = client.extensions.get("size")
            self._size = _size(advertised) if advertised is not None else None
            self._pipelining = client.extensions.supports("pipelining")
            self._wire = client.wire  # the transactions run on this now
        except Lost as exc:
            self.abort()
            raise ConnectFailed(f"{self.server}: {_lost(exc)} while opening the session") from None
        except BaseException:
            self.abort()
            raise

    async def _connect(self, implicit: ssl.SSLContext | None) -> SMTPClient:
        where = self.server
        cfg = self._cfg
        try:
            client, greeting = await SMTPClient.connect(
                cfg.host, cfg.port, timeout=cfg.timeout, tls=implicit, scrub=self._scrub
            )
        except TLSFailed as exc:
            raise SMTPSecurityError(f"{where}: TLS failed: {exc}") from None
        except Unreadable as exc:
            raise ConnectFailed(f"{where}: protocol error in the greeting: {exc}") from None
        except Lost as exc:
            raise ConnectFailed(f"cannot connect to {where}: {_lost(exc)}") from None
        self._wires = [w for w in self._wires if not w.closed.done()] + [client.wire]
        if greeting.code == 220:
            return client
        client.abort()
        if greeting.transient:
            raise ConnectFailed(
                f"{where} is not accepting connections: {greeting}", code=greeting.code
            )
        if greeting.permanent:
            raise SMTPConnectionError(
                f"{where} refused the session: {greeting}",
                code=greeting.code,
                reply=greeting.text,
            )
        raise self._protocol_error(greeting, "in the greeting")

    async def _hello(self, client: SMTPClient, name: str) -> None:
        """EHLO; HELO when EHLO is refused for good (not with STARTTLS, which needs EHLO)."""
        where, timeout = self.server, self._cfg.timeout
        try:
            reply = await client.ehlo(name, timeout)
        except Unreadable as exc:
            raise ConnectFailed(f"{where}: protocol error in reply to EHLO: {exc}") from None
        if reply.positive:
            return
        if reply.transient:
            raise ConnectFailed(f"{where} refused EHLO for now: {reply}")
        if not reply.permanent:
            raise self._protocol_error(reply, "in reply to EHLO")
        if self._cfg.security == "starttls":  # EHLO's list is needed (STARTTLS, AUTH)
            raise SMTPConfigError(
                f"{where} refused our EHLO: {reply} (check smtp.local_hostname)",
                code=reply.code,
                reply=reply.text,
            )
        try:
            helo = await client.helo(name, timeout)
        except Unreadable as exc:
            raise ConnectFailed(f"{where}: protocol error in reply to HELO: {exc}") from None
        if helo.positive:
            return
        if helo.transient:
            raise ConnectFailed(f"{where} refused HELO for now: {helo}")
        if not helo.permanent:
            raise self._protocol_error(helo, "in reply to HELO")
        raise SMTPConfigError(f"{where} refused HELO: {helo}", code=helo.code, reply=helo.text)

    async def _starttls(self, client: SMTPClient, name: str) -> None:
        """STARTTLS, required: never a fallback to plaintext; then EHLO again under TLS."""
        where = self.server
        if not client.extensions.supports("starttls"):
            raise SMTPSecurityError(
                f"{where} does not offer STARTTLS; distrib never falls back to"
                ' plaintext: use security = "tls" if the relay speaks implicit TLS'
            )
        assert self._tls is not None
        try:
            reply = await client.starttls(self._tls, self._cfg.timeout)
        except TLSFailed as exc:
            raise SMTPSecurityError(f"{where}: TLS failed: {exc}") from None
        except Unreadable as exc:
            raise ConnectFailed(f"{where}: protocol error in reply to STARTTLS: {exc}") from None
        if reply.code != 220:
            if not (reply.transient or reply.permanent):
                raise self._protocol_error(reply, "in reply to STARTTLS")
            raise SMTPSecurityError(
                f"{where} refused STARTTLS: {reply}; distrib never falls back to plaintext",
                code=reply.code,
                reply=reply.text,
            )
        await self._hello(client, name)

    async def _login(self, client: SMTPClient, username: str) -> None:
        where = self.server
        if not client.encrypted:
            raise SMTPAuthError(
                f"refusing to send the password to {where} over an unencrypted connection"
                ' (set smtp.security to "starttls" or "tls")'
            )
        if not client.extensions.supports("auth"):
            raise SMTPAuthError(f"{where} does not offer AUTH, but smtp.username is set")
        reply, mechanism = await self._auth_once(client, username, self._token)
        if self._refresh is not None and reply.code in (454, 535):
            # The token was refused: expired or revoked since it was issued.  Once, with a
            # fresh one (RFC 4954 §4 allows another AUTH after a failed one).
            reply, mechanism = await self._auth_once(client, username, self._refresh)
        self._scrub = client.wire.scrub  # holds the token too, when one was fetched
        if reply.positive:
            return
        if not (reply.transient or reply.permanent):
            raise self._protocol_error(reply, "in reply to AUTH")
        raise SMTPAuthError(
            f"{where} refused the credentials of {username!r} ({mechanism.name}): {reply}",
            code=reply.code,
            reply=reply.text,
        )

    async def _auth_once(
        self, client: SMTPClient, username: str, token: auth.TokenSource | None
    ) -> tuple[Reply, auth.Mechanism]:
        """One AUTH exchange; the final reply and the mechanism used."""
        where, cfg = self.server, self._cfg
        offered = client.extensions.auth
        mechanism = auth.choose(
            offered,
            username,
            password=self._password,
            token=token,
            host=cfg.host,
            port=cfg.port,
            prefer=cfg.oauth.mechanism if cfg.oauth is not None else None,
        )
        if mechanism is None:
            wanted = "XOAUTH2 or OAUTHBEARER" if token else "PLAIN, LOGIN or CRAM-MD5"
            listed = " ".join(sorted(offered)) or "none"
            raise SMTPAuthError(f"{where} offers no AUTH mechanism distrib can use with"
                                f" these credentials ({wanted}; it offers {listed})")  # fmt: skip
        try:
            reply = await client.authenticate(mechanism, cfg.timeout)
        except InsecureAuth:
            raise SMTPAuthError(
                f"refusing to send the password to {where} over an unencrypted connection"
            ) from None
        except ValueError as exc:  # the mechanism refused its own credentials (never shown)
            raise SMTPAuthError(f"{where}: cannot authenticate as {username!r}: {exc}") from None
        except Unreadable as exc:
            raise ConnectFailed(f"{where}: protocol error in reply to AUTH: {exc}") from None
        except Lost as exc:
            raise ConnectFailed(f"{where}: {_lost(exc)} during AUTH") from None
        return reply, mechanism

    def _protocol_error(self, reply: Reply, when: str) -> ConnectFailed:
        """A reply that is not one the command allows, while opening the session: handled
        like a lost connection (retried, then the run stops)."""
        said = str(reply)
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
        client = self._client
        if client is not None and self._wire is not None and self._wire.usable:
            await client.quit(self._cfg.timeout)
        self.abort()
        await self._wait_closed()

    def abort(self) -> None:
        """Close the connection at once, without QUIT."""
        self._wire = None
        client, self._client = self._client, None
        if client is not None:
            client.abort()

    async def _wait_closed(self) -> None:
        # A socket is closed once its protocol's connection_lost has run: wait for that
        # (briefly) so no socket outlives the event loop.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CLOSE_WAIT
        while loop.time() < deadline and any(not w.closed.done() for w in self._wires):
            await asyncio.sleep(0.005)
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
