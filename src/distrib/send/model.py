"""The values the sending stage takes and returns, and its per-message bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass

from distrib.send.transport import Connection

__all__ = ["Item", "Outgoing", "Progress", "SendReport", "Transaction", "Worker"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One rendered message ready to send."""

    message: int
    envelope_from: str
    recipient: str
    data: bytes
    message_id: str


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts so far, passed to ``on_progress`` after every outcome.

    ``sent``, ``failed``, ``unknown`` and ``deferred`` count messages whose outcome is final for
    this run (``deferred``: left for a later run); ``requeued`` counts the times a message was
    put back to be tried again within this run.
    """

    sent: int
    deferred: int
    failed: int
    unknown: int
    requeued: int
    total: int | None
    elapsed: float


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a call to `send_messages` did."""

    sent: int
    deferred: int
    failed: int
    unknown: int
    stopped: bool
    stop_reason: str | None
    elapsed: float
    connections: int


@dataclass(slots=True)
class Item:
    """A message taken from ``outgoing``, with its retries so far in this run."""

    out: Outgoing
    retries: int = 0  # in-run retries after a deferral


@dataclass(slots=True)
class Worker:
    """One sending worker: its connection and its recent connection trouble."""

    conn: Connection
    troubles: int = 0  # consecutive connection problems; reset by any reply-based outcome
    last_trouble: str = ""


@dataclass(slots=True)
class Transaction:
    """One try at one message: its delivery-log attempt, and how far the SMTP transaction went."""

    worker: Worker
    item: Item
    attempt: int  # the delivery-log attempt id
    stage: str = "envelope"  # envelope → data (DATA sent) → body (a body byte may be out) → done
