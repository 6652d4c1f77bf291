"""distrib's own SMTP client: one session on one socket, borrowing nothing from another library.

`SMTPClient.connect` opens the socket (plain, or TLS from the first byte) with a timeout and
reads the greeting; then `ehlo` (the extensions: SIZE, PIPELINING, SMTPUTF8, 8BITMIME, AUTH
and its mechanisms), `starttls` (the handshake with ``loop.start_tls``; what the server sent in
plaintext after its ``220`` is discarded, and what EHLO said before TLS is forgotten, RFC 3207
§4.2), `authenticate` (a SASL exchange with a `distrib.send.auth.Mechanism`, **refused on a
connection that is not encrypted**), `command`, `quit` and `abort`.  The transactions
(pipelined MAIL FROM, RCPT TO and DATA, the body) are written on `wire`
(`distrib.send.wire.Wire`: reply parsing, bounds, strays), which `distrib.send.transport`
drives.

This module has no policy: it returns every reply as it came (`distrib.send.policy.Reply`, its
text already through `distrib.send.replies.Scrubber`) and raises only when there is no reply:
`Lost` (refused, reset, timed out; `Unreadable` for bytes that are not SMTP) or `TLSFailed`
(the handshake failed: certificate, protocol).  What a reply means for the run is decided by
`distrib.send.transport.Connection`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import socket
import ssl
from dataclasses import dataclass, field

from distrib.send.auth import Mechanism
from distrib.send.policy import Reply
from distrib.send.replies import Scrubber
from distrib.send.wire import Lost, Unreadable, Wire, command_line

__all__ = [
    "Extensions",
    "InsecureAuth",
    "Lost",
    "SMTPClient",
    "TLSFailed",
    "Unreadable",
    "default_local_hostname",
]

#: Rounds of ``334`` challenges an AUTH exchange may take (LOGIN needs two).
MAX_AUTH_ROUNDS = 4
_QUIT_TIMEOUT = 10.0
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_default_hostname: list[str] = []  # this machine's name, once looked up


class TLSFailed(Exception):
    """The TLS handshake failed (an untrusted certificate, a protocol mismatch)."""


class InsecureAuth(Exception):
    """AUTH was asked for on a connection that is not encrypted: never done."""


@dataclass(frozen=True, slots=True)
class Extensions:
    """What a server's reply to EHLO advertised: keyword (lower-case) → its parameters."""

    keywords: dict[str, str] = field(default_factory=dict)
    auth: frozenset[str] = frozenset()  # AUTH mechanisms, upper-case

    @classmethod
    def parse(cls, text: str) -> Extensions:
        """Read the lines of an EHLO reply after the first (the server's name).

        A line that is not ``KEYWORD [params]`` is ignored; ``AUTH=PLAIN LOGIN`` (an old
        form some servers still send) counts as ``AUTH PLAIN LOGIN``.
        """
        keywords: dict[str, str] = {}
        auth: set[str] = set()
        for line in text.split("\n")[1:]:
            keyword, _, params = line.strip().partition(" ")
            if "=" in keyword:  # AUTH=PLAIN LOGIN
                keyword, _, first = keyword.partition("=")
                params = f"{first} {params}".strip()
            if not _KEYWORD.fullmatch(keyword):
                continue
            name = keyword.lower()
            keywords.setdefault(name, params.strip())
            if name == "auth":
                auth.update(p.upper() for p in params.split() if _KEYWORD.fullmatch(p))
        return cls(keywords, frozenset(auth))

    def supports(self, keyword: str) -> bool:
        """Tell whether ``keyword`` (e.g. ``smtputf8``, any case) was advertised."""
        return keyword.lower() in self.keywords

    def get(self, keyword: str) -> str | None:
        """The parameters of ``keyword`` (``""`` when it has none), None when not advertised."""
        return self.keywords.get(keyword.lower())


async def default_local_hostname() -> str:
    """The name to say in EHLO when none is configured: this machine's fully qualified name
    if it is a plain host name with a dot, else "localhost.localdomain" (RFC 5321 wants a
    domain or an address literal; a relay rarely checks it).  Looked up once per process."""
    if not _default_hostname:
        name = await asyncio.to_thread(socket.getfqdn)
        _default_hostname.append(name if _HOSTNAME.fullmatch(name) else "localhost.localdomain")
    return _default_hostname[0]


