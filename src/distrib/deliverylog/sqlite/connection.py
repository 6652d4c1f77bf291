"""Opening a delivery log's SQLite file, and SQLite's errors as `DeliveryLogError`s.

Two ways in:

* `connect_writer`, for the commands that write (send, resume, resolve with an action,
  unsubscribe, bounces): WAL journal, ``synchronous=FULL``, foreign keys, and the schema
  upgraded (`migrate`).  A log written by a newer distrib is refused (`NewerLogError`) before
  anything is written, even a PRAGMA.
* `connect_reader`, for the commands that only read (runs, log, report, suppressions, contacts
  history, resolve without an action, and the suppression lookup of contacts check, merge and
  preview).  It writes nothing to the file and issues no PRAGMA that writes (``journal_mode=WAL``
  is a write), and it works on read-only media:

  - It opens with ``mode=ro``.  A log in WAL mode is read through its ``-shm`` index and
    ``-wal`` file; since SQLite 3.22 a read-only connection reads a WAL database when these
    exist or can be created beside it.  In a writable folder SQLite creates them if they are
    missing (and, being read-only, leaves them behind, empty): that is how a reader follows a
    send writing at the same time.  The log's own bytes never change.
  - Where they cannot be created (a read-only folder or medium), no process can be writing the
    log either, so it is opened ``immutable=1``: no locks, no ``-shm``.  Only when no ``-wal``
    with content (or ``-journal``) lies beside it, though: ``immutable`` ignores them and would
    show an older state.  Then the error says to copy the files to a writable folder.
  - An older log is not upgraded: it is copied into memory and the copy is upgraded, so every
    query sees today's schema.  A newer log is read as it is, with a warning.
  - A missing or empty (0-byte) file is an error, and stays missing or empty.

Any `sqlite3.Error` becomes a `DeliveryLogError` naming the file (`log_error`); a damaged file
becomes a `DamagedLogError` that says how to recover what can still be read.
"""

from __future__ import annotations

import shlex
import sqlite3
import time
from pathlib import Path

from distrib.deliverylog.migrations import newer_versions
from distrib.deliverylog.sqlite.migrations import MIGRATIONS, migrate, recorded_migrations
from distrib.errors import DamagedLogError, DeliveryLogError, NewerLogError, NoLogError

__all__ = ["connect_reader", "connect_writer", "log_error"]

#: Seconds to wait for another process's write lock (a send commits often, and briefly).
BUSY_TIMEOUT = 5.0

#: What SQLite says when a read-only connection cannot create or use the -wal and -shm files.
_NO_SIDE_FILES = frozenset(
    {
        "SQLITE_CANTOPEN",
        "SQLITE_READONLY",
        "SQLITE_READONLY_CANTINIT",
        "SQLITE_READONLY_CANTLOCK",
        "SQLITE_READONLY_DIRECTORY",
        "SQLITE_READONLY_RECOVERY",
    }
)


