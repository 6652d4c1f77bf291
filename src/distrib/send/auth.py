"""SASL mechanisms for SMTP AUTH (RFC 4954): PLAIN, LOGIN, CRAM-MD5, XOAUTH2 and OAUTHBEARER.

A mechanism is a small object with a ``name``, an initial response (``start``, awaited: an
OAuth2 mechanism asks its token source for a token there) and an answer to each ``334``
challenge (``respond``; None cancels the exchange with ``*``).  `distrib.send.smtp_client`
runs the exchange (base64, the ``334`` loop, a bound on the rounds) and refuses to run it on a
connection that is not encrypted; `choose` picks the mechanism from what the server offers.

Another mechanism plugs in by implementing `Mechanism`: e.g. a relay's own OAuth2 flavour, or
`XOAuth2` fed by an OAuth2 token provider (``XOAuth2(user, provider.access_token)``: any
callable returning the token, or an awaitable of it).  ``secrets`` tells the connection what a
reply quoting the exchange back must have redacted (`distrib.send.replies.Scrubber`); it is
known after ``start`` (a token is only fetched then).

Nothing here logs, prints, or puts a secret in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
import re
from collections.abc import Awaitable, Callable, Collection
from typing import Protocol

__all__ = [
    "CramMD5",
    "Login",
    "Mechanism",
    "OAuthBearer",
    "Plain",
    "TokenSource",
    "Tokens",
    "XOAuth2",
    "choose",
]

#: An OAuth2 access token, now: returned, or awaited.
TokenSource = Callable[[], str | Awaitable[str]]
#: RFC 6750 b64token: what a bearer token may hold.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: The mechanisms used with a password, most preferred first (the connection is encrypted:
#: PLAIN costs one round trip; CRAM-MD5 last, its MD5 adds nothing over TLS).
PASSWORD_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")
#: With an OAuth2 token: XOAUTH2 (what Microsoft and Google document), else RFC 7628.
TOKEN_MECHANISMS = ("XOAUTH2", "OAUTHBEARER")


class Tokens(Protocol):
    """Where OAuth2 access tokens come from (`distrib.relay.oauth.TokenProvider` is one): a
    token valid now, or a new one with ``force_refresh`` (the server refused the last one).
    Called in a worker thread: a refresh is an HTTPS round trip."""

    def access_token(self, *, force_refresh: bool = False) -> str:
        """A valid access token (never logged, printed or stored by the caller)."""
        ...


class Mechanism(Protocol):
    """One SASL mechanism's side of an AUTH exchange."""

    @property
    def name(self) -> str:
        """The mechanism's name as in EHLO's AUTH line (``PLAIN``)."""
        ...

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be shown if the server quotes it (known after `start`)."""
        ...

    async def start(self) -> bytes | None:
        """The initial response (sent with ``AUTH``), or None to wait for a challenge.

        Raises `ValueError` (never holding a secret) when the credentials cannot be sent."""
        ...

    def respond(self, challenge: bytes) -> bytes | None:
        """The answer to a ``334`` challenge (decoded), or None to cancel the exchange."""
        ...


def _utf8(what: str, value: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"the {what} is not valid text") from None


class Plain:
    """PLAIN (RFC 4616): ``\\0user\\0password`` as the initial response."""

    name = "PLAIN"

    def __init__(self, user: str, password: str) -> None:
        self._user, self._password = user, password
        self._asked = False

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._password,)

    def _blob(self) -> bytes:
        user, password = _utf8("user name", self._user), _utf8("password", self._password)
        if b"\0" in user or b"\0" in password:
            raise ValueError("the user name or the password holds a NUL character")
        return b"\0" + user + b"\0" + password

    async def start(self) -> bytes | None:
        return self._blob()

    def respond(self, challenge: bytes) -> bytes | None:
        # A server that ignored the initial response asks with an empty challenge, once.
        if challenge or self._asked:
            return None
        self._asked = True
        return self._blob()


class Login:
    """LOGIN (draft-murchison-sasl-login): the user, then the password, each asked for."""

    name = "LOGIN"

    def __init__(self, user: str, password: str) -> None:
        self._user, self._password = user, password
        self._step = 0

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._password,)

    async def start(self) -> bytes | None:
        return None  # wait for "Username:" (the form every server understands)

    def respond(self, challenge: bytes) -> bytes | None:
        self._step += 1
        if self._step > 2:
            return None
        asked = challenge.lower()
        if b"pass" in asked or (b"user" not in asked and self._step == 2):
            return _utf8("password", self._password)
        return _utf8("user name", self._user)


class CramMD5:
    """CRAM-MD5 (RFC 2195): the user and an HMAC-MD5 of the server's challenge."""

    name = "CRAM-MD5"

    def __init__(self, user: str, password: str) -> None:
        self._user, self._password = user, password
        self._done = False

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._password,)

    async def start(self) -> bytes | None:
        return None

    def respond(self, challenge: bytes) -> bytes | None:
        if self._done or not challenge:
            return None
        self._done = True
        key = _utf8("password", self._password)
        digest = hmac.new(key, challenge, hashlib.md5).hexdigest()
        return _utf8("user name", self._user) + b" " + digest.encode("ascii")


