"""What guards every request to `distrib ui`: the Host, the access key or the account, CSRF,
the size of a body, and the headers every answer carries.

``WorkspaceGuard`` is one ASGI middleware, in front of every route, so no page can forget it:

* **Host** must be the loopback (``127.0.0.1``, ``localhost``, ``[::1]``) or a name given with
  ``--allow-host``: a web page elsewhere cannot reach the server by pointing its own name at
  127.0.0.1 (DNS rebinding).  Refused: 400.
* **Who**: on a local server, the random access key printed by ``distrib ui`` is accepted once
  as ``?token=…`` (compared in constant time), then exchanged for a session cookie
  (``HttpOnly; SameSite=Strict``) and the address is reloaded without it.  On a team server,
  the sign-in form (`distrib.app.check_login`) opens the session.  No session: 401 (a page
  saying how to get in), or the sign-in form.  Static files (our CSS and script, no data) are
  the only thing served without a session.
* **CSRF**: every request other than GET/HEAD must carry the session's CSRF token, in the
  form's ``csrf`` field (every form of every page has it) or the ``X-CSRF-Token`` header; a
  request whose ``Origin`` is another site, or that the browser marks ``Sec-Fetch-Site:
  cross-site`` or ``same-site``, is refused before that.  Refused: 403.  (Our pages send no
  referrer, so browsers send ``Origin: null`` with our own forms: an unknown origin, not
  another site's; the token decides.)
* **Size**: a body larger than the limit is refused (413) before it is read.
* **Headers** on every answer: a strict ``Content-Security-Policy`` (scripts and styles from
  our own static files only, no plug-ins, no framing, no ``<base>``, forms to ourselves),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer``,
  ``Cache-Control: no-store``.  A route may set a stricter CSP of its own (the sandboxed frame).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

__all__ = [
    "CSP",
    "LOOPBACK_HOSTS",
    "SECURITY_HEADERS",
    "TOO_LARGE",
    "GuardSettings",
    "Session",
    "SessionStore",
    "WorkspaceGuard",
    "plain",
    "read_limited",
    "replay",
    "security_headers",
    "session_cookie",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
SESSION_COOKIE = "distrib_session"
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_MAX_SESSIONS = 1000


@dataclass
class Session:
    """One browser's session: who signed in, its CSRF token, its interface language."""

    id: str
    csrf: str
    user: str | None
    lang: str | None = None
    notices: list[str] = field(default_factory=list)


class SessionStore:
    """Sessions in memory (a server restart signs everyone out), at most 1,000 kept."""

    def __init__(self) -> None:
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def new(self, user: str | None) -> Session:
        """Open a session with fresh random identifiers."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user)
        with self._lock:
            self._sessions[session.id] = session
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The session of this cookie value, if it is one."""
        if not session_id:
            return None
        with self._lock:
            return self._sessions.get(session_id)

    def drop(self, session: Session) -> None:
        """Close ``session`` (signing out)."""
        with self._lock:
            self._sessions.pop(session.id, None)


@dataclass(frozen=True)
class GuardSettings:
    """How `WorkspaceGuard` lets requests in.

    ``access_token``: the key of a local server (None on a team server, which has
    ``team=True``: accounts and a sign-in form).  ``allowed_hosts``: host names (without port)
    the Host header may name.  ``max_body``: the largest request body, in bytes.
    ``secure_cookies``: add ``Secure`` (a team server is reached over HTTPS only).
    """

    access_token: str | None
    team: bool = False
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    max_body: int = 1 << 20
    secure_cookies: bool = False
    public_prefixes: tuple[str, ...] = ("/static/",)
    open_paths: frozenset[str] = frozenset({"/login"})


def security_headers(csp: str = CSP) -> list[tuple[bytes, bytes]]:
    """The headers every answer carries."""
    pairs = [("content-security-policy", csp), *SECURITY_HEADERS]
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def session_cookie(session: Session, secure: bool) -> str:
    """The Set-Cookie value that gives ``session`` to the browser (script cannot read it; no
    other site's request carries it)."""
    value = f"{SESSION_COOKIE}={session.id}; Path=/; HttpOnly; SameSite=Strict"
    return value + "; Secure" if secure else value


