"""The delivery log's port: what the rest of distrib may ask of a log, whatever stores it.

Two adapters implement it: `distrib.deliverylog.sqlite` (a file beside the campaign) and
`distrib.deliverylog.postgres` (a database a team shares).  `distrib.deliverylog.open_log` picks
one from the log's name.  Every operation takes and returns typed values
(`distrib.deliverylog.records`); no SQL, no driver type and no driver error crosses the port:
a failure is a `DeliveryLogError` naming the log (`DeliveryLog.where`).

The same contract test suite (tests/contract/) runs against both adapters: every state
transition, the crash table, leases and workers, suppressions, migrations and audit queries.

Guarantees every adapter keeps:

- every change of a message's state names the states it may start from
  (`distrib.deliverylog.states`) and writes nothing otherwise; a change after DATA names its
  attempt (the fencing token) and is refused once that attempt was closed by a recovery;
- `Changes.apply` writes a group of changes in one transaction, each change on its own (one
  refused leaves nothing of itself, the others commit); a durable commit before it returns;
- a `Begin` is in the log before its caller writes DATA (the caller awaits `apply`);
- opened read-only, nothing is written, ever; schema upgrades are applied inside one write
  transaction, once, even when processes open a new log together; a log written by a newer
  distrib is refused for writing (`NewerLogError`) and read with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, Self

from distrib.deliverylog.changes import Change, Result
from distrib.deliverylog.records import (
    Attempt,
    BounceRow,
    Earlier,
    EntryQuery,
    Holder,
    LogEntry,
    MessageRef,
    MessageRow,
    NewBounce,
    NewMessage,
    NewReply,
    NewSuppression,
    Recovered,
    ReplyRow,
    Resolution,
    Run,
    StatusCount,
    Suppressed,
    SuppressionRemoval,
    TimedAttempt,
    WorkerRow,
)
from distrib.deliverylog.states import Action
from distrib.errors import Location

__all__ = [
    "Audit",
    "Bounces",
    "Changes",
    "DeliveryLog",
    "Leases",
    "LogWriter",
    "Messages",
    "Quotas",
    "Runs",
    "Suppressions",
    "Workers",
]


class Runs(Protocol):
    """Send runs of a campaign."""

    def create_run(
        self,
        campaign: str,
        campaign_file: str,
        *,
        settings: dict[str, Any] | None = None,
        contacts_hash: str | None = None,
        templates_hash: str | None = None,
        token: str | None = None,
    ) -> Run:
        """Record a new run (status ``planned``) and return it.  ``token``: the run's random
        identifier used in its Message-IDs (drawn if None)."""
        ...

    def get_run(self, run_id: int) -> Run:
        """Return run ``run_id``, or raise `RunNotFoundError`."""
        ...

    def runs(self, campaign: str | None = None) -> list[Run]:
        """Return every run (or one campaign's), oldest first."""
        ...

    def set_run_status(self, run_id: int, status: str, note: str | None = None) -> None:
        """Set a run's status (and its note, if given), stamping ``started_at`` when it starts
        ``sending`` and ``finished_at`` when it is ``finished``, ``stopped`` or ``aborted``."""
        ...

    def update_run_settings(self, run_id: int, changes: Mapping[str, Any]) -> Run:
        """Add or replace keys of run ``run_id``'s settings (e.g. how a resume changed it: a
        dropped embargo), the others kept; return the run.  `RunNotFoundError` if none."""
        ...

    def interrupted_candidates(self, campaign: str) -> list[Run]:
        """Runs of ``campaign`` left ``planned`` or ``sending``, or with messages ``sending``
        or in ``data``, oldest first (`distrib.deliverylog.runs.interrupted_runs` decides)."""
        ...

    def earlier_outcomes(self, campaign: str) -> Earlier:
        """For each contact of ``campaign`` no new run may send the release to again: the
        first run that sent it, or (only for keys no run sent) the first where it may have
        arrived (``unknown``, or ``data`` in a run still to settle)."""
        ...

    def unknown_counts(self, campaign: str) -> dict[int, int]:
        """Count the ``unknown`` messages of each run of ``campaign`` that has some."""
        ...


class Messages(Protocol):
    """The messages of a run, and the changes to them outside one SMTP attempt."""

    def add_messages(self, run_id: int, messages: Iterable[NewMessage]) -> int:
        """Create a run's message rows in one transaction; return how many were added (a
        duplicate key in the run refuses them all)."""
        ...

    def messages(self, run_id: int, *, states: Sequence[str] | None = None) -> list[MessageRow]:
        """Return a run's messages in planning order, optionally only some states."""
        ...

    def message(self, message: int) -> MessageRow:
        """Return one message, or raise `DeliveryLogError`."""
        ...

    def messages_by_id(self, ids: Sequence[int]) -> list[MessageRow]:
        """Return the messages ``ids`` in that order (missing ones left out)."""
        ...

    def pending(self, run_id: int, *, due_by: datetime | None = None) -> list[MessageRow]:
        """Return the messages a run still has to try (``ready``, ``deferred``), in planning
        order; with ``due_by`` only deferred ones whose retry time has come by then."""
        ...

    def to_send(self, run_id: int) -> list[MessageRow]:
        """Return the messages a run still has to try, in sending order: ``ready`` and due
        ``deferred`` ones in planning order, then deferred ones not yet due, soonest first."""
        ...

    def counts(self, run_id: int) -> dict[str, int]:
        """Count a run's messages per state."""
        ...

    def attempts(self, message: int) -> list[Attempt]:
        """Return every attempt at one message, oldest first."""
        ...

    def last_attempts(self, run_id: int, state: str) -> dict[int, Attempt]:
        """The last attempt of each message of the run in ``state``, by message id."""
        ...

    def recover(self, run_id: int, *, dead: Callable[[WorkerRow], bool] | None = None) -> Recovered:
        """After a sending process ended without a word: ``data`` → ``unknown`` (may have
        arrived), ``sending`` → ``ready``, and their open attempts closed (``interrupted``:
        the fencing that stops a process presumed dead).

        Only messages held by no worker, or by a worker of the run for which ``dead`` is true
        (None: every worker), decided inside the transaction; those workers are marked
        finished and their claimed messages go back to the queue.  A live worker's messages
        are not touched.
        """
        ...

    def set_aside(self, messages: Iterable[int], note: str) -> int:
        """Mark pending messages ``skipped`` with ``note``; return how many were."""
        ...

    def skip_sent_elsewhere(self, run_id: int) -> int:
        """Skip this run's pending messages that another run of its campaign sent (or may
        have), in one transaction, with a note naming that run; return how many."""
        ...

    def replan(self, message: int, *, content_hash: str, subject: str) -> None:
        """Give a pending message new content (resuming with ``--force`` after edits)."""
        ...

    def resolve(self, messages: Sequence[MessageRow], action: Action, *, note: str, by: str) -> int:
        """Apply the officer's ``action`` to ``messages``, all or none, keeping who, when and
        why on the message and in its history; return how many."""
        ...

    def resolutions(self, message: int) -> list[Resolution]:
        """Every resolution of one message, oldest first."""
        ...

    def mark_test(self, run_id: int) -> int:
        """Move a test run's ``sent`` messages to ``test``; return how many."""
        ...

    def pending_refs(self) -> list[MessageRef]:
        """Every message still waiting in some run (``ready``, ``deferred``)."""
        ...

    def bounce_candidates(self) -> list[MessageRef]:
        """Every message a bounce may be about (``sent``, ``unknown``, ``bounced``,
        ``failed``, ``data``), oldest first."""
        ...

    def messages_with_id(self, message_id: str) -> list[MessageRef]:
        """The messages with this Message-ID."""
        ...

    def message_for_token(self, token: str) -> MessageRef | None:
        """The latest message whose Message-ID holds ``.TOKEN@`` (an unsubscribe token)."""
        ...


class Changes(Protocol):
    """The state changes of SMTP attempts (`distrib.deliverylog.changes`)."""

    def apply(
        self,
        changes: Sequence[Change],
        *,
        worker: int | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Write ``changes`` in one transaction and commit it durably; return one result per
        change: `Begin`'s attempt id, None, or the error that refused it (a
        `DeliveryLogError`, `Withdrawn` for a message that left the queue, `QuotaFull` for a
        `Begin` whose relay's quota is full; a `ValueError` for a change that can never
        apply): nothing of that change is written, the others still commit.  A transaction
        that fails as a whole fails every change.

        A `Begin` with ``quotas`` is a reservation: the count of attempts through its relay in
        each quota's window (every process's, and the earlier changes of this group) is read
        in this transaction, which excludes every other transaction checking the same relay
        until it commits (SQLite: the write transaction; PostgreSQL: a lock on the relay's
        name taken before the first change), so that writers never together exceed a quota.

        ``worker``: the worker these changes speak for; a change that takes a message from
        the queue applies only to a message that worker holds (None: one no worker holds).
        ``before_commit`` runs once everything is written, before the commit (the crash
        tests' ``before-group-commit``)."""
        ...


class Leases(Protocol):
    """One sending process per campaign (`distrib.deliverylog.lease`)."""

    def lease_holder(self, campaign: str) -> Holder | None:
        """Who holds ``campaign``'s lease (possibly stale), or None."""
        ...

    def take_lease(
        self, holder: Holder, stale: Callable[[Holder, list[WorkerRow]], bool]
    ) -> Holder | None:
        """Record ``holder`` as the campaign's lease holder, unless the current holder is not
        ``stale`` (given it and the unfinished workers of its run): then return that one,
        nothing written.  Atomic: two processes never both take it."""
        ...

    def renew_lease(self, campaign: str, owner: str, heartbeat_at: str, expires_at: str) -> bool:
        """Write a heartbeat; False if ``owner`` no longer holds the lease."""
        ...

    def attach_lease(self, campaign: str, owner: str, run_id: int) -> None:
        """Record which run the lease is sending (shown to a refused process)."""
        ...

    def release_lease(self, campaign: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it."""
        ...


class Workers(Protocol):
    """Several processes draining one run (`distrib.deliverylog.workers`)."""

    def register_worker(
        self, run_id: int, *, owner: str, pid: int, host: str, user: str, expires_at: str
    ) -> WorkerRow:
        """Register a worker of ``run_id`` (heartbeat now)."""
        ...

    def renew_worker(self, worker: int, heartbeat_at: str, expires_at: str) -> bool:
        """Write a heartbeat; False if the worker was finished (e.g. recovered as dead)."""
        ...

    def workers(self, run_id: int) -> list[WorkerRow]:
        """The run's workers not finished, oldest first."""
        ...

    def claim(
        self, run_id: int, worker: int, limit: int, *, later: bool = False
    ) -> list[MessageRow]:
        """Take up to ``limit`` pending messages of the run that no worker holds, for
        ``worker``, in sending order: ``ready`` and due ``deferred`` ones (``later``: deferred
        ones not yet due, soonest first).  Two workers never get the same message.  Raises
        `DeliveryLogError` if the worker was finished."""
        ...

    def free_messages(self, run_id: int) -> int:
        """How many pending messages of the run no worker holds."""
        ...

    def worker_load(self, run_id: int) -> dict[int, int]:
        """How many messages each worker of the run holds (claimed and pending, or in
        ``data``)."""
        ...

    def finish_worker(self, worker: int, note: str | None = None) -> int:
        """Mark the worker finished and put its claimed, pending messages back in the queue;
        return how many."""
        ...


class Suppressions(Protocol):
    """The suppression list: opt-outs and hard bounces."""

    def add_suppressions(self, entries: Iterable[NewSuppression]) -> list[bool]:
        """Add entries in one transaction (True for each new one); each one's ``pending``
        messages become ``suppressed`` in the same transaction."""
        ...

    def add_suppression(
        self,
        address: str,
        key: str,
        *,
        reason: str,
        source: str,
        requested_at: datetime | None = None,
        message: int | None = None,
        note: str | None = None,
        pending: Iterable[int] = (),
    ) -> bool:
        """Add one entry (see `add_suppressions`); False if already there."""
        ...

    def suppressions(self) -> list[Suppressed]:
        """The suppression list, oldest entry first."""
        ...

    def suppression_entries(self) -> list[tuple[str, Location]]:
        """(address, where) for every entry, as `load_contacts` takes extra suppressions."""
        ...

    def remove_suppressions(self, key: str, *, why: str, by: str) -> list[SuppressionRemoval]:
        """Take every entry matched on ``key`` off the list (an officer's decision: ``by``,
        ``why``, never blank) and record each removal, in one transaction; [] if none."""
        ...

    def suppression_removals(self) -> list[SuppressionRemoval]:
        """Every entry ever taken off the list, oldest removal first."""
        ...


class Bounces(Protocol):
    """Delivery-status notifications matched to messages."""

    def record_bounces(
        self, items: Iterable[tuple[NewBounce, NewSuppression | None]]
    ) -> list[bool]:
        """Record bounces in one transaction, each once (True if new), with the suppression
        it calls for; a failure (hard or soft) moves ``sent``/``unknown`` to ``bounced``."""
        ...

    def record_bounce(self, bounce: NewBounce) -> bool:
        """Record one bounce (see `record_bounces`)."""
        ...

    def bounces(self, message: int | None = None) -> list[BounceRow]:
        """Every recorded bounce (or one message's), oldest first."""
        ...

    def bounce_notices(self) -> set[tuple[str, str]]:
        """(notice, recipient) of every recorded bounce."""
        ...


class Replies(Protocol):
    """Replies to sent messages (`distrib replies`): a person's answer or an automatic one."""

    def record_replies(self, replies: Iterable[NewReply]) -> list[bool]:
        """Record replies in one transaction, each once by its ``notice`` (True if new)."""
        ...

    def replies(self, *, message: int | None = None, run_id: int | None = None) -> list[ReplyRow]:
        """Every recorded reply (or one message's, or one run's), oldest first."""
        ...


class Quotas(Protocol):
    """What a relay was handed, for its quotas across runs and releases."""

    def relay_sends(self, relay: str, since: datetime) -> list[datetime]:
        """When each attempt handed to ``relay`` (a `Begin`, or a refusal of DATA, naming it:
        the relay accepted the recipient) began, for those at or after ``since``, oldest
        first, whatever run or release they belong to."""
        ...


class Audit(Protocol):
    """The typed queries of the audit commands."""

    def log_entries(self, query: EntryQuery) -> list[LogEntry]:
        """The messages ``query`` selects, with campaign, last attempt and worst bounce."""
        ...

    def run_attempts(self, run_id: int | None) -> list[Attempt]:
        """Every attempt of a run's messages (every run's for None), oldest first."""
        ...

    def status_counts(self, run_id: int) -> list[StatusCount]:
        """A run's messages counted by (status, language, outlet), counted by the store."""
        ...

    def timed_attempts(self, run_id: int, outcomes: Sequence[str]) -> list[TimedAttempt]:
        """A run's finished attempts with one of ``outcomes``, by the time they finished."""
        ...

    def migrations(self) -> list[tuple[int, str, str | None]]:
        """(version, name, the distrib that applied it) of every schema migration applied."""
        ...


class LogWriter(Changes, Protocol):
    """A second connection to the same log, usable from another thread (one at a time): the
    sending engine's group commits run there."""

    def close(self) -> None:
        """Close the connection."""
        ...


class DeliveryLog(
    Runs,
    Messages,
    Changes,
    Leases,
    Workers,
    Suppressions,
    Bounces,
    Replies,
    Quotas,
    Audit,
    Protocol,
):
    """An open delivery log (`distrib.deliverylog.open_log`); a context manager.

    ``where`` names it for people (the file, or the URL without its password); ``read_only``:
    opened only to read; ``upgraded``: the migrations this opening applied; ``warnings``: what
    a reader should be told (a log written by a newer distrib).
    """

    @property
    def where(self) -> str:
        """The log's name for messages: its file, or its URL without the password."""
        ...

    @property
    def name(self) -> str:
        """A short name: the file's name, or the database's."""
        ...

    @property
    def read_only(self) -> bool:
        """Opened only to read."""
        ...

    @property
    def upgraded(self) -> tuple[int, ...]:
        """The migrations this opening applied."""
        ...

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a reader should be told."""
        ...

    def now(self) -> str:
        """The log's current time (its injectable clock) as stored (`timestamp`)."""
        ...

    def current_time(self) -> datetime:
        """The log's current time (its injectable clock), aware, in UTC."""
        ...

    def writer(self) -> LogWriter:
        """A second connection for another thread (the group commit), same clock."""
        ...

    def close(self) -> None:
        """Close the log."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
