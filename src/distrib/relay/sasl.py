"""OAuth2 over SASL: the XOAUTH2 and OAUTHBEARER (RFC 7628) exchanges, for SMTP and IMAP.

* ``XOAUTH2`` (Google's and Microsoft's documented mechanism):
  ``base64("user=" user ^A "auth=Bearer " token ^A ^A)``.
* ``OAUTHBEARER`` (RFC 7628): ``base64("n,a=" saslname "," ^A "host=" … ^A "port=" … ^A
  "auth=Bearer " token ^A ^A)``, with ``,`` and ``=`` in the user escaped as ``=2C`` / ``=3D``.

When the server refuses the token it sends a ``334`` challenge holding base64 JSON
(``{"status": "invalid_token", "scope": "…", "schemes": "Bearer"}``, RFC 7628 section 3.2.2);
the client must answer it (an empty line for XOAUTH2, ``^A`` for OAUTHBEARER) to get the final
``535``.  `parse_error_challenge` reads that JSON as the untrusted text it is.

These are pure functions: the exchange itself runs in distrib's own SMTP client
(`distrib.send.smtp_client`, with the mechanisms of `distrib.send.auth`, only on an encrypted
connection) and in the IMAP client (`distrib.relay.imap`).  Nothing here logs, prints or puts
a token in an error message.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Literal

from distrib.relay.errors import TokenError

__all__ = [
    "Mechanism",
    "OAuthChallenge",
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
