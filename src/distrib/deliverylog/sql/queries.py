"""The audit's queries (`distrib log`, `report`, `contacts history`) in shared SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from distrib.deliverylog.records import (
    BOUNCE_KINDS,
    Attempt,
    EntryQuery,
    LogEntry,
    StatusCount,
    TimedAttempt,
)
from distrib.deliverylog.sql.backend import Backend

__all__ = ["log_entries", "run_attempts", "status_counts", "timed_attempts"]

_BOUNCE_RANK = " ".join(f"WHEN '{kind}' THEN {rank}" for rank, kind in enumerate(BOUNCE_KINDS))

# One row per message, as `LogEntry` reads it: with its run's campaign, its last attempt and
# its worst bounce.
_ENTRY_SQL = f"""
SELECT m.id, m.run_id, m.key, m.recipient, m.address, m.name, m.outlet, m.language, m.status,
       m.reply_code, la.enhanced_code, m.reply_text, m.attempts, la.server, la.finished_at,
       m.sent_at, b.kind, b.status, b.diagnostic, COALESCE(b.arrived_at, b.recorded_at),
       m.subject, m.message_id, m.content_hash, r.campaign, m.provenance, m.note, m.updated_at,
       m.resolved_at, m.resolved_by, m.resolution, COALESCE(r.started_at, r.created_at)
FROM messages m
JOIN runs r ON r.id = m.run_id
LEFT JOIN attempts la ON la.id = (SELECT MAX(a.id) FROM attempts a WHERE a.message = m.id)
LEFT JOIN bounces b ON b.id = (
    SELECT x.id FROM bounces x WHERE x.message = m.id
    ORDER BY CASE x.kind {_BOUNCE_RANK} ELSE 9 END, x.id DESC LIMIT 1)
"""


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def log_entries(db: Backend, query: EntryQuery) -> list[LogEntry]:
    """The messages ``query`` selects, in planning order."""
    clauses: list[str] = []
    args: list[Any] = []
    if query.run is not None:
        clauses.append("m.run_id = ?")
        args.append(query.run)
    if query.states:
        selected = f"m.status IN ({_marks(query.states)})"
        if query.or_resolved:
            selected = f"({selected} OR m.resolved_at IS NOT NULL OR m.resolution IS NOT NULL)"
        clauses.append(selected)
        args.extend(query.states)
    if query.languages:
        clauses.append(f"lower(m.language) IN ({_marks(query.languages)})")
        args.extend(language.casefold() for language in query.languages)
    moment = "COALESCE(la.finished_at, m.updated_at)"
    if query.since is not None:
        clauses.append(f"{moment} >= ?")
        args.append(query.since)
    if query.until is not None:
        clauses.append(f"{moment} < ?")
        args.append(query.until)
    if query.domain is not None:
        pattern = query.domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        clauses.append("lower(m.address) LIKE ? ESCAPE '\\'")
        args.append("%@" + pattern)
    where = " WHERE " + " AND ".join(clauses) if clauses else ""
    rows = db.execute(_ENTRY_SQL + where + " ORDER BY m.id", args)
    return [LogEntry(*row) for row in rows]


def run_attempts(db: Backend, run_id: int | None) -> list[Attempt]:
    """Every attempt of a run's messages (every run's for None), oldest first."""
    sql = (
        "SELECT a.id, a.message, a.started_at, a.finished_at, a.server, a.outcome, a.reply_code,"
        " a.enhanced_code, a.reply_text FROM attempts a"
    )
    args: tuple[Any, ...] = ()
    if run_id is not None:
        sql += " JOIN messages m ON m.id = a.message WHERE m.run_id = ?"
        args = (run_id,)
    return [Attempt(*row) for row in db.execute(sql + " ORDER BY a.id", args)]


def status_counts(db: Backend, run_id: int) -> list[StatusCount]:
    """A run's messages counted by (status, language, outlet): a report of 100,000 messages
    need not load them."""
    rows = db.execute(
        "SELECT status, language, outlet, count(*) FROM messages WHERE run_id = ?"
        " GROUP BY status, language, outlet",
        (run_id,),
    )
    return [
        StatusCount(str(s), language or "", outlet or "", int(n)) for s, language, outlet, n in rows
    ]


def timed_attempts(db: Backend, run_id: int, outcomes: Sequence[str]) -> list[TimedAttempt]:
    """A run's finished attempts with one of ``outcomes``, by the time they finished."""
    rows = db.execute(
        "SELECT a.started_at, a.finished_at, a.outcome FROM attempts a"
        " JOIN messages m ON m.id = a.message WHERE m.run_id = ? AND a.finished_at IS NOT NULL"
        f" AND a.outcome IN ({_marks(outcomes)}) ORDER BY a.finished_at",
        (run_id, *outcomes),
    )
    return [TimedAttempt(*row) for row in rows]
