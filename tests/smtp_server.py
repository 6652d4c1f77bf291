"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 (a free port) in its own thread.

It records everything (every command, every envelope with the exact bytes received, which
connection it came on, whether it was encrypted and who was logged in) and answers as scripted::

    server.script("RCPT", "550 5.1.1 No such user", address="nobody@example.org")
    server.script("RCPT", "451 4.7.1 greylisted", times=2)        # then accept
    server.script("DOT", disconnect=True)      # body received, no reply to the final dot
    server.script("DOT", "250 OK", delay=2.0)  # slow reply to the final dot
    server.script("RCPT", delay=0.05)          # slow, then handled as usual
    server.script("MAIL", "421 4.3.2 closing", close=True, times=1)
    server.script("RCPT", disconnect=True, skip=3, times=1, action=kill)  # at the 4th RCPT
    server.script("DOT", hold=go, times=1, action=seen)  # hold the reply until go is set

Commands that can be scripted: ``CONNECT`` (replaces the 220 greeting), ``STARTTLS``, ``AUTH``
(answered before any credentials are read), ``MAIL`` (matched on the sender), ``RCPT`` (the
recipient), ``DATA`` (the DATA command itself, before 354) and ``DOT`` (the reply to the final
dot, after the body was received); for ``DATA`` and ``DOT`` ``address`` matches the first
recipient.  ``skip=N`` lets the first N matching commands through as usual (the rule counts
from when it is added).  ``action`` is called, in the server's thread, with the matched address
when the rule fires, before anything else (the crash tests kill the client there: a point chosen
by an event, not by time); ``hold`` (a `threading.Event`) then keeps the command waiting until
the test sets it.  Commands and messages carry ``at``, the server's ``time.monotonic()`` when read.
``max_sessions`` makes the server greet extra concurrent connections with ``421`` and close
them, as relays that cap connections do (first come, first served, counted as they arrive).
``pipelining=True`` advertises PIPELINING (RFC 2920).
``connections`` counts sessions that said EHLO or HELO (so aiosmtpd's own start-up probe and
port scans do not count).
"""

from __future__ import annotations

import asyncio
import email.policy
import email.utils
import itertools
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from distrib.config import SMTPConfig
from distrib.deliverylog import DeliveryLog, NewMessage, Run
from distrib.send import Outgoing

__all__ = [
    "Command",
    "Received",
    "Rule",
    "SMTPTestServer",
    "TLSFiles",
    "build_message",
    "plan_messages",
]

TLSMode = Literal["starttls", "implicit"] | None
SCRIPTABLE = frozenset({"CONNECT", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "DOT"})


@dataclass(frozen=True)
class TLSFiles:
    """A throw-away CA (trustme) and its certificate file, for servers and clients in tests."""

    ca: trustme.CA
    ca_file: Path

    @classmethod
    def create(cls, folder: Path) -> TLSFiles:
        """Make a CA and write its certificate to ``folder``."""
        ca = trustme.CA()
        ca_file = folder / "test-ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        return cls(ca, ca_file)

    def server_context(self) -> ssl.SSLContext:
        """Return a server context with a certificate for 127.0.0.1 and localhost."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        return context


@dataclass
class Rule:
    """One scripted reaction.  ``times`` None: every matching command; else the first N."""

    command: str
    reply: str | None = None
    address: str | None = None
    times: int | None = None
    disconnect: bool = False
    close: bool = False
    delay: float = 0.0
    hits: int = 0
    skip: int = 0  # let this many matching commands through first
    action: Callable[[str | None], object] | None = None  # called with the address when it fires
    hold: threading.Event | None = None  # wait until it is set before going on
    seen: int = 0  # matching commands let through by ``skip``


@dataclass(frozen=True)
class Command:
    """One command the server read (AUTH is recorded without its credentials)."""

    session: int
    verb: str
    arg: str
    tls: bool
    at: float = 0.0  # time.monotonic() when the server read it


@dataclass
class Received:
    """One message body the server read to the final dot, and what it answered (None: nothing,
    the connection was closed or is still waiting)."""

    session: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    mail_options: tuple[str, ...]
    tls: bool
    user: str | None
    reply: str | None = None
    at: float = 0.0  # time.monotonic() when the final dot was read

    @property
    def accepted(self) -> bool:
        """Tell whether the server answered 2xx to the final dot."""
        return self.reply is not None and self.reply.startswith("2")


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    rules: list[Rule] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    greeted: set[int] = field(default_factory=set)
    logins: list[tuple[int, str, bool]] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    max_sessions: int | None = None
    active: int = 0
    admitted: int = 0  # sessions holding one of the max_sessions places
    peak: int = 0
    refused: int = 0  # connections greeted with 421 because of max_sessions
    pipelining: bool = False

    def match(self, command: str, address: str | None) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.command != command:
                    continue
                if rule.address is not None and rule.address != address:
                    continue
                if rule.times is not None and rule.hits >= rule.times:
                    continue
                if rule.seen < rule.skip:
                    rule.seen += 1
                    continue
                rule.hits += 1
                return rule
        return None


