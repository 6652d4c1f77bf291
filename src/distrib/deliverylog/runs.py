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
from distrib.deliverylog.store import DeliveryLog, MessageRow, Run
from distrib.errors import DeliveryLogError

__all__ = [
    "RESOLUTIONS",
    "Action",
    "Earlier",
    "Resolution",
    "earlier_outcomes",
    "interrupted_runs",
    "is_test_run",
    "maybe_sent_note",
    "replan",
    "resolutions",
    "resolve_messages",
    "rows_by_id",
    "sent_note",
    "set_aside",
    "skip_sent_elsewhere",
    "to_send",
    "to_send_ids",
    "unresolved_unknown",
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


@dataclass(frozen=True, slots=True)
class Earlier:
    """What the earlier runs of a campaign did for the contacts a new run must not send to."""

    sent: dict[str, int]  # contact key -> the first run that sent it
    unknown: dict[str, int]  # contact key -> the first run where it may have arrived (unknown;
    # or left in ``data`` by a run still to settle); only keys no run sent


def earlier_outcomes(log: DeliveryLog, campaign: str) -> Earlier:
    """Tell, for each contact of ``campaign`` that must not be sent the release again, whether
    an earlier run sent it or may have (``unknown``: the officer settles it, `distrib resolve`).

    ``ready``, ``deferred``, ``sending``, ``failed`` … are neither: a new run sends to them.
    """
    sent: dict[str, int] = {}
    unknown: dict[str, int] = {}
    rows = log.query(
        "SELECT m.key, m.status = 'sent', MIN(m.run_id) FROM messages m JOIN runs r"
        " ON r.id = m.run_id WHERE r.campaign = ? AND m.status IN ('sent', 'unknown', 'data')"
        " GROUP BY m.key, m.status = 'sent'",
        (campaign,),
    )
    for key, was_sent, run in rows:
        (sent if was_sent else unknown)[str(key)] = int(run)
    for key in sent.keys() & unknown.keys():
        del unknown[key]  # sent by one run: a copy that may have arrived too changes nothing
    return Earlier(sent, unknown)


def sent_note(run: int) -> str:
    """The note of a message skipped because run ``run`` sent it."""
    return f"already sent by run {run}"


def maybe_sent_note(run: int) -> str:
    """The note of a message skipped because it may have arrived in run ``run`` (unknown)."""
    return f"may have arrived in run {run} (unknown): see distrib resolve {run}"


def is_test_run(run: Run) -> bool:
    """Tell whether ``run`` is a test send to the officer (`distrib send --test-to`)."""
    return bool(run.settings.get("test_to"))


def unresolved_unknown(log: DeliveryLog, campaign: str) -> dict[int, int]:
    """Count the ``unknown`` messages of each run of ``campaign`` (test sends aside): they may
    or may not have arrived, and wait for the officer (`distrib resolve RUN`)."""
    tests = {run.id for run in log.runs(campaign) if is_test_run(run)}
    rows = log.query(
        "SELECT m.run_id, COUNT(*) FROM messages m JOIN runs r ON r.id = m.run_id"
        " WHERE r.campaign = ? AND m.status = 'unknown' GROUP BY m.run_id ORDER BY m.run_id",
        (campaign,),
    )
    return {int(run): int(n) for run, n in rows if int(run) not in tests}


def interrupted_runs(log: DeliveryLog, campaign: str) -> list[Run]:
    """Return the runs of ``campaign`` a sending process left unfinished, oldest first: still
    ``planned`` or ``sending``, or with messages still ``sending`` or in ``data``.

    Only the holder of the campaign's lease sends, so for the process that holds it now, each
    of these was left by a process that ended without a word (killed, crashed, the machine
    stopped).  Test sends take no lease: they are left alone.
    """
    rows = log.query(
        "SELECT DISTINCT r.id FROM runs r WHERE r.campaign = ? AND (r.status IN ('planned',"
        " 'sending') OR EXISTS (SELECT 1 FROM messages m WHERE m.run_id = r.id"
        " AND m.status IN ('sending', 'data'))) ORDER BY r.id",
        (campaign,),
    )
    runs = [log.get_run(int(row[0])) for row in rows]
    return [run for run in runs if not is_test_run(run)]


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
    sent, or stopped while a newer run went out, must not send those messages again.  The note
    says which run, and whether it sent the message or it may have arrived there (unknown).
    """
    campaign = log.get_run(run_id).campaign
    now = log.now()
    with log.transaction() as conn:
        earlier = earlier_outcomes(log, campaign)  # inside the transaction: nothing moves
        changes = []
        for message, key in conn.execute(
            "SELECT id, key FROM messages WHERE run_id = ? AND status IN ('ready', 'deferred')",
            (run_id,),
        ).fetchall():
            if key in earlier.sent:
                note = sent_note(earlier.sent[key])
            elif key in earlier.unknown:
                note = maybe_sent_note(earlier.unknown[key])
            else:
                continue
            changes.append((note, now, message))
        cursor = conn.executemany(
            "UPDATE messages SET status = 'skipped', note = ?, updated_at = ?"
            " WHERE id = ? AND status IN ('ready', 'deferred')",
            changes,
        )
    return cursor.rowcount if changes else 0


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
