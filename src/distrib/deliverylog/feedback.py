"""What comes back after a run: suppressions (opt-outs, hard bounces) and bounces, as stored.

Written by `DeliveryLog.add_suppression` and `DeliveryLog.record_bounce` (tables of migrations 10
and 11); read by the audit stage and by `pipeline.make_plan`, which never plans a message to a
suppressed address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

__all__ = [
    "BOUNCE_KINDS",
    "HARD_BOUNCE",
    "UNSUBSCRIBED",
    "BounceRow",
    "NewBounce",
    "NewSuppression",
    "Suppressed",
]

#: Suppression reasons.
UNSUBSCRIBED: Final = "unsubscribed"
HARD_BOUNCE: Final = "hard bounce"

#: Bounce kinds, worst first: ``hard`` (the address is bad: suppressed), ``soft`` (not delivered
#: this time: mailbox full, refused as spam…), ``delayed`` (a warning; still being retried).
BOUNCE_KINDS: Final = ("hard", "soft", "delayed")


@dataclass(frozen=True, slots=True)
class Suppressed:
    """One suppression list entry: an address that no run will send to again."""

    id: int
    address: str
    key: str
    reason: str
    source: str
    requested_at: str | None
    created_at: str
    message: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class NewSuppression:
    """An entry to add to the suppression list.

    ``key`` is what matching uses (`distrib.contacts.normalize.suppression_key`); ``pending``
    lists that person's messages still waiting in a run, to stop with it.
    """

    address: str
    key: str
    reason: str
    source: str
    requested_at: datetime | None = None
    message: int | None = None
    note: str | None = None
    pending: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class NewBounce:
    """A bounce matched to one message, to record.

    ``notice`` identifies the notification (its Message-ID, or a hash of its bytes) so reading
    the same mailbox twice records nothing twice.
    """

    message: int
    notice: str
    recipient: str
    kind: str
    action: str
    matched_by: str
    source: str
    status: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    arrived_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BounceRow:
    """One recorded bounce."""

    id: int
    message: int
    notice: str
    recipient: str
    kind: str
    action: str
    status: str | None
    diagnostic: str | None
    remote_mta: str | None
    matched_by: str
    arrived_at: str | None
    recorded_at: str
    source: str