def connect_writer(file: Path, *, threads: bool = False) -> tuple[sqlite3.Connection, list[int]]:
    """Open ``file`` (created if missing) for writing, upgraded; return it with the migrations
    this call applied."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            file, isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=not threads
        )
    except OSError as exc:
        raise DeliveryLogError(f"{file}: cannot open the delivery log: {exc.strerror}") from None
    except sqlite3.Error as exc:
        raise log_error(file, exc, "open") from None
    try:
        newer = newer_versions(recorded_migrations(conn))  # before any PRAGMA: they may write
        if newer is not None:
            raise NewerLogError(f"{newer}: upgrade distrib to write to this log")
        _use_wal(conn)
        # In WAL mode NORMAL may lose the last commits on power loss, and the state committed
        # before DATA is the whole point.
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        applied = migrate(conn)
    except NewerLogError as exc:
        conn.close()
        raise NewerLogError(
            f"{file}: {exc} (read-only commands such as runs, log and report still read it)"
        ) from None
    except sqlite3.Error as exc:
        conn.close()
        raise log_error(file, exc, "open") from None
    return conn, applied


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a new log to WAL.  SQLite answers "database is locked" at once, without waiting
    for the busy timeout, when another process is creating the same file at that moment: try
    again (once the other process has switched it, there is nothing left to change)."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY":
                raise
            if time.monotonic() > deadline:
                raise
        time.sleep(0.005)


def connect_reader(file: Path, *, threads: bool = False) -> tuple[sqlite3.Connection, list[str]]:
    """Open ``file`` read-only (see the module's docstring); return it with warnings to show."""
    _check_present(file)
    try:
        conn, recorded = _probe(file, "mode=ro", threads)
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorname", "") not in _NO_SIDE_FILES:
            raise log_error(file, exc, "read") from None
        _check_nothing_beside(file, exc)
        try:
            conn, recorded = _probe(file, "mode=ro&immutable=1", threads)
        except sqlite3.Error as again:
            raise log_error(file, again, "read") from None
    warnings = []
    try:
        if not recorded:
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables == 0:
                raise NoLogError(f"{file}: no delivery log in it yet (an empty database)")
            raise DeliveryLogError(
                f"{file}: not a delivery log (it has no schema_migrations table)"
            )
        newer = newer_versions(recorded)
        if newer is not None:
            warnings.append(
                f"{file}: {newer}: read as this distrib knows it; upgrade distrib to see all of it"
            )
        elif not {m.version for m in MIGRATIONS} <= recorded.keys():
            conn = _upgraded_copy(conn, threads)
        conn.execute("PRAGMA query_only=ON")  # a connection setting, not a write
    except sqlite3.Error as exc:
        conn.close()
        raise log_error(file, exc, "read") from None
    except DeliveryLogError:
        conn.close()
        raise
    return conn, warnings


def log_error(file: Path, exc: sqlite3.Error, doing: str) -> DeliveryLogError:
    """The `DeliveryLogError` for SQLite's ``exc`` while ``doing`` (open, read, write) ``file``."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or (
        "malformed" in text or "not a database" in text
    ):
        return DamagedLogError(
            f"{file}: cannot {doing} the delivery log: it is damaged, or is not a SQLite file"
            f" ({text}).\n  Keep this file as it is.  To recover what can still be read into a"
            " new file, and check it:\n"
            f"    sqlite3 {shlex.quote(str(file))} .recover | sqlite3 recovered.sqlite\n"
            "    distrib runs --log recovered.sqlite\n"
            '  (more in distrib\'s docs/audit.md, "A damaged delivery log")'
        )
    if doing != "read" and name.startswith("SQLITE_READONLY"):
        return DeliveryLogError(
            f"{file}: cannot {doing} the delivery log: {text} (this command writes to the log:"
            " it needs write access to the file and its folder; runs, log and report only read"
            " it)"
        )
    return DeliveryLogError(f"{file}: cannot {doing} the delivery log: {text}")


def _check_present(file: Path) -> None:
    """A read command never creates the file, nor writes a schema into an empty one."""
    if not file.exists():
        raise NoLogError(f"{file}: no delivery log here (nothing has been sent yet?)")
    try:
        with file.open("rb") as handle:
            empty = handle.read(1) == b""
    except OSError as exc:
        raise DeliveryLogError(f"{file}: cannot read the delivery log: {exc.strerror}") from None
    if empty:
        raise NoLogError(f"{file}: empty file: no delivery log in it yet")


def _probe(
    file: Path, options: str, threads: bool
) -> tuple[sqlite3.Connection, dict[int, str | None]]:
    """Connect with these URI ``options`` and read the migrations table (where SQLite finds out
    whether it can read the file at all)."""
    uri = f"{file.absolute().as_uri()}?{options}"
    conn = sqlite3.connect(
        uri, uri=True, isolation_level=None, timeout=BUSY_TIMEOUT, check_same_thread=not threads
    )
    try:
        return conn, recorded_migrations(conn)
    except BaseException:
        conn.close()
        raise


def _check_nothing_beside(file: Path, exc: sqlite3.Error) -> None:
    """``immutable`` ignores a -wal or -journal file: refuse to show an older state."""
    for suffix, holds in (
        ("-wal", "commits not yet copied into the log"),
        ("-journal", "an unfinished transaction to roll back"),
    ):
        side = file.with_name(file.name + suffix)
        try:
            size = side.stat().st_size
        except FileNotFoundError:
            continue
        except OSError:
            size = 1  # there, but not even its size can be read
        if size:
            raise DeliveryLogError(
                f"{file}: cannot be read where it is ({exc}): {side.name} beside it holds {holds},"
                f" which SQLite can only read where it can create {file.name}-shm; copy"
                f" {file.name} and {side.name} together to a writable folder and read the copy"
                " there"
            )


def _upgraded_copy(conn: sqlite3.Connection, threads: bool) -> sqlite3.Connection:
    """An older log, copied into memory and upgraded there: the file is left as it is."""
    memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=not threads)
    try:
        conn.backup(memory)
        migrate(memory)
    except BaseException:
        memory.close()
        raise
    finally:
        conn.close()
    return memory
