"""The SQLite connection behind the shared statements (`distrib.deliverylog.sql`)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from distrib.deliverylog.sql.backend import Cursor
from distrib.deliverylog.sqlite.connection import connect_writer, log_error
from distrib.errors import DeliveryLogError

__all__ = ["SQLiteBackend"]


class SQLiteBackend:
    """One connection to a log file.  Write transactions are ``BEGIN IMMEDIATE``: one writer
    at a time, so no statement needs a row lock (``for_update`` and the others are empty)."""

    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    for_update = ""
    for_share = ""
    skip_locked = ""

    def __init__(self, conn: sqlite3.Connection, file: Path) -> None:
        self._conn = conn
        self.file = file
        self.where = str(file)
        self.name = file.name

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per row."""
        self._conn.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Insert one row; return its id."""
        cursor = self._conn.execute(sql, params)
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def begin(self) -> None:
        """``BEGIN IMMEDIATE``: no other writer until we commit."""
        self._conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        """Commit (``synchronous=FULL``: on disk when this returns)."""
        self._conn.execute("COMMIT")

    def rollback(self) -> None:
        """Roll back; SQLite may already have done so by itself (e.g. on SQLITE_FULL)."""
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("ROLLBACK")

    def lock(self, name: str) -> None:
        """Nothing to do: a write transaction already excludes every other writer."""
        del name

    def error(self, exc: Exception, doing: str) -> DeliveryLogError:
        """SQLite's error as a `DeliveryLogError` naming the file."""
        if isinstance(exc, sqlite3.Error):
            return log_error(self.file, exc, doing)
        return DeliveryLogError(f"{self.file}: cannot {doing} the delivery log: {exc}")

    def writer(self) -> SQLiteBackend:
        """A second connection, usable from another thread, with a large page cache: a long
        run's rows and indexes stay in memory, so each change is a few microseconds."""
        conn, _ = connect_writer(self.file, threads=True)
        conn.execute("PRAGMA cache_size = -65536")  # KiB: 64 MB at most
        return SQLiteBackend(conn, self.file)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
