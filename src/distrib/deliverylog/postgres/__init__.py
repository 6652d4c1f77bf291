"""The PostgreSQL adapter (psycopg 3): one delivery log a team shares, on a server.

``log = "postgresql://user@host/dbname"`` in the campaign file (or ``--log``) selects it: the
officers of a press office, on several machines, see one log (runs, suppressions, bounces), and
several ``distrib send`` workers can drain one run (`distrib.deliverylog.workers`).  The
statements are the shared ones (`distrib.deliverylog.sql`); only opening, the schema's DDL,
locks and errors are PostgreSQL's.  This package and `distrib.deliverylog` are the only places
that import psycopg.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from distrib.deliverylog.postgres.backend import PostgresBackend
from distrib.deliverylog.postgres.connection import connect_reader, connect_writer
from distrib.deliverylog.sql.store import SQLLog

__all__ = ["open_postgres"]


def open_postgres(
    url: str, *, read_only: bool, create: bool, clock: Callable[[], datetime]
) -> SQLLog:
    """Open the log in the database ``url``: to write (its schema created or upgraded), or only
    to read."""
    if read_only:
        conn, warnings = connect_reader(url)
        return SQLLog(PostgresBackend(conn, url), clock, read_only=True, warnings=warnings)
    conn, upgraded = connect_writer(url, create=create)
    return SQLLog(PostgresBackend(conn, url), clock, upgraded=upgraded)
