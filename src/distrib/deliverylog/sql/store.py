"""The delivery log's port (`distrib.deliverylog.port`) in SQL that SQLite and PostgreSQL share.

Every state change is guarded: an ``UPDATE`` names the states it may start from
(`distrib.deliverylog.states`) and, after DATA, the attempt still open (the fencing token), so
a bug or a process presumed dead cannot move a message it no longer speaks for.  A driver error,
on any read or write, becomes a `DeliveryLogError` naming the log (`Backend.error`).

Never stored: the SMTP password and message bodies (only a hash of the rendered content).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Concatenate, Final, ParamSpec, Self, TypeVar

from distrib.deliverylog.changes import Begin, Change, Outcome, QuotaFull, Result, Withdrawn
from distrib.deliverylog.records import (
    INTERRUPTED_REPLY,
    MESSAGE_COLUMNS,
    REPLY_KINDS,
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
    maybe_sent_note,
    new_run_token,
    sent_note,
    suppression_entries,
    timestamp,
    valid_text,
)
from distrib.deliverylog.sql import queries
from distrib.deliverylog.sql.backend import Backend
from distrib.deliverylog.states import (
    BEGIN_FROM,
    BOUNCE_FROM,
    NEVER_SENT,
    OUTCOME_FROM,
    OUTCOMES,
    PENDING,
    REFUSALS,
    RELEASE_FROM,
    RESOLUTIONS,
    Action,
    State,
    names,
)
from distrib.errors import DeliveryLogError, InvalidRequestError, Location, RunNotFoundError

__all__ = ["SQLLog", "SQLWriter"]

_MESSAGES = ", ".join(MESSAGE_COLUMNS)
_RUNS = ", ".join(Run.__slots__)
_ATTEMPTS = (
    "id, message, started_at, finished_at, server, outcome, reply_code, enhanced_code, reply_text"
)
_HOLDER = 'campaign, run_id, owner, pid, host, "user", taken_at, heartbeat_at, expires_at'
_WORKER = (
    'id, run_id, owner, pid, host, "user", started_at, heartbeat_at, expires_at, finished_at, note'
)
_REFS = "id, run_id, address, status, message_id"
_PENDING = names(PENDING)
#: What an attempt's outcome sets besides the state (with `_move`'s ``also``).
_REPLY = (
    ", reply_code = ?, reply_text = ?, next_attempt_at = ?,"
    " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
)
#: What `claim` takes, in which order: ready and due ones, or deferred ones not yet due.
_DUE = (
    "(status = 'ready' OR (status = 'deferred' AND COALESCE(next_attempt_at, '') <= ?))",
    "id",
)
_LATER = ("status = 'deferred' AND COALESCE(next_attempt_at, '') > ?", "next_attempt_at, id")
#: Ids bound in one ``IN (...)`` at most.
_CHUNK: Final = 500
#: "No claim guard" for `_move` (None means: a message no worker holds).
_ANY: Final = object()

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: Iterable[int]) -> Iterator[list[int]]:
    source = iter(values)
    while chunk := list(islice(source, _CHUNK)):
        yield chunk


def _reads(
    method: Callable[Concatenate[SQLLog, _P], _R],
) -> Callable[Concatenate[SQLLog, _P], _R]:
    """A method that reads the log: the driver's errors (a damaged page found only now, a
    connection lost) become a `DeliveryLogError` naming the log, never a traceback."""

    def reading(self: SQLLog, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except self._db.errors as exc:
            raise self._db.error(exc, "read") from None

    functools.update_wrapper(reading, method)  # its name and docstring
    return reading


class SQLLog:
    """An open delivery log on an SQL `Backend` (see `distrib.deliverylog.open_log`)."""

    def __init__(
        self,
        backend: Backend,
        clock: Callable[[], datetime],
        *,
        read_only: bool = False,
        upgraded: Sequence[int] = (),
        warnings: Sequence[str] = (),
    ) -> None:
        self._db = backend
        self._clock = clock
        self._read_only = read_only
        self._upgraded = tuple(upgraded)
        self._warnings = tuple(warnings)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.where}{' read-only' if self.read_only else ''}>"

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The log's name for messages: its file, or its URL without the password."""
        return self._db.where

    @property
    def name(self) -> str:
        """A short name: the file's name, or the database's."""
        return self._db.name

    @property
    def read_only(self) -> bool:
        """Opened only to read."""
        return self._read_only

    @property
    def upgraded(self) -> tuple[int, ...]:
        """The migrations this opening applied."""
        return self._upgraded

    @property
    def warnings(self) -> tuple[str, ...]:
        """What a reader should be told (a log written by a newer distrib)."""
        return self._warnings

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> str:
        """Return the log's current time as stored (UTC, milliseconds)."""
        return timestamp(self._clock())

    def current_time(self) -> datetime:
        """Return the log's current time (its injectable clock), aware, in UTC."""
        return self._clock()

    def writer(self) -> SQLWriter:
        """A second connection to the same log, usable from another thread, same clock."""
        self._check_writable()
        return SQLWriter(self._db.writer(), self._clock)

    def _check_writable(self) -> None:
        if self._read_only:
            raise DeliveryLogError(f"{self.where}: opened read-only: this command cannot write it")

    @contextmanager
    def _write(self) -> Iterator[Backend]:
        """One write transaction; any error rolls it back (a driver error becomes a
        `DeliveryLogError`: a constraint, a full disk, a read-only file, a damaged page)."""
        self._check_writable()
        db = self._db
        try:
            db.begin()
        except db.errors as exc:
            raise db.error(exc, "write") from None
        try:
            yield db
        except db.errors as exc:
            db.rollback()
            raise db.error(exc, "write") from None
        except BaseException:
            db.rollback()
            raise
        try:
            db.commit()
        except db.errors as exc:
            db.rollback()
            raise db.error(exc, "write") from None

    # -- runs ---------------------------------------------------------------------------------

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
        """Record a new run (status ``planned``) and return it."""
        with self._write() as db:
            run_id = db.insert(
                "INSERT INTO runs (token, campaign, campaign_file, status, created_at, settings,"
                " contacts_hash, templates_hash) VALUES (?, ?, ?, 'planned', ?, ?, ?, ?)",
                (
                    token or new_run_token(), campaign, campaign_file, self.now(),
                    json.dumps(dict(settings or {}), sort_keys=True), contacts_hash,
                    templates_hash,
                ),
            )  # fmt: skip
        return self.get_run(run_id)

    @_reads
    def get_run(self, run_id: int) -> Run:
        """Return run ``run_id`` or raise `RunNotFoundError`."""
        found = self._db.execute(f"SELECT {_RUNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        if found is None:
            raise RunNotFoundError(f"{self.where}: no run {run_id} (see `distrib runs`)")
        return _run(found)

    @_reads
    def runs(self, campaign: str | None = None) -> list[Run]:
        """Return every run, oldest first (optionally only one campaign's)."""
        sql = f"SELECT {_RUNS} FROM runs"
        args: tuple[Any, ...] = ()
        if campaign is not None:
            sql, args = sql + " WHERE campaign = ?", (campaign,)
        return [_run(r) for r in self._db.execute(sql + " ORDER BY id", args)]

    def set_run_status(self, run_id: int, status: str, note: str | None = None) -> None:
        """Set a run's status, stamping ``started_at`` / ``finished_at`` as they happen."""
        now = self.now()
        with self._write() as db:
            db.execute(
                "UPDATE runs SET status = ?, note = COALESCE(?, note),"
                " started_at = CASE WHEN ? = 'sending' THEN COALESCE(started_at, ?)"
                " ELSE started_at END,"
                " finished_at = CASE WHEN ? IN ('finished', 'stopped', 'aborted') THEN ?"
                " ELSE NULL END WHERE id = ?",
                (status, note, status, now, status, now, run_id),
            )

    def update_run_settings(self, run_id: int, changes: Mapping[str, Any]) -> Run:
        """Add or replace keys of run ``run_id``'s settings, the others kept."""
        with self._write() as db:
            found = db.execute(
                f"SELECT settings FROM runs WHERE id = ?{db.for_update}", (run_id,)
            ).fetchone()
            if found is None:
                raise RunNotFoundError(f"{self.where}: no run {run_id} (see `distrib runs`)")
            settings = {**json.loads(found[0] or "{}"), **changes}
            db.execute(
                "UPDATE runs SET settings = ? WHERE id = ?",
                (json.dumps(settings, sort_keys=True), run_id),
            )
        return self.get_run(run_id)

    @_reads
    def interrupted_candidates(self, campaign: str) -> list[Run]:
        """Runs left ``planned`` or ``sending``, or with messages ``sending`` or in ``data``."""
        rows = self._db.execute(
            f"SELECT {_RUNS} FROM runs r WHERE r.campaign = ? AND (r.status IN ('planned',"
            " 'sending') OR EXISTS (SELECT 1 FROM messages m WHERE m.run_id = r.id"
            " AND m.status IN ('sending', 'data'))) ORDER BY r.id",
            (campaign,),
        )
        return [_run(r) for r in rows]

    @_reads
    def earlier_outcomes(self, campaign: str) -> Earlier:
        """Who an earlier run of ``campaign`` sent the release to, or may have."""
        return _earlier(self._db, campaign)

    @_reads
    def unknown_counts(self, campaign: str) -> dict[int, int]:
        """Count the ``unknown`` messages of each run of ``campaign``."""
        rows = self._db.execute(
            "SELECT m.run_id, COUNT(*) FROM messages m JOIN runs r ON r.id = m.run_id"
            " WHERE r.campaign = ? AND m.status = 'unknown' GROUP BY m.run_id ORDER BY m.run_id",
            (campaign,),
        )
        return {int(run): int(n) for run, n in rows}

    # -- messages -----------------------------------------------------------------------------

    def add_messages(self, run_id: int, messages: Iterable[NewMessage]) -> int:
        """Create the message rows of a run in one transaction; return how many were added."""
        now = self.now()
        rows = [
            (
                run_id, m.key, m.recipient, m.address, m.name, m.outlet, m.language,
                m.provenance, m.subject, m.message_id, m.content_hash, str(m.status), now, now,
                m.note,
            )
            for m in messages
        ]  # fmt: skip
        with self._write() as db:
            db.executemany(
                "INSERT INTO messages (run_id, key, recipient, address, name, outlet, language,"
                " provenance, subject, message_id, content_hash, status, created_at, updated_at,"
                " note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    @_reads
    def messages(self, run_id: int, *, states: Sequence[str] | None = None) -> list[MessageRow]:
        """Return a run's messages in planning order, optionally only some states."""
        sql = f"SELECT {_MESSAGES} FROM messages WHERE run_id = ?"
        args: list[Any] = [run_id]
        if states:
            sql += f" AND status IN ({_marks(states)})"
            args.extend(str(s) for s in states)
        return [MessageRow(*r) for r in self._db.execute(sql + " ORDER BY id", args)]

    @_reads
    def message(self, message: int) -> MessageRow:
        """Return one message row by id."""
        row = self._db.execute(
            f"SELECT {_MESSAGES} FROM messages WHERE id = ?", (message,)
        ).fetchone()
        if row is None:
            raise DeliveryLogError(f"{self.where}: no message {message}")
        return MessageRow(*row)

    @_reads
    def messages_by_id(self, ids: Sequence[int]) -> list[MessageRow]:
        """Return the messages ``ids`` in that order (missing ones left out)."""
        found: dict[int, MessageRow] = {}
        for chunk in _chunks(ids):
            rows = self._db.execute(
                f"SELECT {_MESSAGES} FROM messages WHERE id IN ({_marks(chunk)})", chunk
            )
            found.update((int(r[0]), MessageRow(*r)) for r in rows)
        return [found[m] for m in ids if m in found]

    @_reads
    def pending(self, run_id: int, *, due_by: datetime | None = None) -> list[MessageRow]:
        """Return the messages this run still has to try, in planning order."""
        sql = f"SELECT {_MESSAGES} FROM messages WHERE run_id = ? AND (status = 'ready'"
        args: list[Any] = [run_id]
        if due_by is None:
            sql += " OR status = 'deferred')"
        else:
            sql += " OR (status = 'deferred' AND COALESCE(next_attempt_at, '') <= ?))"
            args.append(timestamp(due_by))
        return [MessageRow(*r) for r in self._db.execute(sql + " ORDER BY id", args)]

    @_reads
    def to_send(self, run_id: int) -> list[MessageRow]:
        """Return the messages a run still has to try, in sending order."""
        rows = self._db.execute(
            f"SELECT {_MESSAGES} FROM messages WHERE run_id = ? AND status IN ('deferred',"
            " 'ready') ORDER BY CASE WHEN status = 'deferred' AND COALESCE(next_attempt_at, '')"
            " > ? THEN next_attempt_at ELSE '' END, id",
            (run_id, self.now()),
        )
        return [MessageRow(*r) for r in rows]

    @_reads
    def counts(self, run_id: int) -> dict[str, int]:
        """Count a run's messages per state."""
        rows = self._db.execute(
            "SELECT status, COUNT(*) FROM messages WHERE run_id = ? GROUP BY status", (run_id,)
        )
        return {str(status): int(n) for status, n in rows}

    @_reads
    def attempts(self, message: int) -> list[Attempt]:
        """Return every attempt made for one message, oldest first."""
        rows = self._db.execute(
            f"SELECT {_ATTEMPTS} FROM attempts WHERE message = ? ORDER BY id", (message,)
        )
        return [Attempt(*r) for r in rows]

    @_reads
    def last_attempts(self, run_id: int, state: str) -> dict[int, Attempt]:
        """The last attempt of each message of the run in ``state``, by message id."""
        rows = self._db.execute(
            "SELECT a.id, a.message, a.started_at, a.finished_at, a.server, a.outcome,"
            " a.reply_code, a.enhanced_code, a.reply_text FROM attempts a"
            " JOIN messages m ON m.id = a.message WHERE m.run_id = ? AND m.status = ?"
            " AND a.id = (SELECT MAX(id) FROM attempts WHERE message = a.message)"
            " ORDER BY a.message",
            (run_id, state),
        )
        return {int(r[1]): Attempt(*r) for r in rows}

    def recover(self, run_id: int, *, dead: Callable[[WorkerRow], bool] | None = None) -> Recovered:
        """After a crash: ``data`` → ``unknown``, ``sending`` → ``ready``; open attempts
        closed; the workers judged ``dead`` finished and their claims back in the queue."""
        now = self.now()
        with self._write() as db:
            db.lock(f"workers of run {run_id}")  # no worker registers meanwhile
            workers = [
                WorkerRow(*r)
                for r in db.execute(
                    f"SELECT {_WORKER} FROM workers WHERE run_id = ? AND finished_at IS NULL"
                    f" ORDER BY id{db.for_update}",
                    (run_id,),
                ).fetchall()
            ]
            gone = [w.id for w in workers if dead is None or dead(w)]
            live = [w.id for w in workers if w.id not in gone]
            others = f" AND (worker IS NULL OR worker NOT IN ({_marks(live)}))" if live else ""
            ids = [
                int(r[0])
                for r in db.execute(
                    "SELECT id FROM messages WHERE run_id = ? AND status IN ('sending', 'data')"
                    f"{others} ORDER BY id{db.for_update}",
                    (run_id, *live),
                ).fetchall()
            ]
            requeued = unknown = 0
            for chunk in _chunks(ids):
                marks = _marks(chunk)
                db.execute(
                    "UPDATE attempts SET finished_at = ?, outcome = 'interrupted'"
                    f" WHERE finished_at IS NULL AND message IN ({marks})",
                    (now, *chunk),
                )
                requeued += db.execute(
                    "UPDATE messages SET status = 'ready', updated_at = ?, worker = NULL"
                    f" WHERE id IN ({marks}) AND status = 'sending'",
                    (now, *chunk),
                ).rowcount
                unknown += db.execute(
                    "UPDATE messages SET status = 'unknown', updated_at = ?, reply_text = ?"
                    f" WHERE id IN ({marks}) AND status = 'data'",
                    (now, INTERRUPTED_REPLY, *chunk),
                ).rowcount
            held = f" AND worker NOT IN ({_marks(live)})" if live else ""
            db.execute(
                "UPDATE messages SET worker = NULL WHERE run_id = ? AND worker IS NOT NULL"
                f" AND status IN ('deferred', 'ready'){held}",
                (run_id, *live),
            )
            if gone:
                db.execute(
                    "UPDATE workers SET finished_at = ?, note = 'recovered: its process ended"
                    f" without a word' WHERE id IN ({_marks(gone)})",
                    (now, *gone),
                )
        return Recovered(requeued, unknown)

    def set_aside(self, messages: Iterable[int], note: str) -> int:
        """Mark pending messages ``skipped`` with ``note``; return how many were."""
        now = self.now()
        count = 0
        with self._write() as db:
            for chunk in _chunks(messages):
                count += db.execute(
                    "UPDATE messages SET status = 'skipped', note = ?, updated_at = ?"
                    f" WHERE id IN ({_marks(chunk)}) AND status IN ('deferred', 'ready')",
                    (note, now, *chunk),
                ).rowcount
        return count

    def skip_sent_elsewhere(self, run_id: int) -> int:
        """Skip this run's pending messages that another run of the campaign sent (or may
        have), noting which run; return how many."""
        campaign = self.get_run(run_id).campaign
        now = self.now()
        count = 0
        with self._write() as db:
            earlier = _earlier(db, campaign)  # inside the transaction: nothing moves
            rows = db.execute(
                "SELECT id, key FROM messages WHERE run_id = ? AND status IN ('deferred',"
                f" 'ready') ORDER BY id{db.for_update}",
                (run_id,),
            ).fetchall()
            for message, key in rows:
                if key in earlier.sent:
                    note = sent_note(earlier.sent[key])
                elif key in earlier.unknown:
                    note = maybe_sent_note(earlier.unknown[key])
                else:
                    continue
                count += db.execute(
                    "UPDATE messages SET status = 'skipped', note = ?, updated_at = ?"
                    " WHERE id = ? AND status IN ('deferred', 'ready')",
                    (note, now, message),
                ).rowcount
        return count

    def replan(self, message: int, *, content_hash: str, subject: str) -> None:
        """Give a pending message new content (resuming with ``--force`` after edits)."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE messages SET content_hash = ?, subject = ?, updated_at = ?"
                " WHERE id = ? AND status IN ('deferred', 'ready')",
                (content_hash, subject, self.now(), message),
            )
            if cursor.rowcount != 1:
                raise DeliveryLogError(
                    f"message {message}: only a pending message can be re-planned"
                )

    def resolve(self, messages: Sequence[MessageRow], action: Action, *, note: str, by: str) -> int:
        """Apply the officer's ``action`` to ``messages`` in one transaction (all or none)."""
        if not note.strip():
            raise ValueError("a resolution needs a note")
        allowed, target = RESOLUTIONS[action]
        states = names(allowed)
        now = self.now()
        with self._write() as db:
            for m in messages:
                sent_at = None
                if target is State.SENT:
                    # When the body went out: the end of the attempt that became unknown.
                    found = db.execute(
                        "SELECT MAX(finished_at) FROM attempts WHERE message = ?", (m.id,)
                    ).fetchone()
                    sent_at = found[0] if found and found[0] else now
                cursor = db.execute(
                    "UPDATE messages SET status = ?, updated_at = ?, resolved_at = ?,"
                    " resolved_by = ?, resolution = ?, note = ?, next_attempt_at = NULL,"
                    " sent_at = COALESCE(?, sent_at)"
                    f" WHERE id = ? AND status IN ({_marks(states)})",
                    (str(target), now, now, by, action, note, sent_at, m.id, *states),
                )
                if cursor.rowcount != 1:
                    current = db.execute(
                        "SELECT status FROM messages WHERE id = ?", (m.id,)
                    ).fetchone()
                    raise DeliveryLogError(
                        f"{m.recipient}: cannot {action} a message that is"
                        f" {current[0] if current else 'missing'}"
                    )
                db.execute(
                    "INSERT INTO resolutions (message, resolved_at, resolved_by, resolution,"
                    " from_status, to_status, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (m.id, now, by, action, m.status, str(target), note),
                )
        return len(messages)

    @_reads
    def resolutions(self, message: int) -> list[Resolution]:
        """Return every resolution of one message, oldest first."""
        rows = self._db.execute(
            "SELECT id, message, resolved_at, resolved_by, resolution, from_status, to_status,"
            " note FROM resolutions WHERE message = ? ORDER BY id",
            (message,),
        )
        return [Resolution(*r) for r in rows]

    def mark_test(self, run_id: int) -> int:
        """Move a test run's ``sent`` messages to ``test``: never counted as sent."""
        with self._write() as db:
            return db.execute(
                "UPDATE messages SET status = 'test', updated_at = ? WHERE run_id = ?"
                " AND status = 'sent'",
                (self.now(), run_id),
            ).rowcount

    @_reads
    def pending_refs(self) -> list[MessageRef]:
        """Every message still waiting in some run."""
        rows = self._db.execute(
            f"SELECT {_REFS} FROM messages WHERE status IN ('deferred', 'ready') ORDER BY id"
        )
        return [MessageRef(*r) for r in rows]

    @_reads
    def bounce_candidates(self) -> list[MessageRef]:
        """Every message a bounce may be about, oldest first."""
        rows = self._db.execute(
            f"SELECT {_REFS} FROM messages WHERE status IN ('sent', 'unknown', 'bounced',"
            " 'failed', 'data') ORDER BY id"
        )
        return [MessageRef(*r) for r in rows]

    @_reads
    def messages_with_id(self, message_id: str) -> list[MessageRef]:
        """The messages with this Message-ID."""
        rows = self._db.execute(
            f"SELECT {_REFS} FROM messages WHERE message_id = ? ORDER BY id", (message_id,)
        )
        return [MessageRef(*r) for r in rows]

    @_reads
    def message_for_token(self, token: str) -> MessageRef | None:
        """The latest message whose Message-ID holds ``.TOKEN@``."""
        escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        row = self._db.execute(
            f"SELECT {_REFS} FROM messages WHERE message_id LIKE ? ESCAPE '\\'"
            " ORDER BY id DESC LIMIT 1",
            (f"%.{escaped}@%",),
        ).fetchone()
        return MessageRef(*row) if row is not None else None

    # -- the changes of SMTP attempts ---------------------------------------------------------

    def apply(
        self,
        changes: Sequence[Change],
        *,
        worker: int | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Write ``changes`` in one transaction (see `distrib.deliverylog.port.Changes`)."""
        self._check_writable()
        return _apply_group(self._db, self._clock, changes, worker, before_commit)

    # -- leases -------------------------------------------------------------------------------

    @_reads
    def lease_holder(self, campaign: str) -> Holder | None:
        """Who holds ``campaign``'s lease (possibly stale), or None."""
        row = self._db.execute(
            f"SELECT {_HOLDER} FROM leases WHERE campaign = ?", (campaign,)
        ).fetchone()
        return Holder(*row) if row is not None else None

    def take_lease(
        self, holder: Holder, stale: Callable[[Holder, list[WorkerRow]], bool]
    ) -> Holder | None:
        """Take the campaign's lease unless a live holder has it (returned)."""
        with self._write() as db:
            db.lock(f"lease of {holder.campaign}")
            row = db.execute(
                f"SELECT {_HOLDER} FROM leases WHERE campaign = ?{db.for_update}",
                (holder.campaign,),
            ).fetchone()
            if row is not None:
                current = Holder(*row)
                workers = _workers(db, current.run_id) if current.run_id is not None else []
                if not stale(current, workers):
                    return current
                db.execute("DELETE FROM leases WHERE campaign = ?", (holder.campaign,))
            db.execute(
                f"INSERT INTO leases ({_HOLDER}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    holder.campaign, holder.run_id, holder.owner, holder.pid, holder.host,
                    holder.user, holder.taken_at, holder.heartbeat_at, holder.expires_at,
                ),
            )  # fmt: skip
        return None

    def renew_lease(self, campaign: str, owner: str, heartbeat_at: str, expires_at: str) -> bool:
        """Write a heartbeat; False if ``owner`` no longer holds the lease."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE leases SET heartbeat_at = ?, expires_at = ? WHERE campaign = ?"
                " AND owner = ?",
                (heartbeat_at, expires_at, campaign, owner),
            )
            return cursor.rowcount == 1

    def attach_lease(self, campaign: str, owner: str, run_id: int) -> None:
        """Record which run the lease is sending."""
        with self._write() as db:
            db.execute(
                "UPDATE leases SET run_id = ? WHERE campaign = ? AND owner = ?",
                (run_id, campaign, owner),
            )

    def release_lease(self, campaign: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it."""
        with self._write() as db:
            db.execute("DELETE FROM leases WHERE campaign = ? AND owner = ?", (campaign, owner))

    # -- workers ------------------------------------------------------------------------------

    def register_worker(
        self, run_id: int, *, owner: str, pid: int, host: str, user: str, expires_at: str
    ) -> WorkerRow:
        """Register a worker of ``run_id``."""
        now = self.now()
        with self._write() as db:
            db.lock(f"workers of run {run_id}")  # not while a recovery decides who is alive
            worker = db.insert(
                'INSERT INTO workers (run_id, owner, pid, host, "user", started_at,'
                " heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, owner, pid, host, user, now, now, expires_at),
            )
            row = db.execute(f"SELECT {_WORKER} FROM workers WHERE id = ?", (worker,)).fetchone()
        return WorkerRow(*row)

    def renew_worker(self, worker: int, heartbeat_at: str, expires_at: str) -> bool:
        """Write a heartbeat; False if the worker was finished."""
        with self._write() as db:
            cursor = db.execute(
                "UPDATE workers SET heartbeat_at = ?, expires_at = ? WHERE id = ?"
                " AND finished_at IS NULL",
                (heartbeat_at, expires_at, worker),
            )
            return cursor.rowcount == 1

    @_reads
    def workers(self, run_id: int) -> list[WorkerRow]:
        """The run's workers not finished, oldest first."""
        return _workers(self._db, run_id)

    def claim(
        self, run_id: int, worker: int, limit: int, *, later: bool = False
    ) -> list[MessageRow]:
        """Take up to ``limit`` pending messages no worker holds, for ``worker``."""
        now = self.now()
        with self._write() as db:
            found = db.execute(
                f"SELECT finished_at FROM workers WHERE id = ?{db.for_share}", (worker,)
            ).fetchone()
            if found is None or found[0] is not None:
                raise DeliveryLogError(
                    f"{self.where}: worker {worker} of run {run_id} was stopped (another"
                    " process found it silent and recovered its messages): it must stop"
                )
            due, order = _LATER if later else _DUE
            ids = [
                int(r[0])
                for r in db.execute(
                    f"SELECT id FROM messages WHERE run_id = ? AND worker IS NULL AND {due}"
                    f" ORDER BY {order} LIMIT ?{db.skip_locked}",
                    (run_id, now, limit),
                ).fetchall()
            ]
            if not ids:
                return []
            db.execute(
                f"UPDATE messages SET worker = ? WHERE id IN ({_marks(ids)})", (worker, *ids)
            )
            rows = {
                int(r[0]): MessageRow(*r)
                for r in db.execute(
                    f"SELECT {_MESSAGES} FROM messages WHERE id IN ({_marks(ids)})", ids
                )
            }
        return [rows[m] for m in ids]

    @_reads
    def free_messages(self, run_id: int) -> int:
        """How many pending messages of the run no worker holds."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM messages WHERE run_id = ? AND worker IS NULL"
            " AND status IN ('deferred', 'ready')",
            (run_id,),
        ).fetchone()
        return int(row[0]) if row else 0

    @_reads
    def worker_load(self, run_id: int) -> dict[int, int]:
        """How many messages each unfinished worker of the run holds."""
        rows = self._db.execute(
            "SELECT m.worker, COUNT(*) FROM messages m JOIN workers w ON w.id = m.worker"
            " WHERE m.run_id = ? AND w.finished_at IS NULL AND m.status IN ('data', 'deferred',"
            " 'ready', 'sending') GROUP BY m.worker",
            (run_id,),
        )
        return {int(w): int(n) for w, n in rows}

    def finish_worker(self, worker: int, note: str | None = None) -> int:
        """Mark the worker finished; its claimed, pending messages go back to the queue."""
        now = self.now()
        with self._write() as db:
            released = db.execute(
                "UPDATE messages SET worker = NULL WHERE worker = ?"
                " AND status IN ('deferred', 'ready')",
                (worker,),
            ).rowcount
            db.execute(
                "UPDATE workers SET finished_at = ?, note = COALESCE(?, note) WHERE id = ?"
                " AND finished_at IS NULL",
                (now, note, worker),
            )
        return released

    # -- suppressions and bounces -------------------------------------------------------------

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
        """Put ``address`` (matched on ``key``) on the suppression list; False if already
        there.  ``pending``: this person's messages still waiting in some run, which become
        ``suppressed`` in the same transaction (not even a resumed run sends them)."""
        entry = NewSuppression(address, key, reason, source, requested_at, message, note,
                               tuple(pending))  # fmt: skip
        return self.add_suppressions([entry])[0]

    def add_suppressions(self, entries: Iterable[NewSuppression]) -> list[bool]:
        """Add several entries in one transaction; True for each new one."""
        now = self.now()
        with self._write() as db:
            return [_suppress(db, entry, now) for entry in entries]

    @_reads
    def suppressions(self) -> list[Suppressed]:
        """Return the suppression list, oldest entry first."""
        rows = self._db.execute(
            "SELECT id, address, key, reason, source, requested_at, created_at, message, note"
            " FROM suppressions ORDER BY id"
        )
        return [Suppressed(*r) for r in rows]

    def suppression_entries(self) -> list[tuple[str, Location]]:
        """(address, where) for every entry, as `load_contacts` takes extra suppressions."""
        return suppression_entries(self.suppressions())

    def remove_suppressions(self, key: str, *, why: str, by: str) -> list[SuppressionRemoval]:
        """Take every entry matched on ``key`` off the list and record each removal (who,
        when, why) in the same transaction; [] if none.  ``why`` and ``by`` must not be
        blank: a removal is an officer's decision, kept with its reason."""
        why, by = valid_text(why).strip(), valid_text(by).strip()
        if not why or not by:
            raise InvalidRequestError("a suppression removal needs its reason and who decided it")
        now = self.now()
        removed: list[SuppressionRemoval] = []
        with self._write() as db:
            rows = db.execute(
                "SELECT id, address, key, reason, source, created_at FROM suppressions"
                " WHERE key = ? ORDER BY id",
                (key,),
            ).fetchall()
            for entry, address, found, reason, source, listed_at in rows:
                removal = db.insert(
                    "INSERT INTO suppression_removals (address, key, reason, source, listed_at,"
                    " removed_at, removed_by, why) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (address, found, reason, source, listed_at, now, by, why),
                )
                db.execute("DELETE FROM suppressions WHERE id = ?", (entry,))
                removed.append(
                    SuppressionRemoval(
                        removal, address, found, reason, source, listed_at, now, by, why
                    )
                )
        return removed

    @_reads
    def suppression_removals(self) -> list[SuppressionRemoval]:
        """Every entry ever taken off the list, oldest removal first."""
        rows = self._db.execute(
            "SELECT id, address, key, reason, source, listed_at, removed_at, removed_by, why"
            " FROM suppression_removals ORDER BY id"
        )
        return [SuppressionRemoval(*r) for r in rows]

    def record_bounce(self, bounce: NewBounce) -> bool:
        """Record a bounce once (False if already recorded)."""
        return self.record_bounces([(bounce, None)])[0]

    def record_bounces(
        self, items: Iterable[tuple[NewBounce, NewSuppression | None]]
    ) -> list[bool]:
        """Record bounces in one transaction, each with the suppression it calls for."""
        now = self.now()
        recorded = []
        with self._write() as db:
            for bounce, suppression in items:
                new = _bounce(db, bounce, now)
                if new and suppression is not None:
                    _suppress(db, suppression, now)
                recorded.append(new)
        return recorded

    @_reads
    def bounces(self, message: int | None = None) -> list[BounceRow]:
        """Return every recorded bounce (or one message's), oldest first."""
        sql = (
            "SELECT id, message, notice, recipient, kind, action, status, diagnostic,"
            " remote_mta, matched_by, arrived_at, recorded_at, source FROM bounces"
        )
        args: tuple[Any, ...] = ()
        if message is not None:
            sql, args = sql + " WHERE message = ?", (message,)
        return [BounceRow(*r) for r in self._db.execute(sql + " ORDER BY id", args)]

    @_reads
    def bounce_notices(self) -> set[tuple[str, str]]:
        """(notice, recipient) of every recorded bounce."""
        rows = self._db.execute("SELECT notice, recipient FROM bounces")
        return {(str(notice), str(recipient)) for notice, recipient in rows}

    # -- replies ------------------------------------------------------------------------------

    def record_replies(self, replies: Iterable[NewReply]) -> list[bool]:
        """Record replies in one transaction, each once by its notice (True if new)."""
        now = self.now()
        recorded = []
        with self._write() as db:
            for reply in replies:
                if reply.kind not in REPLY_KINDS:
                    raise ValueError(f"{reply.kind!r}: not a kind of reply ({REPLY_KINDS})")
                arrived = timestamp(reply.arrived_at) if reply.arrived_at is not None else None
                cursor = db.execute(
                    "INSERT INTO replies (message, notice, sender, subject, kind, reason,"
                    " matched_by, arrived_at, recorded_at, source)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        reply.message, reply.notice, valid_text(reply.sender),
                        valid_text(reply.subject), reply.kind, valid_text(reply.reason),
                        reply.matched_by, arrived, now, valid_text(reply.source),
                    ),
                )  # fmt: skip
                recorded.append(cursor.rowcount == 1)
        return recorded

    @_reads
    def replies(self, *, message: int | None = None, run_id: int | None = None) -> list[ReplyRow]:
        """Every recorded reply (or one message's, or one run's), oldest first."""
        sql = (
            "SELECT r.id, r.message, m.run_id, r.notice, r.sender, r.subject, r.kind, r.reason,"
            " r.matched_by, r.arrived_at, r.recorded_at, r.source"
            " FROM replies r JOIN messages m ON m.id = r.message"
        )
        where, args = [], []
        if message is not None:
            where.append("r.message = ?")
            args.append(message)
        if run_id is not None:
            where.append("m.run_id = ?")
            args.append(run_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [ReplyRow(*r) for r in self._db.execute(sql + " ORDER BY r.id", tuple(args))]

    # -- quotas -------------------------------------------------------------------------------

    @_reads
    def relay_sends(self, relay: str, since: datetime) -> list[datetime]:
        """When each attempt handed to ``relay`` at or after ``since`` began, oldest first."""
        rows = self._db.execute(
            "SELECT started_at FROM attempts WHERE relay = ? AND started_at >= ?"
            " ORDER BY started_at",
            (relay, timestamp(since)),
        )
        return [datetime.fromisoformat(str(at)) for (at,) in rows]

    # -- audit --------------------------------------------------------------------------------

    @_reads
    def log_entries(self, query: EntryQuery) -> list[LogEntry]:
        """The messages ``query`` selects, with campaign, last attempt and worst bounce."""
        return queries.log_entries(self._db, query)

    @_reads
    def run_attempts(self, run_id: int | None) -> list[Attempt]:
        """Every attempt of a run's messages (every run's for None), oldest first."""
        return queries.run_attempts(self._db, run_id)

    @_reads
    def status_counts(self, run_id: int) -> list[StatusCount]:
        """A run's messages counted by (status, language, outlet)."""
        return queries.status_counts(self._db, run_id)

    @_reads
    def timed_attempts(self, run_id: int, outcomes: Sequence[str]) -> list[TimedAttempt]:
        """A run's finished attempts with one of ``outcomes``, by the time they finished."""
        return queries.timed_attempts(self._db, run_id, outcomes)

    @_reads
    def migrations(self) -> list[tuple[int, str, str | None]]:
        """(version, name, distrib) of every schema migration applied."""
        rows = self._db.execute(
            "SELECT version, name, distrib FROM schema_migrations ORDER BY version"
        )
        return [(int(v), str(n), d) for v, n, d in rows]


class SQLWriter:
    """A second connection to a log, for the group commit's helper thread."""

    def __init__(self, backend: Backend, clock: Callable[[], datetime]) -> None:
        self._db = backend
        self._clock = clock

    def apply(
        self,
        changes: Sequence[Change],
        *,
        worker: int | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> list[Result]:
        """Write ``changes`` in one transaction (see `distrib.deliverylog.port.Changes`)."""
        return _apply_group(self._db, self._clock, changes, worker, before_commit)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


# -- the statements of one change -------------------------------------------------------------


def _apply_group(
    db: Backend,
    clock: Callable[[], datetime],
    changes: Sequence[Change],
    worker: int | None,
    before_commit: Callable[[], None] | None,
) -> list[Result]:
    results: list[Result] = []
    try:
        db.begin()
        now = timestamp(clock())
        # Before any change: the relays whose quotas this group checks, locked in one order
        # (two writers reserving through one relay take turns; no deadlock between them).
        for relay in sorted({c.relay for c in changes if isinstance(c, Begin) and c.quotas
                             and c.relay is not None}):  # fmt: skip
            db.lock(f"relay quota {relay}")
        for change in changes:
            # Each change in a savepoint: one that cannot be written (it no longer applies, or
            # a bug) leaves nothing of itself, and the others of its group still commit.
            db.execute("SAVEPOINT change")
            try:
                results.append(_apply(db, change, now, worker))
            except db.errors:
                raise  # the database itself (disk full, I/O): the whole transaction fails
            except Exception as exc:
                db.execute("ROLLBACK TO SAVEPOINT change")
                results.append(exc)
            db.execute("RELEASE SAVEPOINT change")
        if before_commit is not None:
            before_commit()
        db.commit()  # the flush to disk
    except Exception as exc:  # the whole transaction failed: none of it is in the log
        db.rollback()
        error = db.error(exc, "write") if isinstance(exc, db.errors) else exc
        return [error] * len(changes)
    return results


def _apply(db: Backend, change: Change, now: str, worker: int | None) -> int | None:
    """Write ``change``; raise (having written nothing of it) if it no longer applies,
    `Withdrawn` if the message left the queue meanwhile (e.g. suppressed)."""
    try:
        return _write_change(db, change, now, worker)
    except Withdrawn:
        raise
    except DeliveryLogError:
        if isinstance(change, Begin) or change.attempt is None:  # from the queue
            row = db.execute(
                "SELECT status, note FROM messages WHERE id = ?", (change.message,)
            ).fetchone()
            if row is not None and row[0] in NEVER_SENT:
                raise Withdrawn(change.message, row[0], row[1]) from None
        raise


def _write_change(db: Backend, change: Change, now: str, worker: int | None) -> int | None:
    if isinstance(change, Begin):
        _check_quotas(db, change)
        _move(db, change.message, BEGIN_FROM, State.DATA, now, bump=True, claim=worker)
        return db.insert(
            "INSERT INTO attempts (message, started_at, server, relay) VALUES (?, ?, ?, ?)",
            (change.message, change.at, change.server, change.relay),
        )
    if isinstance(change, Outcome):
        text = valid_text(change.text)
        if change.attempt is not None:
            if change.state not in OUTCOMES:
                raise ValueError(f"not an attempt outcome: {change.state}")
            _move(
                db, change.message, OUTCOME_FROM, change.state, change.at,
                attempt=change.attempt, also=_REPLY,
                also_args=(change.code, text, change.retry_at, str(change.state), change.at),
            )  # fmt: skip
            _close_attempt(
                db, attempt=change.attempt, now=change.at, outcome=str(change.state),
                code=change.code, enhanced=change.enhanced, text=text,
            )  # fmt: skip
            return None
        if change.state not in REFUSALS:
            raise ValueError(f"only a refusal can end an attempt before DATA, not {change.state}")
        _move(
            db, change.message, PENDING, change.state, change.at, bump=True, claim=worker,
            also=", reply_code = ?, reply_text = ?, next_attempt_at = ?",
            also_args=(change.code, text, change.retry_at),
        )  # fmt: skip
        _closed_attempt(
            db, message=change.message, started=change.started or change.at,
            finished=change.at, server=change.server, outcome=str(change.state),
            code=change.code, enhanced=change.enhanced, text=text, relay=change.relay,
        )  # fmt: skip
        if change.suppress is not None:
            _suppress(db, change.suppress, change.at)
        return None
    reason = valid_text(change.reason)
    if change.attempt is not None:
        _move(db, change.message, RELEASE_FROM, State.READY, change.at, attempt=change.attempt)
        _close_attempt(
            db, attempt=change.attempt, now=change.at, outcome="requeued", code=None,
            enhanced=None, text=reason,
        )  # fmt: skip
        return None
    # Refused or dropped before DATA, never taken: it keeps its state; the attempt is kept.
    _move(db, change.message, PENDING, None, change.at, bump=True, claim=worker)
    _closed_attempt(
        db, message=change.message, started=change.started or change.at, finished=change.at,
        server=change.server, outcome="requeued", code=None, enhanced=None, text=reason,
    )  # fmt: skip
    return None


def _check_quotas(db: Backend, change: Begin) -> None:
    """Raise `QuotaFull` when ``change.relay`` was already handed a quota's count in its
    window.  The window of a new attempt beginning at ``at`` holds every attempt through the
    relay that began after ``at`` minus the window, later ones included (another process may
    have begun one after ``at`` and committed first): then, whatever order the writers commit
    in, the last of any window's attempts to commit saw all the others, and no window ever
    holds more than the count."""
    relay = change.relay
    if relay is None:
        return
    at = datetime.fromisoformat(change.at)
    for quota in change.quotas:
        # The count-th most recent attempt still in the window: while there is one, the window
        # is full, until that attempt leaves it.
        row = db.execute(
            "SELECT started_at FROM attempts WHERE relay = ? AND started_at > ?"
            " ORDER BY started_at DESC LIMIT 1 OFFSET ?",
            (relay, timestamp(at - timedelta(seconds=quota.seconds)), quota.limit - 1),
        ).fetchone()
        if row is not None:
            until = datetime.fromisoformat(str(row[0])) + timedelta(seconds=quota.seconds)
            raise QuotaFull(change.message, relay, quota, until)


def _move(
    db: Backend,
    message: int,
    allowed: Iterable[State],
    target: State | None,
    now: str,
    *,
    bump: bool = False,
    attempt: int | None = None,
    claim: object = _ANY,
    also: str = "",
    also_args: tuple[object, ...] = (),
) -> None:
    """Move ``message`` to ``target`` (None: keep its state) if it is in one of the
    ``allowed`` states; with ``attempt``, only while that attempt is still open; with
    ``claim``, only if that worker holds it (None: if no worker does).  ``also``: more
    ``, column = ?`` to set, with ``also_args``.  Raise `DeliveryLogError` (nothing written)
    otherwise."""
    states = names(allowed)
    setting = "status = ?, " if target is not None else ""
    targets: tuple[object, ...] = (str(target),) if target is not None else ()
    bumped = ", attempts = attempts + 1" if bump else ""
    fence = ""
    args: list[object] = []
    if attempt is not None:
        # The attempt is the fencing token: recovery closes the open attempts it takes over.
        fence += (
            " AND EXISTS (SELECT 1 FROM attempts a WHERE a.id = ? AND a.message = messages.id"
            " AND a.finished_at IS NULL)"
        )
        args.append(attempt)
    if claim is None:
        fence += " AND worker IS NULL"
    elif claim is not _ANY:
        fence += " AND worker = ?"
        args.append(claim)
    cursor = db.execute(
        f"UPDATE messages SET {setting}updated_at = ?{bumped}{also}"
        f" WHERE id = ? AND status IN ({_marks(states)}){fence}",
        (*targets, now, *also_args, message, *states, *args),
    )
    if cursor.rowcount == 1:
        return
    found = db.execute("SELECT status, worker FROM messages WHERE id = ?", (message,)).fetchone()
    current = found[0] if found else "missing"
    wanted = target if target is not None else "the queue"
    if found is None or current not in states:
        raise DeliveryLogError(
            f"message {message}: cannot go from {current} to {wanted} (expected {states})"
        )
    if attempt is not None and claim is _ANY:
        raise DeliveryLogError(
            f"message {message}: attempt {attempt} was closed by another process"
            " (it recovered this run): this process must stop"
        )
    holder = "no worker" if found[1] is None else f"worker {found[1]}"
    raise DeliveryLogError(
        f"message {message}: held by {holder}, not by this process (another process found it"
        " silent and recovered its messages): this process must stop"
    )


def _close_attempt(
    db: Backend,
    *,
    attempt: int,
    now: str,
    outcome: str,
    code: int | None,
    enhanced: str | None,
    text: str | None,
) -> None:
    db.execute(
        "UPDATE attempts SET finished_at = ?, outcome = ?, reply_code = ?, enhanced_code = ?,"
        " reply_text = ? WHERE id = ?",
        (now, outcome, code, enhanced, text, attempt),
    )


def _closed_attempt(
    db: Backend,
    *,
    message: int,
    started: str,
    finished: str,
    server: str | None,
    outcome: str,
    code: int | None,
    enhanced: str | None,
    text: str,
    relay: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO attempts (message, started_at, finished_at, server, outcome, reply_code,"
        " enhanced_code, reply_text, relay) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (message, started, finished, server, outcome, code, enhanced, text, relay),
    )


# -- shared by several operations -------------------------------------------------------------


def _run(row: Sequence[Any]) -> Run:
    values = list(row)
    values[8] = json.loads(values[8] or "{}")  # settings
    return Run(*values)


def _earlier(db: Backend, campaign: str) -> Earlier:
    sent: dict[str, int] = {}
    unknown: dict[str, int] = {}
    rows = db.execute(
        "SELECT m.key, m.status = 'sent', MIN(m.run_id) FROM messages m JOIN runs r"
        " ON r.id = m.run_id WHERE r.campaign = ? AND m.status IN ('data', 'sent', 'unknown')"
        " GROUP BY m.key, m.status = 'sent'",
        (campaign,),
    )
    for key, was_sent, run in rows:
        (sent if was_sent else unknown)[str(key)] = int(run)
    for key in sent.keys() & unknown.keys():
        del unknown[key]  # sent by one run: a copy that may have arrived too changes nothing
    return Earlier(sent, unknown)


def _workers(db: Backend, run_id: int) -> list[WorkerRow]:
    rows = db.execute(
        f"SELECT {_WORKER} FROM workers WHERE run_id = ? AND finished_at IS NULL ORDER BY id",
        (run_id,),
    )
    return [WorkerRow(*r) for r in rows]


def _suppress(db: Backend, entry: NewSuppression, now: str) -> bool:
    asked = timestamp(entry.requested_at) if entry.requested_at is not None else None
    note = valid_text(entry.note) if entry.note is not None else None
    cursor = db.execute(
        "INSERT INTO suppressions (address, key, reason, source, requested_at, created_at,"
        " message, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (entry.address, entry.key, entry.reason, valid_text(entry.source), asked, now,
         entry.message, note),
    )  # fmt: skip
    new = cursor.rowcount == 1
    why = valid_text(f"{entry.reason} ({entry.source})")
    for chunk in _chunks(entry.pending):
        db.execute(
            "UPDATE messages SET status = 'suppressed', updated_at = ?, note = ?"
            f" WHERE id IN ({_marks(chunk)}) AND status IN ('deferred', 'ready')",
            (now, why, *chunk),
        )
    return new


def _bounce(db: Backend, bounce: NewBounce, now: str) -> bool:
    arrived = timestamp(bounce.arrived_at) if bounce.arrived_at is not None else None
    diagnostic = valid_text(bounce.diagnostic) if bounce.diagnostic is not None else None
    cursor = db.execute(
        "INSERT INTO bounces (message, notice, recipient, kind, action, status, diagnostic,"
        " remote_mta, matched_by, arrived_at, recorded_at, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (
            bounce.message, bounce.notice, bounce.recipient, bounce.kind, bounce.action,
            bounce.status, diagnostic, bounce.remote_mta, bounce.matched_by, arrived, now,
            bounce.source,
        ),
    )  # fmt: skip
    if cursor.rowcount != 1:
        return False
    if bounce.kind != "delayed":
        db.execute(
            "UPDATE messages SET status = 'bounced', updated_at = ? WHERE id = ?"
            f" AND status IN ({_marks(names(BOUNCE_FROM))})",
            (now, bounce.message, *names(BOUNCE_FROM)),
        )
    return True
