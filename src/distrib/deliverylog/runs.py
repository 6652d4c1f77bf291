"""Guarded changes to a run's messages outside one SMTP attempt: resume and resolve.

Like the store's state machine, every update names the states it may start from, so a message
that was sent can never be moved by these functions (except by the officer's explicit
resolution of an ``unknown`` one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Literal

from distrib.deliverylog.states import State
from distrib.deliverylog.store import DeliveryLog, MessageRow
from distrib.errors import DeliveryLogError

__all__ = [
    "RESOLUTIONS",
    "Action",
    "Resolution",
    "replan",
    "resolutions",
    "resolve_messages",
    "rows_by_id",
    "set_aside",
    "skip_sent_elsewhere",
    "to_send",
    "to_send_ids",
]

_COLUMNS = ", ".join(MessageRow.__slots__)

Action = Literal["mark-sent", "resend", "mark-failed"]

#: What each resolution does: the states it applies to and the state it leads to.
RESOLUTIONS: dict[Action, tuple[frozenset[State], State]] = {
    "mark-sent": (frozenset({State.UNKNOWN}), State.SENT),
    "mark-failed": (frozenset({State.UNKNOWN}), State.FAILED),
    "resend": (frozenset({State.UNKNOWN, State.FAILED}), State.READY),
}


@dataclass(frozen=True, slots=True)
class Resolution:
    """One decision of the officer about one message, as kept in the log."""

    id: int
    message: int
    resolved_at: str
    resolved_by: str
    resolution: str
    from_status: str
    to_status: str
    note: str


def to_send(log: DeliveryLog, run_id: int) -> list[MessageRow]:
    """Return the messages a run still has to try, in sending order.

    ``ready`` messages and ``deferred`` ones whose retry time has come, in planning order;
    then deferred ones not yet due, soonest first (the sender waits for each one's time).
    """
    now = log.now()
    rows = log.query(
        f"SELECT {_COLUMNS} FROM messages WHERE run_id = ? AND status IN ('ready', 'deferred')"
        " ORDER BY CASE WHEN status = 'deferred' AND COALESCE(next_attempt_at, '') > ?"
        " THEN next_attempt_at ELSE '' END, id",
        (run_id, now),
    )
    return [MessageRow(*tuple(r)) for r in rows]


def to_send_ids(log: DeliveryLog, run_id: int) -> tuple[list[int], list[int]]:
    """Return the ids of the messages a run still has to try, in `to_send`'s order, split in
    two: ``ready`` and due ``deferred`` ones, then deferred ones not yet due (soonest first).

    Ids only: a long run's rows are then read a chunk at a time (`rows_by_id`).
    """
    now = log.now()
    due: list[int] = []
    later: list[int] = []
    for message, waits in log.query(
        "SELECT id, status = 'deferred' AND COALESCE(next_attempt_at, '') > ? FROM messages"
        " WHERE run_id = ? AND status IN ('ready', 'deferred')"
        " ORDER BY CASE WHEN status = 'deferred' AND COALESCE(next_attempt_at, '') > ?"
        " THEN next_attempt_at ELSE '' END, id",
        (now, run_id, now),
    ):
        (later if waits else due).append(int(message))
    return due, later


def rows_by_id(log: DeliveryLog, ids: Iterable[int], *, chunk: int = 500) -> Iterator[MessageRow]:
    """Yield the rows of ``ids`` in that order, reading ``chunk`` rows at a time."""
    source = iter(ids)
    while batch := list(islice(source, chunk)):
        marks = ", ".join("?" * len(batch))
        found = {
            row[0]: MessageRow(*tuple(row))
            for row in log.query(f"SELECT {_COLUMNS} FROM messages WHERE id IN ({marks})", batch)
        }
        yield from (found[m] for m in batch if m in found)


def set_aside(log: DeliveryLog, messages: Iterable[int], note: str) -> int:
    """Mark pending messages ``skipped`` with ``note``; return how many were."""
    now = log.now()
    ids = list(messages)
    with log.transaction() as conn:
        cursor = conn.executemany(
            "UPDATE messages SET status = 'skipped', note = ?, updated_at = ?"
            " WHERE id = ? AND status IN ('ready', 'deferred')",
            [(note, now, m) for m in ids],
        )
    return cursor.rowcount


def skip_sent_elsewhere(log: DeliveryLog, run_id: int) -> int:
    """Skip this run's pending messages that another run of the campaign sent (or may have).

    Two runs of one campaign never send to the same contact: a run planned before another one
    sent, or stopped while a newer run went out, must not send those messages again.
    """
    now = log.now()
    with log.transaction() as conn:
        cursor = conn.execute(
            "UPDATE messages SET status = 'skipped', updated_at = ?, note = 'already sent by run '"
            " || (SELECT MIN(o.run_id) FROM messages o JOIN runs r ON r.id = o.run_id"
            "     WHERE o.key = messages.key AND o.run_id != messages.run_id"
            "     AND o.status IN ('sent', 'unknown', 'data')"
            "     AND r.campaign = (SELECT campaign FROM runs WHERE id = messages.run_id))"
            " WHERE run_id = ? AND status IN ('ready', 'deferred') AND EXISTS ("
            "   SELECT 1 FROM messages o JOIN runs r ON r.id = o.run_id"
            "   WHERE o.key = messages.key AND o.run_id != messages.run_id"
            "   AND o.status IN ('sent', 'unknown', 'data')"
            "   AND r.campaign = (SELECT campaign FROM runs WHERE id = messages.run_id))",
            (now, run_id),
        )
    return cursor.rowcount


def replan(log: DeliveryLog, message: int, *, content_hash: str, subject: str) -> None:
    """Give a pending message new content (resuming with ``--force`` after edits)."""
    with log.transaction() as conn:
        cursor = conn.execute(
            "UPDATE messages SET content_hash = ?, subject = ?, updated_at = ?"
            " WHERE id = ? AND status IN ('ready', 'deferred')",
            (content_hash, subject, log.now(), message),
        )
    if cursor.rowcount != 1:
        raise DeliveryLogError(f"message {message}: only a pending message can be re-planned")


def resolve_messages(
    log: DeliveryLog, messages: Sequence[MessageRow], action: Action, *, note: str, by: str
) -> int:
    """Apply the officer's ``action`` to ``messages`` in one transaction; return how many.

    Every message must be in a state the action applies to (else nothing changes).  The
    decision is kept on the message (``resolved_at``, ``resolved_by``, ``resolution``,
    ``note``) and in the ``resolutions`` history.
    """
    if not note.strip():
        raise ValueError("a resolution needs a note")
    allowed, target = RESOLUTIONS[action]
    now = log.now()
    with log.transaction() as conn:
        for m in messages:
            sent_at = None
            if target is State.SENT:
                # When the body went out: the end of the attempt that became unknown.
                found = conn.execute(
                    "SELECT MAX(finished_at) FROM attempts WHERE message = ?", (m.id,)
                ).fetchone()
                sent_at = found[0] if found and found[0] else now
            marks = ", ".join("?" * len(allowed))
            cursor = conn.execute(
                "UPDATE messages SET status = ?, updated_at = ?, resolved_at = ?,"
                " resolved_by = ?, resolution = ?, note = ?, next_attempt_at = NULL,"
                " sent_at = COALESCE(?, sent_at)"
                f" WHERE id = ? AND status IN ({marks})",
                (str(target), now, now, by, action, note, sent_at, m.id, *sorted(allowed)),
            )
            if cursor.rowcount != 1:
                current = conn.execute(
                    "SELECT status FROM messages WHERE id = ?", (m.id,)
                ).fetchone()
                raise DeliveryLogError(
                    f"{m.recipient}: cannot {action} a message that is"
                    f" {current[0] if current else 'missing'}"
                )
            conn.execute(
                "INSERT INTO resolutions (message, resolved_at, resolved_by, resolution,"
                " from_status, to_status, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (m.id, now, by, action, m.status, str(target), note),
            )
    return len(messages)


def resolutions(log: DeliveryLog, message: int) -> list[Resolution]:
    """Return every resolution of one message, oldest first."""
    rows = log.query(
        "SELECT id, message, resolved_at, resolved_by, resolution, from_status, to_status, note"
        " FROM resolutions WHERE message = ? ORDER BY id",
        (message,),
    )
    return [Resolution(*tuple(r)) for r in rows]
