"""A hand-scripted SMTP relay on 127.0.0.1 (a free port) in its own thread, for the replies
aiosmtpd cannot be made to send: invalid UTF-8, control characters, extra or unsolicited
replies, gibberish, a 250 where a 354 belongs, an echo of what the client sent.

Every line the server reads (commands; after a 354, body lines) is recorded per session.
Each command line goes to ``answer(session, line)``, which returns the bytes to write back (any
bytes: several replies, half a reply, nothing at all with ``b""``) or None for the usual reply:

- the greeting ``greeting``; ``EHLO``: the relay's name, ``PIPELINING`` when ``pipelining``,
  ``AUTH`` with ``auth`` (e.g. ``"PLAIN LOGIN"``) when given; ``HELO``, ``MAIL``, ``RCPT``,
  ``RSET``, ``NOOP``: ``250``; ``DATA``: ``354``; ``QUIT``: ``221`` and the session ends;
- after a reply to ``DATA`` that starts with ``354``, the body is read up to the final dot, then
  ``answer(session, b".\\r\\n")`` gives the reply to the message (usual: ``250``).

``answer`` runs in the server's thread: it may block (e.g. write to a SQLite file) while the
client waits for its reply, which makes "while the message is in flight" an event, not a time.
Set ``session.close = True`` in it to close the connection after writing its reply.
``ssl``: a server context for implicit TLS from the first byte.

A relay that advertises **PIPELINING with STARTTLS and AUTH together** (what real submission
servers do), for the client's whole session:

- ``starttls``: a server context; EHLO offers ``STARTTLS`` until the session is encrypted, and
  a ``220`` reply to STARTTLS (the usual one, or any bytes ``answer`` gives that start with
  ``220``: e.g. a reply followed by injected plaintext) is followed by the TLS handshake.
  ``AUTH`` is offered only once the session is encrypted (as relays do), and a MAIL FROM
  before TLS is refused (``530 5.7.0``);
- ``users``: checks ``AUTH PLAIN`` and ``AUTH LOGIN`` against these logins (``235`` or
  ``535``) and refuses MAIL FROM before a successful AUTH (``530 5.7.0``); each session's
  ``user`` is who logged in;
- ``strict_pipelining``: the replies to MAIL FROM and RCPT TO are held back until the command
  that ends a group (DATA, RSET, NOOP, QUIT) arrives, as RFC 2920 allows a server to do: a
  client that waits for each reply before writing the next command never gets one.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import ssl as ssl_module
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Answer", "RawSMTPServer", "Session"]


@dataclass
class Session:
    """One connection, as the server saw it."""

    number: int
    commands: list[bytes] = field(default_factory=list)  # every command line read, in order
    body: list[bytes] = field(default_factory=list)  # lines read after a 354
    messages: list[bytes] = field(default_factory=list)  # bodies read up to the final dot
    state: dict[str, Any] = field(default_factory=dict)  # free for ``answer``
    close: bool = False
    tls: bool = False  # the session is encrypted (implicit TLS, or after STARTTLS)
    user: str | None = None  # who logged in (with ``users``)
    tls_commands: list[bool] = field(default_factory=list)  # per command: read under TLS

    def verbs(self) -> list[bytes]:
        """The first word of every command line, upper-cased."""
        return [line.split(b" ")[0].strip().upper() for line in self.commands]


Answer = Callable[[Session, bytes], bytes | None]


class RawSMTPServer:
    """A scripted SMTP relay in a thread; use as a context manager."""

    def __init__(
        self,
        answer: Answer | None = None,
        *,
        greeting: bytes = b"220 relay.test ESMTP\r\n",
        pipelining: bool = False,
        auth: str | None = None,
        ssl: ssl_module.SSLContext | None = None,
        starttls: ssl_module.SSLContext | None = None,
        users: dict[str, str] | None = None,
        strict_pipelining: bool = False,
    ) -> None:
        self._answer = answer or (lambda session, line: None)
        self._greeting = greeting
        self._pipelining = pipelining or strict_pipelining
        self._auth = auth or ("PLAIN LOGIN" if users else None)
        self._ssl = ssl
        self._starttls = starttls
        self._users = users
        self._strict = strict_pipelining
        self._lock = threading.Lock()
        self._sessions: list[Session] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # -- lifetime -----------------------------------------------------------------------------

    def __enter__(self) -> RawSMTPServer:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = started.result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0, ssl=self._ssl)
        return int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    # -- what it saw --------------------------------------------------------------------------

    @property
    def sessions(self) -> list[Session]:
        """Every session so far, in the order they connected."""
        with self._lock:
            return list(self._sessions)

    @property
    def messages(self) -> list[bytes]:
        """Every body read up to its final dot, in order."""
        return [m for s in self.sessions for m in s.messages]

    @property
    def body_lines(self) -> list[bytes]:
        """Every line read after a 354, whether or not its final dot came."""
        return [b for s in self.sessions for b in s.body]

    def verbs(self) -> list[bytes]:
        """Every command verb read, over all sessions, in order of sessions."""
        return [v for s in self.sessions for v in s.verbs()]

    # -- one session --------------------------------------------------------------------------

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        with self._lock:
            session = Session(len(self._sessions) + 1)
            self._sessions.append(session)
        try:
            with contextlib.suppress(ConnectionError, ssl_module.SSLError):
                await self._converse(session, reader, writer)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _converse(
        self, session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        session.tls = self._ssl is not None
        writer.write(self._greeting)
        await writer.drain()
        held = b""  # replies held back (strict_pipelining) until a group ends
        while line := await reader.readline():
            session.commands.append(line)
            session.tls_commands.append(session.tls)
            verb = line.split(b" ")[0].strip().upper()
            reply = self._answer(session, line)
            if reply is None:
                reply = await self._usual(session, verb, line, reader, writer)
            if self._strict and verb in {b"MAIL", b"RCPT"}:
                held += reply
                continue
            writer.write(held + reply)
            held = b""
            await writer.drain()
            if session.close or (verb == b"QUIT" and reply.startswith(b"221")):
                return
            if verb == b"STARTTLS" and reply.startswith(b"220") and self._starttls is not None:
                await writer.start_tls(self._starttls)
                session.tls = True
                continue
            if verb == b"DATA" and reply.startswith(b"354"):
                if not await self._body(session, reader):
                    return
                reply = self._answer(session, b".\r\n")
                writer.write(b"250 2.0.0 queued\r\n" if reply is None else reply)
                await writer.drain()
                if session.close:
                    return

    async def _body(self, session: Session, reader: asyncio.StreamReader) -> bool:
        lines: list[bytes] = []
        while (line := await reader.readline()) != b".\r\n":
            if not line:
                return False  # the client hung up in the middle of the body
            session.body.append(line)
            lines.append(line)
        session.messages.append(b"".join(lines))
        return True

    async def _usual(
        self,
        session: Session,
        verb: bytes,
        line: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bytes:
        if verb == b"EHLO":
            lines = [b"relay.test", b"8BITMIME"]
            if self._pipelining:
                lines.append(b"PIPELINING")
            if self._starttls is not None and not session.tls:
                lines.append(b"STARTTLS")
            if self._auth and (session.tls or self._starttls is None):
                lines.append(b"AUTH " + self._auth.encode())
            return b"".join(
                b"250" + (b" " if i == len(lines) - 1 else b"-") + text + b"\r\n"
                for i, text in enumerate(lines)
            )
        if verb == b"STARTTLS" and self._starttls is not None:
            return b"454 4.7.0 already encrypted\r\n" if session.tls else b"220 2.0.0 go ahead\r\n"
        if verb == b"AUTH" and self._users is not None:
            return await self._login(session, line, reader, writer)
        if verb == b"MAIL" and (
            (self._starttls is not None and not session.tls)
            or (self._users is not None and session.user is None)
        ):
            return b"530 5.7.0 Must issue a STARTTLS command and authenticate first\r\n"
        if verb == b"DATA":
            return b"354 go ahead\r\n"
        if verb == b"QUIT":
            return b"221 bye\r\n"
        return b"250 ok\r\n"

    async def _login(
        self,
        session: Session,
        line: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bytes:
        """AUTH PLAIN (initial response or not) and AUTH LOGIN against ``users``."""
        assert self._users is not None
        words = line.split()
        mechanism = words[1].upper() if len(words) > 1 else b""

        async def ask(challenge: bytes) -> bytes | None:
            writer.write(b"334 " + base64.b64encode(challenge) + b"\r\n")
            await writer.drain()
            answer = (await reader.readline()).strip()
            session.commands.append(answer + b"\r\n")  # recorded like a command line
            session.tls_commands.append(session.tls)
            return None if answer == b"*" else _b64(answer)

        if mechanism == b"PLAIN":
            blob = _b64(words[2]) if len(words) > 2 else await ask(b"")
            parts = blob.split(b"\0") if blob is not None else []
            user, password = (parts[1], parts[2]) if len(parts) == 3 else (b"", None)
        elif mechanism == b"LOGIN":
            user = await ask(b"Username:") or b""
            password = await ask(b"Password:")
        else:
            return b"504 5.5.4 mechanism not supported\r\n"
        name = user.decode("utf-8", "replace")
        if password is not None and self._users.get(name, "").encode() == password != b"":
            session.user = name
            return b"235 2.7.0 Authentication successful\r\n"
        return b"535 5.7.8 Authentication credentials invalid\r\n"


def _b64(word: bytes) -> bytes | None:
    try:
        return base64.b64decode(word, validate=True)
    except (binascii.Error, ValueError):
        return None