def _with_headers(send: Send, csp: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {name.lower() for name, _ in headers}
            headers.extend(
                (name, value) for name, value in security_headers(csp) if name not in present
            )
            message["headers"] = headers
        await send(message)

    return sending


async def plain(send: Send, status: int, text: str, *, extra: list[Any] | None = None) -> None:
    body = text.encode("utf-8")
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie") or ""
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def host_name(host: str) -> str:
    """``host`` of a Host header without its port, lower case (``[::1]`` kept bracketed)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class WorkspaceGuard:
    """The ASGI middleware described in this module's docstring.

    Pages (handlers and templates) give the denial pages through ``render_denied(scope, status,
    reason) -> (body, content type)`` so they are in the visitor's language.
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: GuardSettings,
        sessions: SessionStore,
        render_denied: Callable[[Scope, int, str], bytes],
    ) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.render_denied = render_denied

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # no websockets
        send = _with_headers(send, CSP)
        host = _header(scope, b"host")
        if host is None or host_name(host) not in self.settings.allowed_hosts:
            await plain(send, 400, "Refused: this server does not answer to that host name.")
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if any(path.startswith(p) for p in self.settings.public_prefixes):
            if method in _SAFE_METHODS:
                await self.app(scope, receive, send)
            else:
                await plain(send, 405, "Method not allowed")
            return
        if self.settings.access_token is not None:
            query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            if "token" in query:
                await self._exchange_token(scope, send, query["token"])
                return
        admitted = await self._admit(scope, send)
        if admitted is None:
            return
        session, send = admitted
        if method not in _SAFE_METHODS:
            checked = await self._checked_body(scope, receive, send, session)
            if checked is None:
                return
            receive = replay(checked, receive)
        scope.setdefault("state", {})
        scope["state"]["session"] = session
        await self.app(scope, receive, send)

    async def _admit(self, scope: Scope, send: Send) -> tuple[Session, Send] | None:
        """The request's session (and the ``send`` that sets its cookie if it is new), or None
        once the request was answered (401, or the sign-in form of a team server)."""
        session = self.sessions.get(_cookie(scope, SESSION_COOKIE))
        if session is not None and session.user is not None:
            return session, send
        if self.settings.team and scope.get("path") in self.settings.open_paths:
            if session is None:  # the sign-in form needs a CSRF token, so a session
                session = self.sessions.new(None)
                send = self._setting_cookie(send, session)
            return session, send
        if self.settings.team and scope.get("method") in _SAFE_METHODS:
            await self._redirect(send, "/login")
        else:
            await self._deny(scope, send, 401, "no session")
        return None

    async def _checked_body(
        self, scope: Scope, receive: Receive, send: Send, session: Session
    ) -> bytes | None:
        """The body of a request that changes something, once its origin, size and CSRF token
        are checked; None once the request was refused."""
        refusal = self._cross_site(scope)
        if refusal is not None:
            await self._deny(scope, send, 403, refusal)
            return None
        body = await read_limited(scope, receive, self.settings.max_body)
        if body is None:
            return None
        if body is TOO_LARGE:
            await self._deny(scope, send, 413, "too large")
            return None
        if not await self._csrf_ok(scope, body, session):
            await self._deny(scope, send, 403, "csrf")
            return None
        return body

    # -- the access key ------------------------------------------------------------------------

    async def _exchange_token(self, scope: Scope, send: Send, given: str) -> None:
        expected = self.settings.access_token or ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
            await self._deny(scope, send, 403, "wrong token")
            return
        session = self.sessions.new("local")
        query = [
            (k, v)
            for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"))
            if k != "token"
        ]
        target = scope.get("path", "/") + (f"?{urlencode(query)}" if query else "")
        await self._redirect(self._setting_cookie(send, session), target)

    def _setting_cookie(self, send: Send, session: Session) -> Send:
        cookie = (b"set-cookie", session_cookie(session, self.settings.secure_cookies).encode())

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), cookie]
            await send(message)

        return sending

    @staticmethod
    async def _redirect(send: Send, target: str) -> None:
        headers = [(b"location", target.encode("latin-1")), (b"content-length", b"0")]
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _deny(self, scope: Scope, send: Send, status: int, reason: str) -> None:
        body = self.render_denied(scope, status, reason)
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- CSRF ----------------------------------------------------------------------------------

    @staticmethod
    def _cross_site(scope: Scope) -> str | None:
        # With Referrer-Policy: no-referrer, browsers send "Origin: null" for our own forms; the
        # origin is then unknown (not another site), and Sec-Fetch-Site and the token decide.
        origin = _header(scope, b"origin")
        host = (_header(scope, b"host") or "").lower()
        if origin not in (None, "null") and urlsplit(origin).netloc.lower() != host:
            return "cross-origin"
        fetch_site = _header(scope, b"sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return "cross-site"
        return None

    async def _csrf_ok(self, scope: Scope, body: bytes, session: Session) -> bool:
        from starlette.requests import Request

        given = _header(scope, b"x-csrf-token")
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if given is None and content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            request = Request(dict(scope), replay(body))
            try:
                async with request.form(max_part_size=64 * 1024) as form:
                    value = form.get("csrf")
                    given = value if isinstance(value, str) else None
            except Exception:  # a malformed body is refused like a missing token
                return False
        if given is None:
            return False
        return hmac.compare_digest(given.encode("utf-8", "replace"), session.csrf.encode())


#: What `read_limited` returns for a body over the limit.
TOO_LARGE = b"\x00too large"


async def read_limited(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or `TOO_LARGE` (said by Content-Length, or found while reading:
    nothing past the limit is read), or None if the client went away."""
    declared = _header(scope, b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return TOO_LARGE
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay(body: bytes, then: Receive | None = None) -> Receive:
    """A ``receive`` that gives ``body`` again (the guard read it to check the token), then
    waits on ``then`` (the connection's own, which tells when the client goes away)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive
