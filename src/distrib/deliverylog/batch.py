"""The state changes of one SMTP attempt as values, so that many can share one transaction.

The sending engine commits them in groups (`distrib.send.commits`): a transaction with a
``synchronous=FULL`` commit costs a disk flush, and one per state change made the log the
bottleneck of a send.  Grouping changes nothing of what the file says at any moment:

- a message is claimed and moved to ``data`` in **one** change, `Begin`, which its worker awaits
  before it writes the DATA command.  While MAIL FROM and RCPT TO are in flight the message is
  still ``ready`` (or ``deferred``) in the file, which is the truth: the server has nothing yet,
  and after a crash it is sent again (nothing was transmitted);
- an outcome (`Outcome`) or a return to the queue (`Release`) is committed with the next group,
  a few milliseconds after the reply.  A crash before that leaves the message in ``data``, which
  `DeliveryLog.recover` turns into ``unknown``: the conservative truth ("may or may not").

Each change names the states it may start from (`DeliveryLog._move`), and one that started
after DATA names its attempt, the fencing token: a change that no longer applies fails alone
(`apply` raises before writing anything for it) and the others of its group still commit.
A refusal before DATA (`Outcome` or `Release` without an attempt) never claimed the message:
it adds a closed attempt row, so the log keeps what the server said.

A message may leave the queue while the run goes on: an opt-out or a hard bounce recorded
meanwhile (`DeliveryLog.add_suppression` with ``pending``) makes it ``suppressed``.  A change
that would move it from there raises `Withdrawn` (nothing written): the engine skips that
message, sends nothing to that person, and goes on with the others.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from distrib.deliverylog.states import NEVER_SENT, PENDING, State
from distrib.deliverylog.store import DeliveryLog, valid_text
from distrib.errors import DeliveryLogError

__all__ = ["Begin", "Change", "Outcome", "Release", "Withdrawn", "apply"]

_PENDING = tuple(sorted(str(s) for s in PENDING))
_NEVER_SENT = frozenset(str(s) for s in NEVER_SENT)


class Withdrawn(DeliveryLogError):
    """The message left the queue while the run went on (``suppressed``: an opt-out or a hard
    bounce; or set aside otherwise): nothing is to be sent to it, and the run goes on."""

    def __init__(self, message: int, status: str, note: str | None) -> None:
        self.message = message
        self.status = status
        why = f" ({note})" if note else ""
        super().__init__(f"message {message} became {status}{why} while the run was sending")


@dataclass(frozen=True, slots=True)
class Begin:
    """Claim a pending message and mark it ``data`` (to commit before DATA): one new attempt.

    ``at`` is when its SMTP transaction began (MAIL FROM), the attempt's ``started_at``.
    """

    message: int
    server: str | None
    at: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of an attempt: ``sent``, ``deferred``, ``failed`` or ``unknown``.

    ``attempt`` is None for a refusal before DATA (MAIL FROM or RCPT TO): the message was never
    claimed, so it moves from ``ready``/``deferred`` and a closed attempt row is added, begun at
    ``started``.  ``at`` is when the reply came.
    """

    message: int
    attempt: int | None
    state: State
    code: int | None
    text: str
    at: str
    enhanced: str | None = None
    retry_at: str | None = None
    server: str | None = None
    started: str | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """Nothing was transmitted: the message goes back to the queue.

    With an ``attempt`` (it was in ``data``, the connection dropped before 354): back to
    ``ready``.  Without (refused or dropped before DATA, never claimed): it keeps its state and a
    closed attempt row with outcome ``requeued`` says what happened.
    """

    message: int
    attempt: int | None
    reason: str
    at: str
    server: str | None = None
    started: str | None = None


Change = Begin | Outcome | Release


def apply(log: DeliveryLog, conn: sqlite3.Connection, change: Change, now: str) -> int | None:
    """Write ``change`` inside the caller's transaction on ``conn``; return the new attempt id
    of a `Begin`.  Raise `DeliveryLogError`, having written nothing, if it no longer applies
    (`Withdrawn` if the message left the queue meanwhile, e.g. suppressed)."""
    try:
        return _apply(log, conn, change, now)
    except Withdrawn:
        raise
    except DeliveryLogError:
        if isinstance(change, Begin) or change.attempt is None:  # from the queue
            row = conn.execute(
                "SELECT status, note FROM messages WHERE id = ?", (change.message,)
            ).fetchone()
            if row is not None and row[0] in _NEVER_SENT:
                raise Withdrawn(change.message, row[0], row[1]) from None
        raise


def _apply(log: DeliveryLog, conn: sqlite3.Connection, change: Change, now: str) -> int | None:
    if isinstance(change, Begin):
        log._move(conn, change.message, PENDING, State.DATA, now, bump_attempts=True)
        cursor = conn.execute(
            "INSERT INTO attempts (message, started_at, server) VALUES (?, ?, ?)",
            (change.message, change.at, change.server),
        )
        return cursor.lastrowid
    if isinstance(change, Outcome):
        if change.attempt is not None:
            log.record_in(
                conn, change.message, change.attempt, change.state, code=change.code,
                text=change.text, enhanced=change.enhanced, retry_at=change.retry_at,
                now=change.at,
            )  # fmt: skip
            return None
        if change.state not in {State.DEFERRED, State.FAILED}:
            raise ValueError(f"only a refusal can end an attempt before DATA, not {change.state}")
        text = valid_text(change.text)
        log._move(
            conn, change.message, PENDING, change.state, change.at, bump_attempts=True,
            also=", reply_code = ?, reply_text = ?, next_attempt_at = ?",
            also_args=(change.code, text, change.retry_at),
        )  # fmt: skip
        _closed_attempt(
            conn, change, str(change.state), change.code, enhanced=change.enhanced, text=text
        )
        return None
    if change.attempt is not None:
        log.release_in(
            conn, change.message, change.attempt, reason=change.reason, before_354=True,
            now=change.at,
        )  # fmt: skip
        return None
    cursor = conn.execute(
        "UPDATE messages SET attempts = attempts + 1, updated_at = ?"
        f" WHERE id = ? AND status IN ({', '.join('?' * len(_PENDING))})",
        (change.at, change.message, *_PENDING),
    )
    if cursor.rowcount != 1:
        found = conn.execute("SELECT status FROM messages WHERE id = ?", (change.message,))
        row = found.fetchone()
        raise DeliveryLogError(
            f"message {change.message}: cannot be requeued from {row[0] if row else 'missing'}"
        )
    _closed_attempt(conn, change, "requeued", None, enhanced=None, text=valid_text(change.reason))
    return None


def _closed_attempt(
    conn: sqlite3.Connection,
    change: Outcome | Release,
    outcome: str,
    code: int | None,
    *,
    enhanced: str | None,
    text: str,
) -> None:
    conn.execute(
        "INSERT INTO attempts (message, started_at, finished_at, server, outcome, reply_code,"
        " enhanced_code, reply_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (change.message, change.started or change.at, change.at, change.server, outcome, code,
         enhanced, text),
    )  # fmt: skip