def _tls(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("sslcontext") is not None


async def _hang_up(server: SMTP) -> None:
    """Close the connection and wait to be cancelled (aiosmtpd cancels us on connection_lost)."""
    assert server.transport is not None
    server.transport.close()
    await asyncio.Event().wait()


async def _act(server: SMTP, rule: Rule, address: str | None = None) -> str | None:
    """Carry out ``rule``; return the reply to send, or None for a rule that only delays, holds
    or acts (the command is then handled as usual).  Never returns when it disconnects."""
    if rule.action is not None:
        rule.action(address)
    if rule.hold is not None:
        while not rule.hold.is_set():  # polled: a cancelled session must not leave a thread
            await asyncio.sleep(0.002)
    if rule.delay:
        await asyncio.sleep(rule.delay)
    if rule.disconnect:
        await _hang_up(server)
    if rule.reply is None:
        return None
    if rule.close:
        await server.push(rule.reply)
        await _hang_up(server)
    return rule.reply


class _Handler:
    """aiosmtpd handler hooks: scripted replies for MAIL and RCPT, recording at the dot."""

    def __init__(self, state: _State) -> None:
        self.state = state

    async def handle_EHLO(
        self,
        server: _RecordingSMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        if self.state.pipelining:
            # aiosmtpd reads one command line at a time, so it serves pipelined commands as
            # they come; it just does not say so.
            responses.insert(len(responses) - 1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self,
        server: _RecordingSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        rule = self.state.match("MAIL", address)
        reply = await _act(server, rule, address) if rule is not None else None
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: _RecordingSMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        rule = self.state.match("RCPT", address)
        reply = await _act(server, rule, address) if rule is not None else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(
        self, server: _RecordingSMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content
        assert isinstance(content, bytes)
        received = Received(
            session=server.session_id,
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=content,
            mail_options=tuple(envelope.mail_options),
            tls=_tls(server),
            user=server.user,
            at=time.monotonic(),
        )
        with self.state.lock:
            self.state.received.append(received)
        first = envelope.rcpt_tos[0] if envelope.rcpt_tos else None
        rule = self.state.match("DOT", first)
        reply = await _act(server, rule, first) if rule is not None else None
        if reply is None:
            with self.state.lock:
                number = len(self.state.received)
            reply = f"250 2.0.0 OK queued as Q{number}"
        received.reply = reply
        return reply

    def authenticate(
        self,
        server: _RecordingSMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        ok = False
        login = ""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            expected = self.state.users.get(login)
            ok = expected is not None and auth_data.password == expected.encode()
        with self.state.lock:
            self.state.logins.append((server.session_id, login, ok))
        if ok:
            server.user = login
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP, numbering its connection and recording each command."""

    def __init__(self, handler: _Handler, *, state: _State, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.state = state
        self.session_id = next(state.ids)
        self.user: str | None = None
        self._counted = False
        self._admitted = False  # one of the max_sessions places is this session's
        self._greeted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._counted:  # not again when STARTTLS swaps the transport
            self._counted = True
            with self.state.lock:
                self.state.active += 1
                # First come, first served, as a relay's connection limit counts connections
                # when they arrive: two clients connecting at once do not both get turned away.
                cap = self.state.max_sessions
                if cap is None or self.state.admitted < cap:
                    self._admitted = True
                    self.state.admitted += 1
                    self.state.peak = max(self.state.peak, self.state.admitted)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            self._counted = False
            with self.state.lock:
                self.state.active -= 1
                if self._admitted:
                    self.state.admitted -= 1
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        if not self._greeted:
            self._greeted = True  # the first push is the 220 greeting
            if not self._admitted:
                with self.state.lock:
                    self.state.refused += 1
                await super().push("421 4.7.0 Too many connections, try again later")
                await _hang_up(self)
            rule = self.state.match("CONNECT", None)
            reply = await _act(self, rule) if rule is not None else None
            if reply is not None:
                status = reply
        await super().push(status)

    def _note(self, verb: str, arg: str | None) -> None:
        with self.state.lock:
            command = Command(self.session_id, verb, arg or "", _tls(self), time.monotonic())
            self.state.commands.append(command)
            if verb in {"EHLO", "HELO"}:
                self.state.greeted.add(self.session_id)

    async def smtp_EHLO(self, hostname: str) -> None:
        self._note("EHLO", hostname)
        await super().smtp_EHLO(hostname)

    async def smtp_HELO(self, hostname: str) -> None:
        self._note("HELO", hostname)
        await super().smtp_HELO(hostname)

    async def smtp_STARTTLS(self, arg: str) -> None:
        self._note("STARTTLS", arg)
        rule = self.state.match("STARTTLS", None)
        reply = await _act(self, rule) if rule is not None else None
        if reply is not None:
            await self.push(reply)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_AUTH(self, arg: str) -> None:
        # Only the mechanism: tests must be able to print commands without printing secrets.
        self._note("AUTH", (arg or "").split(" ")[0])
        rule = self.state.match("AUTH", None)
        reply = await _act(self, rule) if rule is not None else None
        if reply is not None:
            await self.push(reply)
            return
        await super().smtp_AUTH(arg)

    async def smtp_MAIL(self, arg: str | None) -> None:
        self._note("MAIL", arg)
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        self._note("RCPT", arg)
        await super().smtp_RCPT(arg)

    async def smtp_RSET(self, arg: str) -> None:
        self._note("RSET", arg)
        await super().smtp_RSET(arg)

    async def smtp_QUIT(self, arg: str) -> None:
        self._note("QUIT", arg)
        await super().smtp_QUIT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        self._note("DATA", arg)
        envelope = self.envelope
        first = envelope.rcpt_tos[0] if envelope is not None and envelope.rcpt_tos else None
        rule = self.state.match("DATA", first) if first is not None else None
        reply = await _act(self, rule, first) if rule is not None else None
        if reply is not None:
            await self.push(reply)
            return
        await super().smtp_DATA(arg)


class _Controller(Controller):
    def __init__(self, handler: _Handler, state: _State, **kwargs: Any) -> None:
        super().__init__(handler, hostname="127.0.0.1", port=0, **kwargs)
        self.state = state

    def factory(self) -> _RecordingSMTP:
        return _RecordingSMTP(self.handler, state=self.state, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Port 0: learn the port the OS chose before the base class probes the server.
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPTestServer:
    """A recording, scriptable SMTP server on 127.0.0.1; use as a context manager.

    ``tls``: None (plaintext), ``"starttls"`` (offers STARTTLS) or ``"implicit"`` (TLS from the
    first byte); both need ``tls_files``.  ``users`` enables AUTH PLAIN/LOGIN with these
    logins; ``auth_required`` refuses MAIL before AUTH (530; not with ``"implicit"``, where
    aiosmtpd would warn); ``auth_require_tls=False`` offers AUTH on a plaintext connection (to
    prove a client does not use it).
    """

    def __init__(
        self,
        *,
        tls: TLSMode = None,
        tls_files: TLSFiles | None = None,
        require_starttls: bool = False,
        users: dict[str, str] | None = None,
        auth_required: bool = False,
        auth_require_tls: bool = True,
        smtputf8: bool = True,
        data_size_limit: int = 32 * 1024 * 1024,
        max_sessions: int | None = None,
        pipelining: bool = False,
    ) -> None:
        if tls is not None and tls_files is None:
            raise ValueError("a TLS server needs tls_files")
        self.tls = tls
        self.tls_files = tls_files
        self._state = _State(
            users=dict(users or {}), max_sessions=max_sessions, pipelining=pipelining
        )
        handler = _Handler(self._state)
        kwargs: dict[str, Any] = {
            "server_hostname": "smtp.test",
            "enable_SMTPUTF8": smtputf8,
            "data_size_limit": data_size_limit,
            "auth_required": auth_required,
            "auth_require_tls": auth_require_tls,
            "authenticator": handler.authenticate,
        }
        if tls == "starttls":
            assert tls_files is not None
            kwargs["tls_context"] = tls_files.server_context()
            kwargs["require_starttls"] = require_starttls
        elif tls == "implicit":
            assert tls_files is not None
            kwargs["ssl_context"] = tls_files.server_context()
            # aiosmtpd only counts STARTTLS as TLS; this connection is encrypted from the start.
            kwargs["auth_require_tls"] = False
        self._controller = _Controller(handler, self._state, **kwargs)
        self._running = False

    def start(self) -> SMTPTestServer:
        """Start listening (in a thread)."""
        self._controller.start()
        self._running = True
        # aiosmtpd's start-up probe reads the greeting and hangs up; until the server has seen
        # it go, it counts as a session (a test with max_sessions=1 would be refused by it).
        deadline = time.monotonic() + 30
        while self.active_sessions and time.monotonic() < deadline:
            time.sleep(0.001)
        with self._state.lock:
            self._state.peak = 0
        return self

    def stop(self) -> None:
        """Stop the server and its thread."""
        if self._running:
            self._running = False
            self._controller.stop()

    def __enter__(self) -> SMTPTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """Return the address the server listens on."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        return int(self._controller.port)

    def script(
        self,
        command: str,
        reply: str | None = None,
        *,
        address: str | None = None,
        times: int | None = None,
        disconnect: bool = False,
        close: bool = False,
        delay: float = 0.0,
        skip: int = 0,
        action: Callable[[str | None], object] | None = None,
        hold: threading.Event | None = None,
    ) -> Rule:
        """Add a scripted reaction to ``command`` (see the module docstring); first match wins."""
        command = command.upper()
        if command not in SCRIPTABLE:
            raise ValueError(f"cannot script {command}; choose from {sorted(SCRIPTABLE)}")
        if reply is None and not disconnect and not delay and action is None and hold is None:
            raise ValueError("a rule needs a reply, disconnect=True, a delay, an action or a hold")
        if close and reply is None:
            raise ValueError("close=True sends the reply first: give one")
        rule = Rule(command, reply, address, times, disconnect, close, delay, skip=skip,
                    action=action, hold=hold)  # fmt: skip
        with self._state.lock:
            self._state.rules.append(rule)
        return rule

    @property
    def messages(self) -> list[Received]:
        """Return every message body received, in order (whatever the reply to the dot was)."""
        with self._state.lock:
            return list(self._state.received)

    def received_for(self, address: str) -> list[Received]:
        """Return the messages received for ``address`` (one RCPT per transaction)."""
        return [m for m in self.messages if address in m.rcpt_tos]

    @property
    def commands(self) -> list[Command]:
        """Return every command read, in order."""
        with self._state.lock:
            return list(self._state.commands)

    def verbs(self) -> list[str]:
        """Return the verbs of every command read, in order (handy in assertions)."""
        return [c.verb for c in self.commands]

    @property
    def logins(self) -> list[tuple[int, str, bool]]:
        """Return every AUTH attempt as (session, login, succeeded)."""
        with self._state.lock:
            return list(self._state.logins)

    @property
    def connections(self) -> int:
        """Return how many sessions said EHLO or HELO."""
        with self._state.lock:
            return len(self._state.greeted)

    @property
    def active_sessions(self) -> int:
        """Return how many connections are open right now (0: every session has ended, and no
        command of a killed client is still waiting to be read)."""
        with self._state.lock:
            return self._state.active

    @property
    def refused_sessions(self) -> int:
        """Return how many connections were turned away with 421 because of ``max_sessions``."""
        with self._state.lock:
            return self._state.refused

    @property
    def peak_sessions(self) -> int:
        """Return the most connections that held a ``max_sessions`` place at the same time."""
        with self._state.lock:
            return self._state.peak

    def smtp_config(self, **overrides: Any) -> SMTPConfig:
        """Return an `SMTPConfig` pointing at this server (short timeouts for tests)."""
        security = {None: "none", "starttls": "starttls", "implicit": "tls"}[self.tls]
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "security": security,
            "timeout": 5.0,
            "data_timeout": 5.0,
            "local_hostname": "client.test",
        }
        if self.tls_files is not None:
            values["ca_file"] = self.tls_files.ca_file
        values.update(overrides)
        return SMTPConfig(**values)


# -- messages to send through it --------------------------------------------------------------


def build_message(
    sender: str, recipient: str, *, subject: str = "Communiqué", body: str | None = None
) -> bytes:
    """Build a small real RFC 5322 message (CRLF line endings, one line starting with a dot)."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = email.utils.make_msgid(domain="example.org")
    message.set_content(body if body is not None else f"Bonjour {recipient},\n.\n..leading dots\n")
    return message.as_bytes()


def plan_messages(
    log: DeliveryLog,
    recipients: list[str],
    *,
    sender: str = "press@example.org",
    campaign: str = "test-campaign",
) -> tuple[Run, list[Outgoing]]:
    """Plan a run with one ready message per recipient and return it with what to send."""
    run = log.create_run(campaign, f"{campaign}.toml")
    log.add_messages(
        run.id,
        [NewMessage(key=f"key-{i}", recipient=r, address=r) for i, r in enumerate(recipients)],
    )
    outgoing = []
    for row in log.messages(run.id):
        data = build_message(sender, row.address)
        message_id = f"<{row.key}@example.org>"
        outgoing.append(Outgoing(row.id, sender, row.address, data, message_id))
    return run, outgoing
