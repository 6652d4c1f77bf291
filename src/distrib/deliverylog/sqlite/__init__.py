"""The SQLite adapter: a delivery log in one file beside the campaign.

Durability: WAL journal with ``synchronous=FULL`` (see `connection`).  Commands that only read
open the file read-only and write nothing, even on read-only media.  This package is the only
place in distrib that imports `sqlite3`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from distrib.deliverylog.sql.store import SQLLog
from distrib.deliverylog.sqlite.backend import SQLiteBackend
from distrib.deliverylog.sqlite.connection import connect_reader, connect_writer
from distrib.errors import NoLogError

__all__ = ["open_sqlite"]


def open_sqlite(
    file: Path, *, read_only: bool, create: bool, clock: Callable[[], datetime]
) -> SQLLog:
    """Open the log file ``file``: to write (created if missing and ``create``, upgraded), or
    only to read (`connection.connect_reader`)."""
    if read_only:
        conn, warnings = connect_reader(file)
        return SQLLog(SQLiteBackend(conn, file), clock, read_only=True, warnings=warnings)
    if not create and not file.is_file():
        raise NoLogError(f"{file}: no delivery log here (nothing has been sent yet?)")
    conn, upgraded = connect_writer(file)
    return SQLLog(SQLiteBackend(conn, file), clock, upgraded=upgraded)
