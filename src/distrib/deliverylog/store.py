"""The delivery log: a real SQLite file with one row per message and one per SMTP attempt.

Durability: WAL journal with ``synchronous=FULL`` (in WAL mode NORMAL may lose the last commits on
power loss, and the state committed before DATA is the whole point).  Commands that only read
open the log with `DeliveryLog.open_read_only`, which writes nothing, even on read-only media
(see `distrib.deliverylog.connection`).  Every SQLite error, when opening or on any later read or
write, becomes a `DeliveryLogError` that names the file.  Every state change is its
own transaction and is guarded: an update only applies from the states it is allowed from, so a
bug cannot silently turn a ``sent`` message back into ``ready``.

Never stored: the SMTP password and message bodies (only a hash of the rendered content).
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from distrib.deliverylog.connection import connect_reader, connect_writer, log_error
from distrib.deliverylog.feedback import BounceRow, NewBounce, NewSuppression, Suppressed
from distrib.deliverylog.states import ACTIVE, PENDING, State
from distrib.errors import DeliveryLogError, Location, RunNotFoundError

__all__ = [
    "Attempt",
    "DeliveryLog",
    "MessageRow",
    "NewMessage",
    "Run",
    "logged_suppressions",
    "new_run_token",
    "timestamp",
    "utcnow",
    "valid_text",
]


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def new_run_token() -> str:
    """Draw a random run token (12 hex digits), unique across logs for practical purposes."""
    return secrets.token_hex(6)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def timestamp(value: datetime) -> str:
    """Format ``value`` the way the log stores times (UTC, milliseconds), so they compare."""
    return _ts(value)


def valid_text(text: str) -> str:
    """``text`` as valid Unicode, which SQLite can store: a lone surrogate (bytes a decoder
    kept with ``surrogateescape``) becomes the character those bytes are in Windows-1252 or
    U+FFFD.  A reply text reaches the log through `distrib.send.replies` already valid: this is
    the last guard, so that no text can make a state change fail."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", "replace")
    return text


