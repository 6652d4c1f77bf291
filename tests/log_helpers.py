"""Moving messages through the delivery log's state machine in tests, through the port only
(`DeliveryLog.apply`, the one way the sending engine changes a message), on any adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from distrib.deliverylog import (
    Begin,
    DeliveryLog,
    Outcome,
    Release,
    State,
    apply_one,
    is_url,
    timestamp,
)

#: The contract suite's clock starts here.
T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


class Clock:
    """A settable clock for `open_log(clock=...)`."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def begin(log: DeliveryLog, message: int, server: str | None = None) -> int:
    """Take a pending message and commit ``data`` (what a sender does before DATA); return the
    attempt."""
    attempt = apply_one(log, Begin(message, server, log.now()))
    assert attempt is not None
    return attempt


def finish(
    log: DeliveryLog,
    message: int,
    state: State,
    *,
    code: int | None = None,
    text: str | None = None,
    enhanced: str | None = None,
    server: str | None = None,
    retry_at: datetime | None = None,
    retry_in: float | None = None,
) -> int | None:
    """Give ``message`` the outcome ``state`` as a sender would: ``sent`` and ``unknown`` after
    DATA began (a `Begin` then an `Outcome`, returning the attempt); ``deferred`` and ``failed``
    as a refusal before DATA (one closed attempt; None)."""
    text = str(state) if text is None else text
    if retry_in is not None:
        retry_at = log.current_time() + timedelta(seconds=retry_in)
    retry = timestamp(retry_at) if retry_at is not None else None
    if state in {State.SENT, State.UNKNOWN}:
        attempt = begin(log, message, server)
        apply_one(
            log, Outcome(message, attempt, state, code, text, log.now(), enhanced, retry, server)
        )
        return attempt
    started = log.now()
    apply_one(
        log,
        Outcome(message, None, state, code, text, log.now(), enhanced, retry, server, started),
    )
    return None


def outcome(
    log: DeliveryLog,
    message: int,
    attempt: int,
    state: State,
    *,
    code: int | None = None,
    text: str = "",
    enhanced: str | None = None,
    retry_at: str | None = None,
) -> None:
    """End ``attempt`` (begun with `begin`) with ``state``."""
    apply_one(log, Outcome(message, attempt, state, code, text, log.now(), enhanced, retry_at))


def release(log: DeliveryLog, message: int, attempt: int | None, reason: str) -> None:
    """Put a message back in the queue (the connection dropped before 354)."""
    apply_one(log, Release(message, attempt, reason, log.now()))


def raw_rows(target: str | Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read committed rows through a connection of their own (what another process sees), with
    ``?`` placeholders, from a SQLite file or a PostgreSQL URL."""
    if is_url(target):
        import psycopg

        with psycopg.connect(str(target), autocommit=True) as conn:
            query = sql.replace("?", "%s").encode()
            return [tuple(r) for r in conn.execute(query, args or None).fetchall()]
    import sqlite3

    conn = sqlite3.connect(target)
    try:
        return [tuple(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


def raw_execute(target: str | Path, sql: str) -> None:
    """Run one statement (or a PostgreSQL block) through a connection of its own."""
    if is_url(target):
        import psycopg

        with psycopg.connect(str(target), autocommit=True) as conn:
            conn.execute(sql.encode())
        return
    import sqlite3

    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.executescript(sql)
    finally:
        conn.close()
