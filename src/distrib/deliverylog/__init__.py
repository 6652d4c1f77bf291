"""Delivery log stage: the record of every run, message and SMTP attempt, behind a typed port.

`open_log` is the one way in.  A path (or any name without ``://``) opens a SQLite file
(`distrib.deliverylog.sqlite`); ``postgresql://…`` a PostgreSQL database a team shares
(`distrib.deliverylog.postgres`, with the optional dependency ``distrib[postgresql]``).  Both
implement the same port (`distrib.deliverylog.port.DeliveryLog`) and return the same records.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from distrib.deliverylog.changes import (
    Begin,
    Change,
    Outcome,
    Quota,
    QuotaFull,
    Release,
    Withdrawn,
    apply_one,
)
from distrib.deliverylog.port import DeliveryLog, LogWriter
from distrib.deliverylog.records import (
    Attempt,
    Earlier,
    Holder,
    LogEntry,
    MessageRow,
    NewMessage,
    Recovered,
    Run,
    WorkerRow,
    new_run_token,
    timestamp,
    utcnow,
)
from distrib.deliverylog.states import ACTIVE, DONE, NEVER_SENT, PENDING, State
from distrib.errors import DeliveryLogError, Location, NoLogError

__all__ = [
    "ACTIVE",
    "DONE",
    "NEVER_SENT",
    "PENDING",
    "Attempt",
    "Begin",
    "Change",
    "DeliveryLog",
    "Earlier",
    "Holder",
    "LogEntry",
    "LogWriter",
    "MessageRow",
    "NewMessage",
    "Outcome",
    "Quota",
    "QuotaFull",
    "Recovered",
    "Release",
    "Run",
    "State",
    "Withdrawn",
    "WorkerRow",
    "apply_one",
    "describe",
    "is_url",
    "logged_suppressions",
    "new_run_token",
    "open_log",
    "timestamp",
    "utcnow",
]

#: What `open_log` says when psycopg is not installed.
INSTALL_POSTGRESQL = "a PostgreSQL delivery log needs psycopg: pip install 'distrib[postgresql]'"


def is_url(target: str | Path) -> bool:
    """Tell whether ``target`` names a database by URL (``scheme://…``) rather than a file."""
    return isinstance(target, str) and "://" in target


def describe(target: str | Path) -> str:
    """``target`` as it may be shown: the file, or the URL without its password."""
    if is_url(target):
        from distrib.deliverylog.urls import redact

        return redact(str(target))
    return str(target)


def open_log(
    target: str | Path,
    *,
    read_only: bool = False,
    create: bool = True,
    clock: Callable[[], datetime] = utcnow,
) -> DeliveryLog:
    """Open the delivery log ``target``: a file path (SQLite), or a ``postgresql://`` URL.

    ``read_only``: for commands that only read: nothing is written, not even a schema upgrade
    (a missing log is `NoLogError`; a log written by a newer distrib is read with a warning in
    ``warnings``).  Otherwise the log is created if missing (unless ``create`` is False) and
    upgraded; a log written by a newer distrib is refused (`NewerLogError`), nothing written.
    ``clock`` gives every time the log records (tests set it).

    A password missing from the URL comes from libpq's usual places: ``PGPASSWORD``, the
    ``.pgpass`` file, a service file.  The password is never shown: `DeliveryLog.where` and
    every error name the URL without it.
    """
    if is_url(target):
        url = str(target)
        scheme = url.partition("://")[0].lower()
        if scheme not in {"postgresql", "postgres"}:
            raise DeliveryLogError(
                f"{describe(url)}: not a delivery log this distrib can open (a file path, or a"
                " postgresql:// URL)"
            )
        try:
            from distrib.deliverylog.postgres import open_postgres
        except ImportError as exc:
            raise DeliveryLogError(f"{describe(url)}: {INSTALL_POSTGRESQL} ({exc})") from None
        return open_postgres(url, read_only=read_only, create=create, clock=clock)
    from distrib.deliverylog.sqlite import open_sqlite

    return open_sqlite(Path(target), read_only=read_only, create=create, clock=clock)


def logged_suppressions(target: str | Path) -> list[tuple[str, Location]]:
    """The suppression list (opt-outs, hard bounces) of the delivery log ``target``, as
    `DeliveryLog.suppression_entries` gives it; none when there is no log yet.

    `distrib contacts check`, `merge` and `preview` show these people set aside, as `send` will.
    The log is only read: a missing or empty file stays so.
    """
    if not is_url(target):
        path = Path(target)
        if not path.is_file() or path.stat().st_size == 0:
            return []
    try:
        with open_log(target, read_only=True) as log:
            return log.suppression_entries()
    except NoLogError:
        return []
