"""The state changes of one SMTP attempt as values, so that many can share one transaction.

The sending engine commits them in groups (`distrib.send.commits`): a transaction with a
durable commit costs a disk flush, and one per state change made the log the bottleneck of a
send.  Grouping changes nothing of what the log says at any moment:

- a message is taken from the queue and moved to ``data`` in **one** change, `Begin`, which its
  worker awaits before it writes the DATA command.  While MAIL FROM and RCPT TO are in flight
  the message is still ``ready`` (or ``deferred``) in the log, which is the truth: the server
  has nothing yet, and after a crash it is sent again (nothing was transmitted);
- an outcome (`Outcome`) or a return to the queue (`Release`) is committed with the next group,
  a few milliseconds after the reply.  A crash before that leaves the message in ``data``, which
  recovery turns into ``unknown``: the conservative truth ("may or may not").

`DeliveryLog.apply` writes a group: each change names the states it may start from
(`distrib.deliverylog.states`), and one that started after DATA names its attempt, the fencing
token: a change that no longer applies fails alone (nothing of it is written) and the others of
its group still commit.  A refusal before DATA (`Outcome` or `Release` without an attempt) never
took the message: it adds a closed attempt row, so the log keeps what the server said.

A message may leave the queue while the run goes on: an opt-out or a hard bounce recorded
meanwhile (`DeliveryLog.add_suppressions` with ``pending``) makes it ``suppressed``.  A change
that would move it from there fails with `Withdrawn`: the engine skips that message, sends
nothing to that person, and goes on with the others.

A `Begin` naming a relay and its ``quotas`` is also a reservation: in the same transaction the
log counts what that relay was handed in each quota's window, by every process, and refuses the
change with `QuotaFull` (nothing written) when one is full.  Two processes sending through one
relay at once therefore never exceed its quotas together (`distrib.send.quota`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from distrib.deliverylog.records import NewSuppression
from distrib.deliverylog.states import State
from distrib.errors import DeliveryLogError

__all__ = [
    "Begin",
    "Change",
    "Outcome",
    "Quota",
    "QuotaFull",
    "Release",
    "Result",
    "Withdrawn",
    "apply_one",
]


class Withdrawn(DeliveryLogError):
    """The message left the queue while the run went on (``suppressed``: an opt-out or a hard
    bounce; or set aside otherwise): nothing is to be sent to it, and the run goes on."""

    def __init__(self, message: int, status: str, note: str | None) -> None:
        self.message = message
        self.status = status
        why = f" ({note})" if note else ""
        super().__init__(f"message {message} became {status}{why} while the run was sending")


class Quota(NamedTuple):
    """A relay's quota: at most ``limit`` attempts in any window of ``seconds`` (``name``:
    ``per_minute``, ``per_hour`` or ``per_day``)."""

    name: str
    limit: int
    seconds: float


class QuotaFull(DeliveryLogError):
    """A `Begin` refused because its relay's ``quota`` is full: every process together was
    handed ``quota.limit`` messages in its window.  Nothing was written; ``until`` (the log's
    time) is when the window has room again."""

    def __init__(self, message: int, relay: str, quota: Quota, until: datetime) -> None:
        self.message = message
        self.relay = relay
        self.quota = quota
        self.until = until
        super().__init__(
            f"message {message} not begun: the relay's quota is full ({quota.name} ="
            f" {quota.limit} through {relay}); room at {until.isoformat(timespec='seconds')}"
        )


@dataclass(frozen=True, slots=True)
class Begin:
    """Take a pending message and mark it ``data`` (to commit before DATA): one new attempt.

    ``at`` is when its SMTP transaction began (MAIL FROM), the attempt's ``started_at``.
    ``relay``: the relay's identity (`distrib.send.quota.relay_identity`): the relay accepted
    the recipient, so the attempt counts against that relay's quotas
    (`distrib.deliverylog.port.Quotas`).  ``quotas``: the relay's quotas, checked in the
    same transaction: when the attempts through ``relay`` that began less than a quota's
    window before ``at`` (any run, any process) already number its count, the change fails
    with `QuotaFull` and nothing is written.
    """

    message: int
    server: str | None
    at: str
    relay: str | None = None
    quotas: tuple[Quota, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    """The end of an attempt: ``sent``, ``deferred``, ``failed`` or ``unknown``.

    ``attempt`` is None for a refusal before DATA (MAIL FROM or RCPT TO): the message was never
    taken, so it moves from ``ready``/``deferred`` and a closed attempt row is added, begun at
    ``started``.  ``at`` is when the reply came.  ``relay``: set on such a refusal when the
    relay had accepted the recipient (a refusal of the DATA command): it counts against the
    relay's quotas, as `Begin` does.  ``suppress``: put the address on the suppression list in
    the same transaction (a permanent "no such user" refusal).
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
    relay: str | None = None
    suppress: NewSuppression | None = None


@dataclass(frozen=True, slots=True)
class Release:
    """Nothing was transmitted: the message goes back to the queue.

    With an ``attempt`` (it was in ``data``, the connection dropped before 354): back to
    ``ready``.  Without (refused or dropped before DATA, never taken): it keeps its state and a
    closed attempt row with outcome ``requeued`` says what happened.
    """

    message: int
    attempt: int | None
    reason: str
    at: str
    server: str | None = None
    started: str | None = None


Change = Begin | Outcome | Release

#: What `DeliveryLog.apply` gives for each change: `Begin`'s new attempt id, None for the
#: others, or the error that refused it (nothing of it written).
Result = int | None | Exception


class _Applies(Protocol):
    def apply(self, changes: Sequence[Change]) -> list[Result]: ...


def apply_one(log: _Applies, change: Change) -> int | None:
    """Apply one change in a transaction of its own; return `Begin`'s attempt id (None for the
    others); raise the `DeliveryLogError` that refused it."""
    [result] = log.apply([change])
    if isinstance(result, Exception):
        raise result
    return result
