"""The values the sending stage takes and returns, and its per-message bookkeeping."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from distrib.send.transport import Connection

__all__ = ["Item", "Outgoing", "Progress", "QuotaWait", "SendReport", "Transaction", "Worker"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One rendered message ready to send (``retry_at``: not before this time, e.g. a message
    deferred by an earlier run whose retry time has not come)."""

    message: int
    envelope_from: str
    recipient: str
    data: bytes
    message_id: str
    retry_at: datetime | None = None
    address: str = ""  # the contact's address as the lists have it (for a suppression)


@dataclass(frozen=True, slots=True)
class QuotaWait:
    """A relay quota holding the next message: which one (``per_minute``, ``per_hour``,
    ``per_day``), when it has room again (the log's time, aware) and how long that is."""

    quota: str
    until: datetime
    seconds: float


@dataclass(frozen=True, slots=True)
class Progress:
    """Counts so far, passed to ``on_progress`` after every outcome.

    ``sent``, ``failed``, ``unknown`` and ``deferred`` count messages whose outcome is final for
    this run (``deferred``: left for a later run); ``requeued`` counts the times a message was
    put back to be tried again within this run.  ``stopping`` is None while the run goes on,
    else why it is stopping (in-flight messages finish, nothing new starts).  ``suppressed``
    counts messages skipped because their person was suppressed (an opt-out, a hard bounce)
    while the run went on: nothing was sent to them.  ``waiting``: a relay quota holds the
    next message until then (None: none does).
    """

    sent: int
    deferred: int
    failed: int
    unknown: int
    requeued: int
    total: int | None
    elapsed: float
    stopping: str | None = None
    suppressed: int = 0
    waiting: QuotaWait | None = None

    @property
    def done(self) -> int:
        """Messages with an outcome that is final for this run."""
        return self.sent + self.deferred + self.failed + self.unknown + self.suppressed


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a call to `send_messages` did.  ``paused``: stopped by an error storm (the relay
    refused or throttled many messages in a row; ``stop_reason`` says which), or by a relay
    quota (``resume_at``: when it has room again).  ``suppressed``:
    messages skipped because their person was suppressed while the run went on."""

    sent: int
    deferred: int
    failed: int
    unknown: int
    stopped: bool
    stop_reason: str | None
    elapsed: float
    connections: int
    paused: bool = False
    log_commits: int = 0  # delivery-log transactions committed (changes are grouped)
    suppressed: int = 0
    resume_at: datetime | None = None  # paused by a relay quota: when the quota has room


@dataclass(slots=True)
class Item:
    """A message taken from ``outgoing``, with its retries so far in this run."""

    out: Outgoing
    retries: int = 0  # in-run retries after a deferral
    domain: str = field(init=False)  # the recipient's domain, for per-domain limits

    def __post_init__(self) -> None:
        self.domain = self.out.recipient.rpartition("@")[2].lower()


@dataclass(slots=True)
class Worker:
    """One sending worker: its connection and its recent connection trouble."""

    conn: Connection
    troubles: int = 0  # consecutive connection problems; reset by any reply-based outcome
    last_trouble: str = ""
    throttled: bool = False  # the last trouble was the server saying 421 (busy, slow down)
    connected: bool = False  # its last connection attempt succeeded and no trouble came since
    opening: bool = False  # a connection attempt is under way (greeting, EHLO, STARTTLS, AUTH)
    used: int = 0  # transactions started on the current connection
    waiting: bool = False  # counted in the dispatcher's ``reserved`` (see `_wait_for_work`)


@dataclass(slots=True)
class Transaction:
    """One try at one message: its delivery-log attempt, and how far the SMTP transaction went."""

    worker: Worker
    item: Item
    started: str  # when MAIL FROM was about to be sent (the log's time)
    attempt: int | None = None  # the delivery-log attempt id, once `Begin` is committed
    begin: asyncio.Future[int | None] | None = None  # the `Begin` change, once submitted
    accepted: bool = False  # the relay accepted the recipient (RCPT TO): counts in its quotas
    stage: str = "envelope"  # envelope → data (DATA sent) → body (a body byte may be out) → done
