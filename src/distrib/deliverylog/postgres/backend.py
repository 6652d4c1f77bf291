"""The PostgreSQL connection behind the shared statements (`distrib.deliverylog.sql`)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from distrib.deliverylog.postgres.connection import Connection, connect_writer, log_error
from distrib.deliverylog.sql.backend import Cursor
from distrib.deliverylog.urls import database_name, redact
from distrib.errors import DeliveryLogError

__all__ = ["PostgresBackend"]


@functools.lru_cache(maxsize=512)
def _query(sql: str) -> bytes:
    """A statement with ``?`` placeholders as psycopg takes it (``%s``; a literal ``%``
    doubled)."""
    return sql.replace("%", "%%").replace("?", "%s").encode()


def _value(value: Any) -> Any:
    # PostgreSQL's text cannot hold NUL: whatever text reaches the log, it is stored.
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


def _params(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_value(v) for v in params)


class PostgresBackend:
    """One connection to a PostgreSQL log, in autocommit mode; transactions are explicit, at
    READ COMMITTED, with row locks (``FOR UPDATE``) and advisory locks where the shared
    statements decide on rows that others may change meanwhile."""

    errors: tuple[type[Exception], ...] = (psycopg.Error,)
    for_update = " FOR UPDATE"
    for_share = " FOR SHARE"
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conn: Connection, url: str) -> None:
        self._conn = conn
        self._url = url
        self.where = redact(url)
        self.name = database_name(url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement."""
        if not params:
            return self._conn.execute(sql.encode())
        return self._conn.execute(_query(sql), _params(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per row (pipelined by psycopg)."""
        with self._conn.cursor() as cursor:
            cursor.executemany(_query(sql), [_params(r) for r in rows])

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Insert one row; return its id."""
        row = self._conn.execute(_query(sql + " RETURNING id"), _params(params)).fetchone()
        assert row is not None
        return int(str(row[0]))

    def begin(self) -> None:
        """Start a transaction (READ COMMITTED)."""
        self._conn.execute(b"BEGIN")

    def commit(self) -> None:
        """Commit; a transaction the server had to abort is an error, never a silent
        rollback."""
        cursor = self._conn.execute(b"COMMIT")
        if cursor.statusmessage != "COMMIT":
            raise DeliveryLogError(
                f"{self.where}: cannot write the delivery log: the server rolled the"
                " transaction back"
            )

    def rollback(self) -> None:
        """Roll back (nothing to do if the connection is gone)."""
        with contextlib.suppress(psycopg.Error):
            self._conn.execute(b"ROLLBACK")

    def lock(self, name: str) -> None:
        """An advisory lock on ``name`` until the transaction ends."""
        self._conn.execute(
            b"SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"distrib: {name}",)
        )

    def error(self, exc: Exception, doing: str) -> DeliveryLogError:
        """psycopg's error as a `DeliveryLogError` naming the log (never its password)."""
        if isinstance(exc, psycopg.Error):
            return log_error(self._url, exc, doing)
        return DeliveryLogError(f"{self.where}: cannot {doing} the delivery log: {exc}")

    def writer(self) -> PostgresBackend:
        """A second connection (psycopg connections may move between threads)."""
        conn, _ = connect_writer(self._url, create=False)
        return PostgresBackend(conn, self._url)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
