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
"""

from __future__ import annotations

import asyncio
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
    ) -> None:
        self._answer = answer or (lambda session, line: None)
        self._greeting = greeting
        self._pipelining = pipelining
        self._auth = auth
        self._ssl = ssl
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
        writer.write(self._greeting)
        await writer.drain()
        while line := await reader.readline():
            session.commands.append(line)
            verb = line.split(b" ")[0].strip().upper()
            reply = self._answer(session, line)
            if reply is None:
                reply = self._usual(verb)
            writer.write(reply)
            await writer.drain()
            if session.close or (verb == b"QUIT" and reply.startswith(b"221")):
                return
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

    def _usual(self, verb: bytes) -> bytes:
        if verb == b"EHLO":
            lines = [b"relay.test", b"8BITMIME"]
            if self._pipelining:
                lines.append(b"PIPELINING")
            if self._auth:
                lines.append(b"AUTH " + self._auth.encode())
            return b"".join(
                b"250" + (b" " if i == len(lines) - 1 else b"-") + text + b"\r\n"
                for i, text in enumerate(lines)
            )
        if verb == b"DATA":
            return b"354 go ahead\r\n"
        if verb == b"QUIT":
            return b"221 bye\r\n"
        return b"250 ok\r\n"