async def _token(source: TokenSource) -> str:
    token = source()
    if inspect.isawaitable(token):
        token = await token
    if not isinstance(token, str) or not _B64TOKEN.fullmatch(token):
        raise ValueError("the access token is not a valid bearer token (RFC 6750)")
    return token


def _oauth_user(user: str) -> bytes:
    if not user or _CONTROL.search(user):
        raise ValueError("the account name is empty or holds a control character")
    return _utf8("account name", user)


class XOAuth2:
    """XOAUTH2 (Google's and Microsoft's): ``user=U ^A auth=Bearer T ^A ^A``."""

    name = "XOAUTH2"

    def __init__(self, user: str, token: TokenSource) -> None:
        self._user, self._source = user, token
        self._token = ""
        self._answered = False

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    async def start(self) -> bytes | None:
        user = _oauth_user(self._user)
        self._token = await _token(self._source)
        return b"user=" + user + b"\x01auth=Bearer " + self._token.encode("ascii") + b"\x01\x01"

    def respond(self, challenge: bytes) -> bytes | None:
        # A refused token comes back as a 334 holding JSON: an empty line gets the final 5xx.
        if self._answered:
            return None
        self._answered = True
        return b""


class OAuthBearer:
    """OAUTHBEARER (RFC 7628): a GS2 header, ``host``, ``port`` and the bearer token."""

    name = "OAUTHBEARER"

    def __init__(
        self, user: str, token: TokenSource, *, host: str | None = None, port: int | None = None
    ) -> None:
        self._user, self._source = user, token
        self._host, self._port = host, port
        self._token = ""
        self._answered = False

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self._token,) if self._token else ()

    async def start(self) -> bytes | None:
        user = _oauth_user(self._user).replace(b"=", b"=3D").replace(b",", b"=2C")
        self._token = await _token(self._source)
        fields = []
        if self._host and not _CONTROL.search(self._host):
            fields.append(b"host=" + self._host.encode("idna"))
        if self._port is not None:
            fields.append(b"port=%d" % self._port)
        fields.append(b"auth=Bearer " + self._token.encode("ascii"))
        return b"n,a=" + user + b"," + b"".join(b"\x01" + f for f in fields) + b"\x01\x01"

    def respond(self, challenge: bytes) -> bytes | None:
        # RFC 7628 §3.2.3: the error challenge is answered with ^A to get the final reply.
        if self._answered:
            return None
        self._answered = True
        return b"\x01"


def choose(
    offered: Collection[str],
    user: str,
    *,
    password: str | None = None,
    token: TokenSource | None = None,
    host: str | None = None,
    port: int | None = None,
    prefer: str | None = None,
) -> Mechanism | None:
    """The mechanism to use among ``offered`` (upper-case names): with a ``token``, XOAUTH2 or
    OAUTHBEARER (``prefer = "OAUTHBEARER"``: that one first when offered); with a
    ``password``, PLAIN, LOGIN or CRAM-MD5.  None: nothing fits."""
    found: list[Mechanism] = []
    if token is not None:
        if "XOAUTH2" in offered:
            found.append(XOAuth2(user, token))
        if "OAUTHBEARER" in offered:
            bearer = OAuthBearer(user, token, host=host, port=port)
            found.insert(0 if prefer == "OAUTHBEARER" else len(found), bearer)
    elif password is not None:
        kinds: dict[str, Callable[[str, str], Mechanism]] = {
            "PLAIN": Plain, "LOGIN": Login, "CRAM-MD5": CramMD5
        }  # fmt: skip
        found += [kinds[name](user, password) for name in PASSWORD_MECHANISMS if name in offered]
    return found[0] if found else None
