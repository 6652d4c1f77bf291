"""One-click unsubscribe (RFC 8058) by token: what `distrib unsubscribe-server` does.

A message's List-Unsubscribe link carries an opaque token (`distrib.render.unsubscribe`):
``HMAC(secret, [scheme, workspace scope, address key])``, 22 characters, that neither reveals
the address nor can be made without the secret.  The server finds the address back with a
**token index** computed from the recipients its delivery log holds: for every run of the log
(the scope is the sender's domain and the run's campaign), the token of every message's
recipient.  A token the index does not hold is unknown: forged, from another workspace (another
secret, domain or campaign name) or for an address this log never sent to.

Cost, for 100,000 recipients: one HMAC-SHA256 each (about 0.2 s of CPU in all) and one read
of the messages, when the server first needs the index; a dictionary of about 25 MB.  A run
is read once; a token the index does not hold makes it look only for runs it has not read yet
(one cheap query), so a stream of forged tokens costs no more than that.  Chosen over an
encrypted token (the address sealed with an AEAD key) because the tokens stay short and all of
one length (an encrypted address would be three times as long and tell the address's length),
and the log already holds every address a token can name.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from distrib.config import Campaign
    from distrib.deliverylog import DeliveryLog

__all__ = [
    "OneClickResult",
    "TokenIndex",
    "token_index",
    "token_known",
    "unsubscribe_by_token",
]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
#: Where a one-click opt-out came from, in the suppression list and `contacts history`.
SOURCE = "one-click unsubscribe link"


@dataclass(frozen=True, slots=True)
class OneClickResult:
    """What a one-click request did: ``unsubscribed`` (recorded now), ``already`` (on the list
    before), or ``unknown`` (no recipient of this workspace has that token: nothing recorded)."""

    outcome: Literal["unsubscribed", "already", "unknown"]

    @property
    def accepted(self) -> bool:
        """Whether the token named a recipient (the opt-out is on the list now)."""
        return self.outcome != "unknown"


class TokenIndex:
    """Tokens of one workspace's recipients, found from its delivery log (thread-safe)."""

    def __init__(self, secret: bytes, sender_domain: str) -> None:
        self._secret = secret
        self._domain = sender_domain
        self._addresses: dict[str, str] = {}
        self._seen: set[tuple[str, str]] = set()
        self._runs: set[int] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._addresses)

    def find(self, log: DeliveryLog, token: str) -> str | None:
        """Return the address ``token`` names, reading runs not read yet if needed."""
        if not _TOKEN.fullmatch(token):
            return None
        with self._lock:
            address = self._addresses.get(token)
            if address is None:
                self._read_new_runs(log)
                address = self._addresses.get(token)
        return address

    def _read_new_runs(self, log: DeliveryLog) -> None:
        from distrib.render.unsubscribe import unsubscribe_token, workspace_scope

        for run in log.runs():
            if run.id in self._runs or run.settings.get("test_to"):
                continue  # read already, or a test send (its links are the officer's)
            messages = log.messages(run.id)
            scope = workspace_scope(self._domain, run.campaign)
            for message in messages:
                if (run.campaign, message.key) in self._seen:
                    continue
                self._seen.add((run.campaign, message.key))
                token = unsubscribe_token(self._secret, message.key, scope)
                self._addresses[token] = message.address
            if messages:  # a run is planned in two steps: read it again until it has messages
                self._runs.add(run.id)


def token_index(campaign: Campaign, environ: Mapping[str, str] | None = None) -> TokenIndex:
    """The token index of ``campaign``'s workspace, with the secret its messages were made with
    (`InvalidRequestError` when the environment does not hold it)."""
    from distrib.render.unsubscribe import secret_from_environment

    secret = secret_from_environment(campaign.sender.unsubscribe_secret_env, environ)
    if isinstance(secret, str):
        raise InvalidRequestError(secret)
    return TokenIndex(secret, campaign.sender.domain)


def token_known(log: DeliveryLog, token: str, index: TokenIndex) -> bool:
    """Tell whether ``token`` names a recipient of this workspace (nothing is recorded)."""
    return index.find(log, token) is not None


def unsubscribe_by_token(log: DeliveryLog, token: str, index: TokenIndex) -> OneClickResult:
    """Put the recipient ``token`` names on the log's suppression list (once; again is fine)."""
    from distrib.contacts.normalize import suppression_key
    from distrib.optout import OptOut, record_optouts

    address = index.find(log, token)
    if address is None:
        return OneClickResult("unknown")
    optout = OptOut(address, suppression_key(address), SOURCE, "one-click")
    outcome = record_optouts(log, [optout])
    return OneClickResult("unsubscribed" if outcome.added else "already")
