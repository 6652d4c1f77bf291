"""An SMTP server for the tests that requires OAuth2: aiosmtpd on 127.0.0.1 (a free port),
STARTTLS with a trustme certificate, AUTH ``XOAUTH2`` and ``OAUTHBEARER`` only (no PLAIN, no
LOGIN), and MAIL refused before AUTH, as Microsoft 365 and Gmail behave.

The token is checked by ``check(user, token)`` (in the tests: the local token service's
`TokenServer.user_of`).  A refused token gets what Gmail sends: a ``334`` challenge with base64
JSON (``{"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}``), then ``535
5.7.8`` after the client's empty answer.  Every AUTH attempt is recorded as (mechanism, user,
accepted), never with its token.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session

from smtp_server import TLSFiles

Check = Callable[[str, str], bool]
ERROR_CHALLENGE = {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"}


@dataclass
class _State:
    check: Check
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list[tuple[str, str, bool]] = field(default_factory=list)
    messages: list[tuple[str | None, str, list[str], bytes]] = field(default_factory=list)
    raw_auth: list[str] = field(default_factory=list)  # the base64 blobs, for leak checks


def _parse_xoauth2(raw: bytes) -> tuple[str, str] | None:
    fields = raw.split(b"\x01")
    if len(fields) != 4 or fields[2:] != [b"", b""]:
        return None
    user, auth = fields[0], fields[1]
    if not user.startswith(b"user=") or not auth.startswith(b"auth=Bearer "):
        return None
    return user[5:].decode(), auth[12:].decode()


def _parse_oauthbearer(raw: bytes) -> tuple[str, str] | None:
    header, _, rest = raw.partition(b"\x01")
    if not header.startswith(b"n,a=") or not rest.endswith(b"\x01\x01"):
        return None
    user = header[4:].rstrip(b",").decode().replace("=2C", ",").replace("=3D", "=")
    pairs = dict(item.split(b"=", 1) for item in rest[:-2].split(b"\x01") if b"=" in item)
    auth = pairs.get(b"auth", b"")
    if not auth.startswith(b"Bearer "):
        return None
    return user, auth[7:].decode()


class _Handler:
    def __init__(self, state: _State) -> None:
        self.state = state

    async def _oauth(self, server: SMTP, args: list[str], mechanism: str) -> AuthResult:
        if len(args) != 2:
            await server.push("501 5.5.2 an initial response is required")
            return AuthResult(success=False, handled=True)
        with self.state.lock:
            self.state.raw_auth.append(args[1])
        try:
            raw = base64.b64decode(args[1], validate=True)
        except binascii.Error:
            await server.push("501 5.5.2 Can't decode base64")
            return AuthResult(success=False, handled=True)
        parsed = _parse_xoauth2(raw) if mechanism == "XOAUTH2" else _parse_oauthbearer(raw)
        ok = parsed is not None and self.state.check(*parsed)
        with self.state.lock:
            self.state.attempts.append((mechanism, parsed[0] if parsed else "", ok))
        if ok:
            assert parsed is not None
            return AuthResult(success=True, auth_data=parsed[0])
        challenge = json.dumps(ERROR_CHALLENGE).encode()
        await server.challenge_auth(challenge)  # the client answers with an empty line or ^A
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._oauth(server, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._oauth(server, args, "OAUTHBEARER")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content
        assert isinstance(content, bytes)
        user = session.auth_data if isinstance(session.auth_data, str) else None
        with self.state.lock:
            self.state.messages.append(
                (user, envelope.mail_from or "", list(envelope.rcpt_tos), content)
            )
        return "250 2.0.0 OK queued"


class _Controller(Controller):
    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class OAuthSMTPServer:
    """STARTTLS, then AUTH XOAUTH2 / OAUTHBEARER only; ``mechanisms`` narrows what is offered."""

    def __init__(
        self,
        tls_files: TLSFiles,
        check: Check,
        *,
        mechanisms: tuple[str, ...] = ("XOAUTH2", "OAUTHBEARER"),
    ) -> None:
        self.state = _State(check)
        excluded = ["PLAIN", "LOGIN"] + [
            m for m in ("XOAUTH2", "OAUTHBEARER") if m not in mechanisms
        ]
        kwargs: dict[str, Any] = {
            "server_hostname": "smtp.test",
            "tls_context": tls_files.server_context(),
            "require_starttls": True,
            "auth_required": True,
            "auth_require_tls": True,
            "auth_exclude_mechanism": excluded,
        }
        self._controller = _Controller(_Handler(self.state), hostname="127.0.0.1", port=0, **kwargs)

    def start(self) -> OAuthSMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def attempts(self) -> list[tuple[str, str, bool]]:
        with self.state.lock:
            return list(self.state.attempts)

    def messages(self) -> list[tuple[str | None, str, list[str], bytes]]:
        with self.state.lock:
            return list(self.state.messages)
