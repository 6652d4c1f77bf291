"""Errors of the relay package, in the DistribError tree::

    DistribError
    └── RelayError                 a relay, a token service or a mailbox server cannot be used
        ├── PresetError            an unknown preset, or settings that contradict it
        ├── TokenError             no access token can be had (the message says what to do)
        │   ├── LoginRequired      nobody signed in yet, or the sign-in was revoked or expired
        │   └── TokenCacheError    the token cache is unsafe (readable by others) or unreadable
        ├── SaslError              the server refused an OAuth2 SASL exchange (with its reason)
        ├── RelayCheckError        the check before a run failed (nothing recorded, nothing sent;
        │                          in distrib.relay.preflight, beside what it holds)
        └── ImapError              the IMAP mailbox cannot be reached, logged into or changed
                                   (also a distrib.errors.MailboxError)

No message ever contains a token, a refresh token, a password or a client secret.
"""

from __future__ import annotations

from distrib.errors import DistribError, MailboxError

__all__ = [
    "ImapError",
    "LoginRequired",
    "PresetError",
    "RelayError",
    "SaslError",
    "TokenCacheError",
    "TokenError",
]


class RelayError(DistribError):
    """A relay, a token service or a mailbox server cannot be used."""


class PresetError(RelayError):
    """An unknown relay preset, or a setting that contradicts it."""


class TokenError(RelayError):
    """No OAuth2 access token can be had."""


class LoginRequired(TokenError):
    """Nobody has signed in for this account yet, or the sign-in was revoked or expired."""


class TokenCacheError(TokenError):
    """The token cache is unsafe (readable by other users) or cannot be read or written."""


class SaslError(RelayError):
    """The server refused an OAuth2 SASL exchange; ``status`` and ``scope`` say why, if given."""

    def __init__(self, message: str, *, code: int | None = None, status: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ImapError(RelayError, MailboxError):
    """The IMAP mailbox cannot be reached, logged into, read or flagged (a MailboxError too)."""
