"""What an SQL adapter provides to the shared statements (`distrib.deliverylog.sql.store`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

from distrib.errors import DeliveryLogError

__all__ = ["Backend", "Cursor", "Row"]

#: One row as the driver gives it (a tuple).
Row = Sequence[Any]


class Cursor(Protocol):
    """The part of a DB-API cursor the statements use."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Backend(Protocol):
    """One connection to one delivery log, and what differs between databases.

    ``errors``: the driver's exception classes (turned into `DeliveryLogError` by `error`);
    ``for_update``: what makes a ``SELECT`` in a write transaction lock the rows it reads
    (nothing where a write transaction already excludes every other writer, as SQLite's
    ``BEGIN IMMEDIATE``); ``for_share``: the same, letting other readers lock them too;
    ``skip_locked``: the same as ``for_update``, skipping rows another transaction holds.
    """

    where: str
    name: str
    errors: tuple[type[Exception], ...]
    for_update: str
    for_share: str
    skip_locked: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement with ``?`` placeholders."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""
        ...

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run an ``INSERT`` into a table with an ``id`` key; return the new row's id."""
        ...

    def begin(self) -> None:
        """Start a write transaction."""
        ...

    def commit(self) -> None:
        """Commit it, durably."""
        ...

    def rollback(self) -> None:
        """Roll it back (never raises: the database may have done so already)."""
        ...

    def lock(self, name: str) -> None:
        """Inside a write transaction: hold a lock on ``name`` until it ends (two processes
        deciding on the same thing, e.g. one campaign's lease, take turns)."""
        ...

    def error(self, exc: Exception, doing: str) -> DeliveryLogError:
        """The `DeliveryLogError` for the driver's ``exc`` while ``doing`` (read, write)."""
        ...

    def writer(self) -> Backend:
        """A second connection to the same log, usable from another thread."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...
