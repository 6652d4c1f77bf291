"""OAuth2 over SASL: the XOAUTH2 and OAUTHBEARER (RFC 7628) exchanges, for SMTP and IMAP.

* ``XOAUTH2`` (Google's and Microsoft's documented mechanism):
  ``base64("user=" user ^A "auth=Bearer " token ^A ^A)``.
* ``OAUTHBEARER`` (RFC 7628): ``base64("n,a=" saslname "," ^A "host=" … ^A "port=" … ^A
  "auth=Bearer " token ^A ^A)``, with ``,`` and ``=`` in the user escaped as ``=2C`` / ``=3D``.

When the server refuses the token it sends a ``334`` challenge holding base64 JSON
(``{"status": "invalid_token", "scope": "…", "schemes": "Bearer"}``, RFC 7628 section 3.2.2);
the client must answer it (an empty line for XOAUTH2, ``^A`` for OAUTHBEARER) to get the final
``535``.  `parse_error_challenge` reads that JSON as the untrusted text it is.

`authenticate` runs the exchange on an `aiosmtplib.SMTP` client with its public API only
(``execute_command``), after EHLO and only on an encrypted connection.  Nothing here logs,
prints or puts a token in an error message; a server reply that echoes the token has it
replaced by ``[token]``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from distrib.relay.errors import SaslError, TokenError

if TYPE_CHECKING:
    from aiosmtplib import SMTP, SMTPResponse

    from distrib.relay.oauth import TokenProvider

__all__ = [
    "Mechanism",
    "OAuthChallenge",
    "authenticate",
    "authenticate_with_tokens",
    "authenticate_xoauth2",
    "choose_mechanism",
    "oauthbearer_initial_response",
    "parse_error_challenge",
    "xoauth2_initial_response",
]

Mechanism = Literal["XOAUTH2", "OAUTHBEARER"]
#: RFC 6750 b64token: what a bearer token may contain.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]]+")


def _check(user: str, token: str) -> None:
    if not user or _CONTROL.search(user):
        raise TokenError("the account name is empty or holds a control character")
    if not _B64TOKEN.fullmatch(token):
        # Never say what the token holds.
        raise TokenError("the access token is not a valid bearer token (RFC 6750)")


def xoauth2_initial_response(user: str, token: str) -> str:
    """The XOAUTH2 initial client response, base64-encoded (ASCII)."""
    _check(user, token)
    raw = f"user={user}\x01auth=Bearer {token}\x01\x01".encode()
    return base64.b64encode(raw).decode("ascii")


def _saslname(user: str) -> str:
    return user.replace("=", "=3D").replace(",", "=2C")


def oauthbearer_initial_response(
    user: str, token: str, *, host: str | None = None, port: int | None = None
) -> str:
    """The OAUTHBEARER (RFC 7628) initial client response, base64-encoded (ASCII)."""
    _check(user, token)
    fields = []
    if host is not None:
        if not _HOST.fullmatch(host):
            raise TokenError(f"not a host name: {host!r}")
        fields.append(f"host={host}")
    if port is not None:
        fields.append(f"port={int(port)}")
    fields.append(f"auth=Bearer {token}")
    raw = f"n,a={_saslname(user)}," + "".join(f"\x01{f}" for f in fields) + "\x01\x01"
    return base64.b64encode(raw.encode()).decode("ascii")


@dataclass(frozen=True, slots=True)
class OAuthChallenge:
    """What a server's error challenge said (RFC 7628 section 3.2.2), cleaned."""

    status: str
    scope: str | None = None
    schemes: str | None = None
    openid_configuration: str | None = None

    @property
    def token_rejected(self) -> bool:
        """The token itself was refused (expired, revoked): a refresh may help."""
        return self.status in ("invalid_token", "401", "400")

    def explain(self) -> str:
        """A sentence for the officer."""
        if self.status in {"insufficient_scope", "403"}:
            wanted = f" (the server wants {self.scope})" if self.scope else ""
            return f"the token does not allow sending{wanted}: check the app's permissions"
        if self.token_rejected:
            return "the token was refused (expired or revoked): sign in again if this persists"
        return f"the server refused the token ({self.status})"


