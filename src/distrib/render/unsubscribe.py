"""Unsubscribe links: a mailto address, and an https link with an opaque per-recipient token.

RFC 8058 one-click unsubscribe needs an https URI that identifies the recipient without
revealing the address to anyone who sees the link.  distrib's token is
``base64url(HMAC-SHA256(secret, address key))[:22]`` (128 bits): the same address always gets
the same token for a given secret, nobody without the secret can forge one or recover the
address from it, and the officer's unsubscribe page recognises it by computing
`unsubscribe_token` over the media list (or `verify_token` for one address).

The secret comes from the environment variable named by ``sender.unsubscribe_secret_env``
(``DISTRIB_UNSUBSCRIBE_SECRET`` by default), never from the campaign file.  The campaign's
``unsubscribe_url`` receives the token in place of ``{token}`` if it holds one, else as a
``token`` query parameter: ``https://agapc.example/desabonnement?token=…``.
"""

from __future__ import annotations

import base64
import hmac
import os
import re
from collections.abc import Mapping

__all__ = [
    "list_unsubscribe_value",
    "mailto_uri",
    "secret_from_environment",
    "token_url",
    "unsubscribe_token",
    "verify_token",
]

_MIN_SECRET = 16


def unsubscribe_token(secret: bytes, address: str) -> str:
    """Return the opaque token of ``address`` (compared case-insensitively) under ``secret``."""
    digest = hmac.digest(secret, address.strip().lower().encode("utf-8"), "sha256")
    return base64.urlsafe_b64encode(digest).decode("ascii")[:22]


def verify_token(secret: bytes, address: str, token: str) -> bool:
    """Tell whether ``token`` is the token of ``address`` (in constant time)."""
    return hmac.compare_digest(unsubscribe_token(secret, address), token)


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
    """Say why ``url`` cannot go into List-Unsubscribe, or return None."""
    if not url.isascii() or re.search(r"[\s<>\"]", url):
        return f"{url!r} must be ASCII without spaces, quotes or <>; percent-encode it"
    return None


def mailto_uri(address: str) -> str:
    """Return the ``mailto:`` URI that asks to be taken off the list."""
    return f"mailto:{address}?subject=unsubscribe"


def list_unsubscribe_value(mailto: str, url: str | None) -> str:
    """Return the List-Unsubscribe value: the https URL first if any, then the mailto URI."""
    uris = [url, mailto] if url else [mailto]
    return ", ".join(f"<{uri}>" for uri in uris)
