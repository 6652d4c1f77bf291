"""Unsubscribe links: a mailto address, and an https link with an opaque per-recipient token.

RFC 8058 one-click unsubscribe needs an https URI that identifies the recipient without
revealing the address to anyone who sees the link.  distrib's token (scheme 2) is

    base64url(HMAC-SHA256(secret, JSON ["distrib-unsubscribe-2", scope, address key]))[:22]

128 bits, always 22 characters.  The ``scope`` names the workspace the message was sent from
(`workspace_scope`: the sender's domain and the campaign's name), so a token is only good where
it was issued: with the same secret, the same address gets another token in another workspace,
and a token copied from one workspace's message is refused by another workspace's unsubscribe
server.  Nobody without the secret can forge a token or recover the address from one; the
server (`distrib unsubscribe-server`) finds the address by computing the tokens of the
recipients its delivery log holds (`distrib.app.unsubscribing`).

The secret comes from the environment variable named by ``sender.unsubscribe_secret_env``
(``DISTRIB_UNSUBSCRIBE_SECRET`` by default), never from the campaign file.  The campaign's
``unsubscribe_url`` receives the token in place of ``{token}`` if it holds one, else as a
``token`` query parameter: ``https://agapc.example/desabonnement?token=…``.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Mapping

__all__ = [
    "TOKEN_LENGTH",
    "list_unsubscribe_value",
    "mailto_uri",
    "secret_from_environment",
    "token_url",
    "unsubscribe_token",
    "verify_token",
    "workspace_scope",
]

_MIN_SECRET = 16
#: The first item of the MAC input: a token of another scheme (or another use of the same
#: secret) never matches.
_SCHEME = "distrib-unsubscribe-2"
#: Characters of a token (22 base64url characters: 132 bits, the first 128 of them random).
TOKEN_LENGTH = 22


def workspace_scope(sender_domain: str, name: str) -> str:
    """Return the scope tokens are bound to: the sender's domain and the workspace's name."""
    return f"{sender_domain.strip().lower()}/{name}"


def unsubscribe_token(secret: bytes, address: str, scope: str) -> str:
    """Return the opaque token of ``address`` (compared case-insensitively) in ``scope``."""
    # JSON keeps the three parts apart whatever they hold (no separator can be forged).
    payload = json.dumps([_SCHEME, scope, address.strip().lower()], ensure_ascii=False)
    digest = hmac.digest(secret, payload.encode("utf-8"), "sha256")
    return base64.urlsafe_b64encode(digest).decode("ascii")[:TOKEN_LENGTH]


def verify_token(secret: bytes, address: str, token: str, scope: str) -> bool:
    """Tell whether ``token`` is the token of ``address`` in ``scope`` (in constant time)."""
    expected = unsubscribe_token(secret, address, scope).encode("ascii")
    return hmac.compare_digest(expected, token.encode("utf-8", "surrogateescape"))


def secret_from_environment(name: str, environ: Mapping[str, str] | None = None) -> bytes | str:
    """Return the secret held by the environment variable ``name``, or why it cannot be used."""
    value = (os.environ if environ is None else environ).get(name, "")
    if not value:
        return (
            f"unsubscribe_url needs a secret for per-recipient tokens: set the environment"
            f" variable {name} (e.g. to the output of `python -c 'import secrets;"
            f" print(secrets.token_urlsafe(32))'`) and keep it for later campaigns"
        )
    if len(value) < _MIN_SECRET:
        return f"the secret in {name} is too short: use at least {_MIN_SECRET} characters"
    return value.encode("utf-8")


def token_url(url: str, token: str) -> str:
    """Put ``token`` into the campaign's unsubscribe ``url``."""
    if "{token}" in url:
        return url.replace("{token}", token)
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}token={token}"


def check_url(url: str) -> str | None:
    """Say why ``url`` cannot go into List-Unsubscribe, or return None (the settings' own rule,
    `distrib.config.unsubscribe_url_problem`, checked again before any message is made)."""
    from distrib.config import unsubscribe_url_problem

    reason = unsubscribe_url_problem(url)
    return None if reason is None else f"unsubscribe_url {url!r} {reason}"


def mailto_uri(address: str) -> str:
    """Return the ``mailto:`` URI that asks to be taken off the list."""
    return f"mailto:{address}?subject=unsubscribe"


def list_unsubscribe_value(mailto: str, url: str | None) -> str:
    """Return the List-Unsubscribe value: the https URL first if any, then the mailto URI."""
    uris = [url, mailto] if url else [mailto]
    return ", ".join(f"<{uri}>" for uri in uris)