def _clean(text: str, limit: int = 200) -> str:
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def parse_error_challenge(challenge: str | bytes) -> OAuthChallenge | None:
    """Read a server's base64 JSON error challenge; None when it is not one."""
    try:
        raw = base64.b64decode(challenge.strip(), validate=True)
        data = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or "status" not in data:
        return None

    def text(name: str) -> str | None:
        value = data.get(name)
        return _clean(str(value)) if value is not None else None

    return OAuthChallenge(
        status=text("status") or "",
        scope=text("scope"),
        schemes=text("schemes"),
        openid_configuration=text("openid-configuration"),
    )


def choose_mechanism(offered: list[str] | tuple[str, ...]) -> Mechanism | None:
    """XOAUTH2 when the server offers it (what Microsoft and Google document), else OAUTHBEARER."""
    names = {name.upper() for name in offered}
    if "XOAUTH2" in names:
        return "XOAUTH2"
    if "OAUTHBEARER" in names:
        return "OAUTHBEARER"
    return None


def _reply(response: SMTPResponse, token: str) -> str:
    message = response.message.replace(token, "[token]") if token else response.message
    return f"{response.code} {_clean(message)}"


async def authenticate(
    client: SMTP,
    user: str,
    token: str,
    *,
    mechanism: Mechanism | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Mechanism:
    """Authenticate ``client`` (connected, encrypted) as ``user`` with an OAuth2 access token.

    ``mechanism`` None: the one `choose_mechanism` picks from the server's EHLO.  Returns the
    mechanism used.  Raises `SaslError` (``code``: the final SMTP reply code; ``status``: the
    challenge's status, e.g. ``invalid_token`` so the caller may refresh the token and try once
    more) when the server refuses, or when the connection is not encrypted.
    """
    if client.get_transport_info("sslcontext") is None:
        raise SaslError("refusing to send an access token over an unencrypted connection")
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    offered = [m.upper() for m in client.server_auth_methods]
    chosen = mechanism or choose_mechanism(offered)
    if chosen is None or chosen not in offered:
        listed = " ".join(offered) or "no AUTH mechanism"
        wanted = chosen or "XOAUTH2 or OAUTHBEARER"
        raise SaslError(f"the relay does not offer {wanted} (it offers {listed})")
    if chosen == "XOAUTH2":
        initial = xoauth2_initial_response(user, token)
    else:
        initial = oauthbearer_initial_response(user, token, host=host, port=port)
    response = await client.execute_command(b"AUTH", chosen.encode(), initial.encode("ascii"))
    challenge = None
    if response.code == 334:
        challenge = parse_error_challenge(response.message)
        # RFC 7628 3.2.3: answer the error challenge with ^A (XOAUTH2: an empty line).
        answer = b"" if chosen == "XOAUTH2" else base64.b64encode(b"\x01")
        response = await client.execute_command(answer)
    if response.code == 235:
        return chosen
    reason = challenge.explain() if challenge is not None else "the server refused the token"
    raise SaslError(
        f"{chosen} authentication as {_clean(user, 320)} failed: {reason}"
        f" (server: {_reply(response, token)})",
        code=response.code,
        status=challenge.status if challenge is not None else None,
    )


async def authenticate_xoauth2(client: SMTP, user: str, token: str) -> None:
    """``AUTH XOAUTH2`` as ``user`` with ``token`` (see `authenticate`)."""
    await authenticate(client, user, token, mechanism="XOAUTH2")


async def authenticate_with_tokens(
    client: SMTP,
    tokens: TokenProvider,
    *,
    mechanism: Mechanism | None = None,
    host: str | None = None,
    port: int | None = None,
) -> Mechanism:
    """Authenticate with a token from ``tokens``; if the server refuses *the token*, refresh it
    once and try again on the same connection (RFC 4954 allows a new AUTH after a 535).

    The token service is called in a worker thread: a refresh is an HTTPS round trip that must
    not stall the other connections of the event loop.  `LoginRequired` and `TokenError` come
    from the token layer; `SaslError` from the server.
    """
    token = await asyncio.to_thread(tokens.access_token)
    try:
        return await authenticate(client, tokens.user, token, mechanism=mechanism,
                                  host=host, port=port)  # fmt: skip
    except SaslError as exc:
        challenge = OAuthChallenge(exc.status) if exc.status is not None else None
        if exc.code != 535 or (challenge is not None and not challenge.token_rejected):
            raise
    fresh = await asyncio.to_thread(lambda: tokens.access_token(force_refresh=True))
    return await authenticate(client, tokens.user, fresh, mechanism=mechanism,
                              host=host, port=port)  # fmt: skip