@dataclass(frozen=True, slots=True)
class Run:
    """One send run of a campaign."""

    id: int
    token: str
    campaign: str
    campaign_file: str
    status: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    settings: Mapping[str, Any]
    contacts_hash: str | None
    templates_hash: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message row to create when a run is planned (before anything is sent)."""

    key: str
    recipient: str
    address: str
    status: State = State.READY
    name: str = ""
    outlet: str = ""
    language: str = ""
    provenance: str = ""
    subject: str = ""
    message_id: str | None = None
    content_hash: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message of a run, as stored."""

    id: int
    run_id: int
    key: str
    recipient: str
    address: str
    name: str
    outlet: str
    language: str
    provenance: str
    subject: str
    message_id: str | None
    content_hash: str | None
    status: str
    reply_code: int | None
    reply_text: str | None
    attempts: int
    next_attempt_at: str | None
    created_at: str
    updated_at: str
    sent_at: str | None
    note: str | None
    resolved_at: str | None = None  # set by `distrib resolve` (migration 2)
    resolved_by: str | None = None
    resolution: str | None = None

    @property
    def domain(self) -> str:
        """The recipient's domain."""
        return self.address.rpartition("@")[2]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at delivering a message: what the server said."""

    id: int
    message: int
    started_at: str
    finished_at: str | None
    server: str | None
    outcome: str | None
    reply_code: int | None
    enhanced_code: str | None
    reply_text: str | None


_MESSAGE_COLUMNS = ", ".join(MessageRow.__slots__)
#: What an attempt's outcome sets besides the state (with `_move`'s ``also``).
_REPLY = (
    ", reply_code = ?, reply_text = ?, next_attempt_at = ?,"
    " sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END"
)
_RUN_COLUMNS = ", ".join(Run.__slots__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reads(
    method: Callable[Concatenate[DeliveryLog, _P], _R],
) -> Callable[Concatenate[DeliveryLog, _P], _R]:
    """A method that reads the log: SQLite's errors (a damaged page found only now, a file
    gone) become a `DeliveryLogError` naming the file, never a traceback."""

    def reading(self: DeliveryLog, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise log_error(self.path, exc, "read") from None

    functools.update_wrapper(reading, method)  # its name and docstring
    return reading


class DeliveryLog:
    """A delivery log file.  Open with `DeliveryLog.open` (to write) or `open_read_only`; use as
    a context manager.

    ``read_only``: opened with `open_read_only`; ``upgraded``: the migrations this opening
    applied; ``warnings``: what a reader should be told (a log written by a newer distrib).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        clock: Callable[[], datetime],
        *,
        read_only: bool = False,
        upgraded: Sequence[int] = (),
        warnings: Sequence[str] = (),
    ) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock
        self.read_only = read_only
        self.upgraded = tuple(upgraded)
        self.warnings = tuple(warnings)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = True,
        clock: Callable[[], datetime] = utcnow,
        threads: bool = False,
    ) -> Self:
        """Open the log at ``path`` to write to it (creating it, or upgrading an older one).

        A log written by a newer distrib is refused (`NewerLogError`), nothing written.
        ``threads=True`` lets the connection be used from another thread than the one that
        opened it, one thread at a time (the caller serialises; see `reopen`).
        """
        file = Path(path)
        if not create and not file.is_file():
            raise DeliveryLogError(f"{file}: no delivery log here (nothing has been sent yet?)")
        conn, upgraded = connect_writer(file, threads=threads)
        return cls(conn, file, clock, upgraded=upgraded)

    @classmethod
    def open_read_only(
        cls,
        path: str | Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        threads: bool = False,
    ) -> Self:
        """Open the log at ``path`` only to read it: nothing is written to it, not even on
        read-only media; a missing or empty file is an error (and stays missing or empty); an
        older log is read upgraded in memory; a newer one is read with a warning (`warnings`).
        """
        file = Path(path)
        conn, warnings = connect_reader(file, threads=threads)
        return cls(conn, file, clock, read_only=True, warnings=warnings)

    def close(self) -> None:
        """Close the underlying connection."""
        self._conn.close()

    def reopen(self) -> DeliveryLog:
        """Open a second connection to the same file, with the same clock, that another thread
        may use (one thread at a time): the sending engine's group commits (issue 7)."""
        if self.read_only:
            return DeliveryLog.open_read_only(self.path, clock=self._clock, threads=True)
        return DeliveryLog.open(self.path, create=False, clock=self._clock, threads=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def now(self) -> str:
        """Return the log's current timestamp string (UTC, milliseconds)."""
        return _ts(self._clock())

    def current_time(self) -> datetime:
        """Return the log's current time (its injectable clock), aware, in UTC."""
        return self._clock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run statements in one write transaction (``BEGIN IMMEDIATE``)."""
        if self.read_only:
            raise DeliveryLogError(f"{self.path}: opened read-only: this command cannot write it")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise log_error(self.path, exc, "write") from None
        try:
            yield self._conn
        except sqlite3.Error as exc:
            # A constraint, a full disk, a read-only file, a damaged page: a clear DistribError.
            self._rollback()
            raise log_error(self.path, exc, "write") from None
        except BaseException:
            self._rollback()
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise log_error(self.path, exc, "write") from None

    def _rollback(self) -> None:
        # SQLite may already have rolled back by itself (e.g. on SQLITE_FULL).
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        campaign: str,
        campaign_file: str,
        *,
        settings: Mapping[str, Any] | None = None,
        contacts_hash: str | None = None,
        templates_hash: str | None = None,
        token: str | None = None,
    ) -> Run:
        """Record a new run (status ``planned``) and return it.

        ``token`` is the run's unique random identifier, used in Message-IDs; pass the one the
        messages were planned with, or let the log draw one.
        """
        token = token or new_run_token()
        with self.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (token, campaign, campaign_file, status, created_at, settings,"
                " contacts_hash, templates_hash) VALUES (?, ?, ?, 'planned', ?, ?, ?, ?)",
                (
                    token,
                    campaign,
                    campaign_file,
                    self.now(),
                    json.dumps(dict(settings or {}), sort_keys=True),
                    contacts_hash,
                    templates_hash,
                ),
            )
        assert cursor.lastrowid is not None
        return self.get_run(cursor.lastrowid)

    def update_run_settings(self, run_id: int, changes: Mapping[str, Any]) -> None:
        """Add or replace keys of run ``run_id``'s settings (e.g. how a resume changed it)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT settings FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(f"{self.path}: no run {run_id} (see `distrib runs`)")
            settings = {**json.loads(row[0] or "{}"), **changes}
            conn.execute(
                "UPDATE runs SET settings = ? WHERE id = ?",
                (json.dumps(settings, sort_keys=True), run_id),
            )

    @_reads
    def get_run(self, run_id: int) -> Run:
        """Return run ``run_id`` or raise `RunNotFoundError`."""
        row = self._conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        found = row.fetchone()
        if found is None:
            raise RunNotFoundError(f"{self.path}: no run {run_id} (see `distrib runs`)")
        return _run(found)

    @_reads
    def runs(self, campaign: str | None = None) -> list[Run]:
        """Return every run, oldest first (optionally only one campaign's)."""
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        args: tuple[Any, ...] = ()
        if campaign is not None:
            sql, args = sql + " WHERE campaign = ?", (campaign,)
        return [_run(r) for r in self._conn.execute(sql + " ORDER BY id", args)]

    def set_run_status(self, run_id: int, status: str, note: str | None = None) -> None:
        """Set a run's status, stamping ``started_at`` / ``finished_at`` as they happen."""
        now = self.now()
        with self.transaction() as conn:
            conn.execute(
                "UPDATE runs SET status = ?, note = COALESCE(?, note),"
                " started_at = CASE WHEN ? = 'sending' THEN COALESCE(started_at, ?)"
                " ELSE started_at END,"
                " finished_at = CASE WHEN ? IN ('finished', 'stopped', 'aborted') THEN ?"
                " ELSE NULL END WHERE id = ?",
                (status, note, status, now, status, now, run_id),
            )

    # -- planning -----------------------------------------------------------------------------

    def add_messages(self, run_id: int, messages: Iterable[NewMessage]) -> int:
        """Create the message rows of a run in one transaction; return how many were added."""
        now = self.now()
        rows = (
            (
                run_id, m.key, m.recipient, m.address, m.name, m.outlet, m.language, m.provenance,
                m.subject, m.message_id, m.content_hash, str(m.status), now, now, m.note,
            )
            for m in messages
        )  # fmt: skip
        with self.transaction() as conn:
            cursor = conn.executemany(
                "INSERT INTO messages (run_id, key, recipient, address, name, outlet, language,"
                " provenance, subject, message_id, content_hash, status, created_at, updated_at,"
                " note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return cursor.rowcount

    @_reads
    def sent_keys(self, campaign: str, *, exclude_run: int | None = None) -> dict[str, int]:
        """Map each key already sent (or possibly sent: ``unknown``) by this campaign to its run."""
        rows = self._conn.execute(
            "SELECT m.key, MIN(m.run_id) FROM messages m JOIN runs r ON r.id = m.run_id"
            " WHERE r.campaign = ? AND m.status IN ('sent', 'unknown', 'data')"
            " AND r.id IS NOT ? GROUP BY m.key",
            (campaign, exclude_run),
        )
        return {str(key): int(run) for key, run in rows}

    # -- the state machine --------------------------------------------------------------------

    def recover(self, run_id: int) -> tuple[int, int]:
        """After a crash: ``sending`` → ``ready`` (not delivered), ``data`` → ``unknown``.

        Returns (requeued, unknown).
        """
        now = self.now()
        with self.transaction() as conn:
            requeued = conn.execute(
                "UPDATE messages SET status = 'ready', updated_at = ? WHERE run_id = ?"
                " AND status = 'sending'",
                (now, run_id),
            ).rowcount
            unknown = conn.execute(
                "UPDATE messages SET status = 'unknown', updated_at = ?, reply_text ="
                " 'interrupted after DATA began: may or may not have been delivered'"
                " WHERE run_id = ? AND status = 'data'",
                (now, run_id),
            ).rowcount
            conn.execute(
                "UPDATE attempts SET finished_at = ?, outcome = 'interrupted' WHERE finished_at"
                " IS NULL AND message IN (SELECT id FROM messages WHERE run_id = ?)",
                (now, run_id),
            )
        return requeued, unknown

    @_reads
    def pending(self, run_id: int, *, due_by: datetime | None = None) -> list[MessageRow]:
        """Return the messages this run still has to try, in planning order.

        With ``due_by``, deferred messages are only returned once their retry time has come.
        """
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE run_id = ? AND (status = 'ready'"
        args: list[Any] = [run_id]
        if due_by is None:
            sql += " OR status = 'deferred')"
        else:
            sql += " OR (status = 'deferred' AND COALESCE(next_attempt_at, '') <= ?))"
            args.append(_ts(due_by))
        return [_message(r) for r in self._conn.execute(sql + " ORDER BY id", args)]

    def claim(self, message: int, *, server: str | None = None) -> int:
        """Mark a pending message ``sending`` and open an attempt; return the attempt id."""
        now = self.now()
        with self.transaction() as conn:
            self._move(conn, message, PENDING, State.SENDING, now, bump_attempts=True)
            cursor = conn.execute(
                "INSERT INTO attempts (message, started_at, server) VALUES (?, ?, ?)",
                (message, now, server),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def begin_data(self, message: int, attempt: int | None = None) -> None:
        """Commit that DATA is about to start: from here a lost connection means ``unknown``.

        With ``attempt``, only while that attempt is still open: a process whose attempt was
        closed by another's `recover` (it lost its lease) must not go on to DATA.
        """
        with self.transaction() as conn:
            self._move(conn, message, {State.SENDING}, State.DATA, self.now(), attempt=attempt)

    def release(self, message: int, attempt: int, *, reason: str, before_354: bool = False) -> None:
        """Return a claimed message to ``ready`` (nothing was transmitted: safe to retry).

        From ``sending`` always; from ``data`` only with ``before_354=True``, when the caller
        knows the server never invited the body (the connection dropped before 354).
        """
        with self.transaction() as conn:
            self.release_in(conn, message, attempt, reason=reason, before_354=before_354)

    def release_in(
        self,
        conn: sqlite3.Connection,
        message: int,
        attempt: int,
        *,
        reason: str,
        before_354: bool,
        now: str | None = None,
    ) -> None:
        """`release` inside the caller's transaction (``now``: when it happened)."""
        now = now or self.now()
        allowed = {State.SENDING, State.DATA} if before_354 else {State.SENDING}
        self._move(conn, message, allowed, State.READY, now, attempt=attempt)
        self._close_attempt(
            conn, attempt=attempt, now=now, outcome="requeued", code=None, enhanced=None,
            text=valid_text(reason),
        )  # fmt: skip

    def record(
        self,
        message: int,
        attempt: int,
        state: State,
        *,
        code: int | None,
        text: str,
        enhanced: str | None = None,
        retry_at: datetime | None = None,
        retry_in: float | None = None,
    ) -> None:
        """Record the outcome of an attempt: ``sent``, ``deferred``, ``failed`` or ``unknown``.

        ``retry_in`` (seconds) sets the retry time from the log's own clock, like ``retry_at``.
        The attempt must still be open (see `begin_data`).
        """
        if state not in {State.SENT, State.DEFERRED, State.FAILED, State.UNKNOWN}:
            raise ValueError(f"not an attempt outcome: {state}")
        current = self._clock()
        if retry_in is not None:
            retry_at = current + timedelta(seconds=retry_in)
        with self.transaction() as conn:
            self.record_in(
                conn, message, attempt, state, code=code, text=text, enhanced=enhanced,
                retry_at=_ts(retry_at) if retry_at is not None else None, now=_ts(current),
            )  # fmt: skip

    def record_in(
        self,
        conn: sqlite3.Connection,
        message: int,
        attempt: int,
        state: State,
        *,
        code: int | None,
        text: str,
        enhanced: str | None,
        retry_at: str | None,
        now: str,
    ) -> None:
        """`record` inside the caller's transaction (``now``: when the reply came)."""
        allowed = {State.DATA} if state in {State.SENT, State.UNKNOWN} else ACTIVE
        text = valid_text(text)
        self._move(
            conn, message, allowed, state, now, attempt=attempt, also=_REPLY,
            also_args=(code, text, retry_at, str(state), now),
        )  # fmt: skip
        self._close_attempt(
            conn, attempt=attempt, now=now, outcome=str(state), code=code, enhanced=enhanced,
            text=text,
        )  # fmt: skip

    def _move(
        self,
        conn: sqlite3.Connection,
        message: int,
        allowed: Iterable[State],
        target: State,
        now: str,
        *,
        bump_attempts: bool = False,
        attempt: int | None = None,
        also: str = "",
        also_args: tuple[object, ...] = (),
    ) -> None:
        """Move ``message`` to ``target`` if it is in one of the ``allowed`` states (and, with
        ``attempt``, that attempt is still open); ``also``: more ``, column = ?`` to set, with
        ``also_args``.  Raise `DeliveryLogError` (nothing written) otherwise."""
        states = sorted(str(s) for s in allowed)
        marks = ", ".join("?" * len(states))
        bump = ", attempts = attempts + 1" if bump_attempts else ""
        fence = ""
        args: tuple[int, ...] = ()
        if attempt is not None:
            # The attempt is the fencing token: `recover` closes every open attempt of a run.
            fence = (
                " AND EXISTS (SELECT 1 FROM attempts a WHERE a.id = ? AND a.message = messages.id"
                " AND a.finished_at IS NULL)"
            )
            args = (attempt,)
        cursor = conn.execute(
            f"UPDATE messages SET status = ?, updated_at = ?{bump}{also}"
            f" WHERE id = ? AND status IN ({marks}){fence}",
            (str(target), now, *also_args, message, *states, *args),
        )
        if cursor.rowcount != 1:
            found = conn.execute("SELECT status FROM messages WHERE id = ?", (message,)).fetchone()
            current = found[0] if found else "missing"
            if found is not None and current in states:
                raise DeliveryLogError(
                    f"message {message}: attempt {attempt} was closed by another process"
                    " (it recovered this run): this process must stop"
                )
            raise DeliveryLogError(
                f"message {message}: cannot go from {current} to {target} (expected {states})"
            )

    @staticmethod
    def _close_attempt(
        conn: sqlite3.Connection,
        *,
        attempt: int,
        now: str,
        outcome: str,
        code: int | None,
        enhanced: str | None,
        text: str | None,
    ) -> None:
        conn.execute(
            "UPDATE attempts SET finished_at = ?, outcome = ?, reply_code = ?, enhanced_code = ?,"
            " reply_text = ? WHERE id = ?",
            (now, outcome, code, enhanced, text, attempt),
        )

    # -- reading ------------------------------------------------------------------------------

    @_reads
    def messages(self, run_id: int, *, states: Sequence[str] | None = None) -> list[MessageRow]:
        """Return a run's messages in planning order, optionally only some states."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE run_id = ?"
        args: list[Any] = [run_id]
        if states:
            sql += f" AND status IN ({', '.join('?' * len(states))})"
            args.extend(states)
        return [_message(r) for r in self._conn.execute(sql + " ORDER BY id", args)]

    @_reads
    def message(self, message: int) -> MessageRow:
        """Return one message row by id."""
        row = self._conn.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message,)
        ).fetchone()
        if row is None:
            raise DeliveryLogError(f"{self.path}: no message {message}")
        return _message(row)

    @_reads
    def attempts(self, message: int) -> list[Attempt]:
        """Return every attempt made for one message, oldest first."""
        rows = self._conn.execute(
            "SELECT id, message, started_at, finished_at, server, outcome, reply_code,"
            " enhanced_code, reply_text FROM attempts WHERE message = ? ORDER BY id",
            (message,),
        )
        return [Attempt(*tuple(r)) for r in rows]

    @_reads
    def counts(self, run_id: int) -> dict[str, int]:
        """Count a run's messages per state."""
        rows = self._conn.execute(
            "SELECT status, COUNT(*) FROM messages WHERE run_id = ? GROUP BY status", (run_id,)
        )
        return {str(status): int(n) for status, n in rows}

    @_reads
    def query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Run a query that only reads (the audit module's; on a log opened read-only nothing
        else is possible)."""
        return list(self._conn.execute(sql, args))

    # -- suppressions and bounces (migrations 10-11, written by the audit stage) ---------------

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
        """Put ``address`` (matched on ``key``) on the suppression list; False if already there.

        ``pending`` names this person's messages still waiting in some run (``ready`` or
        ``deferred``): they become ``suppressed`` in the same transaction, so not even a resumed
        run sends them.
        """
        entry = NewSuppression(address, key, reason, source, requested_at, message, note,
                               tuple(pending))  # fmt: skip
        return self.add_suppressions([entry])[0]

    def add_suppressions(self, entries: Iterable[NewSuppression]) -> list[bool]:
        """Add several entries in one transaction (see `add_suppression`); True for each new one."""
        now = self.now()
        with self.transaction() as conn:
            return [self._suppress(conn, entry, now) for entry in entries]

    @staticmethod
    def _suppress(conn: sqlite3.Connection, entry: NewSuppression, now: str) -> bool:
        asked = _ts(entry.requested_at) if entry.requested_at is not None else None
        cursor = conn.execute(
            "INSERT OR IGNORE INTO suppressions (address, key, reason, source, requested_at,"
            " created_at, message, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.address, entry.key, entry.reason, entry.source, asked, now, entry.message,
             entry.note),
        )  # fmt: skip
        conn.executemany(
            "UPDATE messages SET status = 'suppressed', updated_at = ?, note = ? WHERE id = ?"
            " AND status IN ('ready', 'deferred')",
            [(now, f"{entry.reason} ({entry.source})", m) for m in entry.pending],
        )
        return cursor.rowcount == 1

    @_reads
    def suppressions(self) -> list[Suppressed]:
        """Return the suppression list, oldest entry first."""
        rows = self._conn.execute(
            "SELECT id, address, key, reason, source, requested_at, created_at, message, note"
            " FROM suppressions ORDER BY id"
        )
        return [Suppressed(*tuple(r)) for r in rows]

    def suppression_entries(self) -> list[tuple[str, Location]]:
        """Return (address, where) for every entry, as `load_contacts` takes extra suppressions."""
        return [
            (s.address, Location("delivery log", column=f"{s.reason} {s.created_at[:10]}"))
            for s in self.suppressions()
        ]

    def record_bounce(self, bounce: NewBounce) -> bool:
        """Record a bounce once (the same notice read again returns False and changes nothing).

        A failure, hard or soft, moves its message from ``sent`` or ``unknown`` to ``bounced``:
        the relay accepted it but the recipient's server did not.  A delay warning only records.
        """
        return self.record_bounces([(bounce, None)])[0]

    def record_bounces(
        self, items: Iterable[tuple[NewBounce, NewSuppression | None]]
    ) -> list[bool]:
        """Record bounces in one transaction, each with the suppression it calls for (if new)."""
        now = self.now()
        recorded = []
        with self.transaction() as conn:
            for bounce, suppression in items:
                new = self._bounce(conn, bounce, now)
                if new and suppression is not None:
                    self._suppress(conn, suppression, now)
                recorded.append(new)
        return recorded

    @staticmethod
    def _bounce(conn: sqlite3.Connection, bounce: NewBounce, now: str) -> bool:
        arrived = _ts(bounce.arrived_at) if bounce.arrived_at is not None else None
        cursor = conn.execute(
            "INSERT OR IGNORE INTO bounces (message, notice, recipient, kind, action, status,"
            " diagnostic, remote_mta, matched_by, arrived_at, recorded_at, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                bounce.message, bounce.notice, bounce.recipient, bounce.kind, bounce.action,
                bounce.status, bounce.diagnostic, bounce.remote_mta, bounce.matched_by,
                arrived, now, bounce.source,
            ),
        )  # fmt: skip
        if cursor.rowcount != 1:
            return False
        if bounce.kind != "delayed":
            conn.execute(
                "UPDATE messages SET status = 'bounced', updated_at = ? WHERE id = ?"
                " AND status IN ('sent', 'unknown')",
                (now, bounce.message),
            )
        return True

    @_reads
    def bounces(self, message: int | None = None) -> list[BounceRow]:
        """Return every recorded bounce (or one message's), oldest first."""
        sql = (
            "SELECT id, message, notice, recipient, kind, action, status, diagnostic, remote_mta,"
            " matched_by, arrived_at, recorded_at, source FROM bounces"
        )
        args: tuple[Any, ...] = ()
        if message is not None:
            sql, args = sql + " WHERE message = ?", (message,)
        return [BounceRow(*tuple(r)) for r in self._conn.execute(sql + " ORDER BY id", args)]


def _run(row: sqlite3.Row) -> Run:
    values = dict(row)
    values["settings"] = json.loads(values["settings"] or "{}")
    return Run(**values)


def _message(row: sqlite3.Row) -> MessageRow:
    return MessageRow(*tuple(row))


def logged_suppressions(path: Path) -> list[tuple[str, Location]]:
    """The suppression list (opt-outs, hard bounces) of the delivery log at ``path``, as
    `DeliveryLog.suppression_entries` gives it; none when there is no log yet.

    `distrib contacts check`, `merge` and `preview` show these people set aside, as `send` will.
    The log is only read (`DeliveryLog.open_read_only`): a missing or empty file stays so.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return []
    with DeliveryLog.open_read_only(path) as log:
        return log.suppression_entries()