class SMTPClient:
    """One SMTP session.  Made by `connect`; every method raises `Lost` when the connection
    is gone or a reply did not come within ``timeout`` seconds."""

    def __init__(self, wire: Wire, host: str) -> None:
        self.wire = wire
        self.host = host
        self.extensions = Extensions()

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        *,
        timeout: float,
        tls: ssl.SSLContext | None = None,
        scrub: Scrubber | None = None,
    ) -> tuple[SMTPClient, Reply]:
        """Open a session to ``host:port`` (``tls``: implicit TLS from the first byte) and
        return it with the server's greeting (any code: the caller decides)."""
        loop = asyncio.get_running_loop()
        wire = Wire(scrub)
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: wire,
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                    ssl_handshake_timeout=timeout if tls is not None else None,
                )
        except ssl.SSLError as exc:
            wire.abort()
            raise TLSFailed(str(exc)) from None
        except TimeoutError:
            wire.abort()
            raise Lost(f"no connection within {timeout:g} s", timeout=True) from None
        except OSError as exc:
            wire.abort()
            raise Lost(exc.strerror or str(exc) or type(exc).__name__) from None
        client = cls(wire, host)
        try:
            greeting = await wire.read(timeout)
        except BaseException:
            wire.abort()
            raise
        return client, greeting

    # -- commands -----------------------------------------------------------------------------

    async def command(self, line: bytes, timeout: float) -> Reply:
        """Write one command line (see `distrib.send.wire.command_line`), return its reply."""
        self.wire.send(line, 1)
        return await self.wire.read(timeout)

    async def ehlo(self, name: str, timeout: float) -> Reply:
        """Say EHLO; on a 2xx reply, `extensions` holds what the server advertised."""
        reply = await self.command(command_line(b"EHLO", name.encode("ascii")), timeout)
        self.extensions = Extensions.parse(reply.text) if reply.positive else Extensions()
        return reply

    async def helo(self, name: str, timeout: float) -> Reply:
        """Say HELO (no extensions)."""
        self.extensions = Extensions()
        return await self.command(command_line(b"HELO", name.encode("ascii")), timeout)

    @property
    def encrypted(self) -> bool:
        """Tell whether the session runs over TLS."""
        return self.wire.encrypted

    async def starttls(self, context: ssl.SSLContext, timeout: float) -> Reply:
        """Say STARTTLS; on ``220``, shake hands (raises `TLSFailed`) and forget the
        extensions (say EHLO again).  Another reply is returned as it is, nothing changed."""
        self.wire.send(b"STARTTLS\r\n", 1, then_tls=True)
        reply = await self.wire.read(timeout)
        if reply.code != 220:
            return reply
        try:
            await self.wire.start_tls(context, self.host, timeout)
        except ssl.SSLError as exc:
            self.abort()
            raise TLSFailed(str(exc)) from None
        except TimeoutError:
            self.abort()
            raise Lost("no TLS handshake in time", timeout=True) from None
        except OSError as exc:
            self.abort()
            raise Lost(f"connection lost during the TLS handshake ({exc})") from None
        self.extensions = Extensions()
        return reply

    async def authenticate(self, mechanism: Mechanism, timeout: float) -> Reply:
        """Run an AUTH exchange with ``mechanism``; return the final reply (``235``: done).

        Raises `InsecureAuth` before anything is written on a connection without TLS, and
        `ValueError` when the mechanism cannot send its credentials.  A ``334`` that is not
        base64, or more than `MAX_AUTH_ROUNDS` of them, cancel the exchange (``*``).
        """
        if not self.encrypted:
            raise InsecureAuth("refusing to authenticate over an unencrypted connection")
        initial = await mechanism.start()
        if mechanism.secrets:  # e.g. a token, known only now: redacted from every reply too
            self.wire.scrub = self.wire.scrub.adding(mechanism.secrets)
        args = [mechanism.name.encode("ascii")]
        if initial is not None:
            args.append(base64.b64encode(initial) if initial else b"=")
        reply = await self.command(command_line(b"AUTH", *args), timeout)
        rounds = 0
        while reply.code == 334:
            rounds += 1
            challenge = _challenge(reply.text)
            answer = mechanism.respond(challenge) if challenge is not None else None
            if answer is None or rounds > MAX_AUTH_ROUNDS:
                line = b"*\r\n"  # cancel (RFC 4954 §4): the server answers 501
            else:
                line = command_line(base64.b64encode(answer)) if answer else b"\r\n"
            reply = await self.command(line, timeout)
            if line == b"*\r\n" and reply.code == 334:
                break  # a server that will not stop: the caller ends the session
        return reply

    async def quit(self, timeout: float = _QUIT_TIMEOUT) -> None:
        """Say QUIT (waiting briefly for its reply), then close."""
        if self.wire.usable:
            with contextlib.suppress(Lost):
                await self.command(b"QUIT\r\n", min(timeout, _QUIT_TIMEOUT))
        self.abort()

    def abort(self) -> None:
        """Close at once, without QUIT."""
        self.wire.abort()


def _challenge(text: str) -> bytes | None:
    """The decoded ``334`` challenge, None when it is not base64."""
    word = text.strip()
    try:
        return base64.b64decode(word, validate=True)
    except (binascii.Error, ValueError):
        return None
