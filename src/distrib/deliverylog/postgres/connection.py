"""Opening a PostgreSQL delivery log, and psycopg's errors as `DeliveryLogError`s.

* `connect_writer`: for the commands that write.  The schema is upgraded (`migrate`); a
  database written by a newer distrib is refused (`NewerLogError`) before anything is written.
* `connect_reader`: for the commands that only read: every transaction of the session is
  read-only (``default_transaction_read_only``), so nothing can be written, not even by
  mistake.  A database without distrib's tables is `NoLogError` (and stays empty); one written
  by a newer distrib is read with a warning.

The connection is in autocommit mode: the shared statements open their transactions
themselves (``BEGIN`` … ``COMMIT``, at READ COMMITTED, with row locks and advisory locks where
SQLite relies on ``BEGIN IMMEDIATE``).  A password missing from the URL comes from libpq's usual
places (``PGPASSWORD``, ``~/.pgpass``, a service file); it never appears in a message.
"""

from __future__ import annotations

import psycopg

from distrib.deliverylog.migrations import SCHEMA, newer_versions
from distrib.deliverylog.postgres.migrations import migrate, recorded_migrations
from distrib.deliverylog.urls import redact, scrub
from distrib.errors import DeliveryLogError, NewerLogError, NoLogError

__all__ = ["Connection", "connect", "connect_reader", "connect_writer", "log_error"]

Connection = psycopg.Connection[tuple[object, ...]]

#: Seconds to wait for the server when connecting.
CONNECT_TIMEOUT = 10
#: How long one statement may wait for a lock another process holds (a stuck process must not
#: hang every other one).
LOCK_TIMEOUT = "30s"


def connect(url: str, *, read_only: bool = False) -> Connection:
    """A connection to ``url`` in autocommit mode (read-only sessions for ``read_only``)."""
    try:
        conn = psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT, application_name="distrib"
        )
    except psycopg.Error as exc:
        raise log_error(url, exc, "open") from None
    try:
        conn.execute("SELECT set_config('lock_timeout', %s, false)", (LOCK_TIMEOUT,))
        if read_only:
            conn.execute("SET default_transaction_read_only = on")
    except psycopg.Error as exc:
        conn.close()
        raise log_error(url, exc, "open") from None
    return conn


def connect_writer(url: str, *, create: bool = True) -> tuple[Connection, list[int]]:
    """Open ``url`` to write, upgraded; return the connection with the migrations applied."""
    conn = connect(url)
    try:
        recorded = recorded_migrations(conn)
        newer = newer_versions(recorded)
        if newer is not None:
            raise NewerLogError(
                f"{redact(url)}: {newer}: upgrade distrib to write to this log (read-only"
                " commands such as runs, log and report still read it)"
            )
        if not recorded and not create:
            raise NoLogError(f"{redact(url)}: no delivery log in this database yet")
        applied = migrate(conn)
    except psycopg.Error as exc:
        conn.close()
        raise log_error(url, exc, "open") from None
    except BaseException:
        conn.close()
        raise
    return conn, applied


def connect_reader(url: str) -> tuple[Connection, list[str]]:
    """Open ``url`` only to read; return the connection with warnings to show."""
    conn = connect(url, read_only=True)
    warnings = []
    try:
        recorded = recorded_migrations(conn)
        if not recorded:
            raise NoLogError(
                f"{redact(url)}: no delivery log in this database yet (nothing has been sent?)"
            )
        newer = newer_versions(recorded)
        if newer is not None:
            warnings.append(
                f"{redact(url)}: {newer}: read as this distrib knows it; upgrade distrib to see"
                " all of it"
            )
        elif not {v for v, _ in SCHEMA} <= recorded.keys():
            raise DeliveryLogError(
                f"{redact(url)}: this log's schema is older than this distrib's; a command"
                " that writes to it (send, resolve, unsubscribe, bounces) upgrades it first"
            )
    except psycopg.Error as exc:
        conn.close()
        raise log_error(url, exc, "read") from None
    except BaseException:
        conn.close()
        raise
    return conn, warnings


def log_error(url: str, exc: psycopg.Error, doing: str) -> DeliveryLogError:
    """The `DeliveryLogError` for psycopg's ``exc`` while ``doing`` (open, read, write)."""
    text = scrub(" ".join(str(exc).split()), url)
    if doing != "read" and isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        text += " (this command writes to the log; runs, log and report only read it)"
    return DeliveryLogError(f"{redact(url)}: cannot {doing} the delivery log: {text}")
