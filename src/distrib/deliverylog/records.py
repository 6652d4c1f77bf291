"""What the delivery log holds, as typed values: the same records from every adapter.

Times are strings: UTC, ISO 8601 with milliseconds (``2027-02-02T14:00:00.000+00:00``, see
`timestamp`), so that they compare as strings and read the same from SQLite and PostgreSQL.
Nothing here knows SQL.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from distrib.deliverylog.states import State
from distrib.errors import Location

__all__ = [
    "BOUNCE_KINDS",
    "HARD_BOUNCE",
    "INTERRUPTED_REPLY",
    "MESSAGE_COLUMNS",
    "NO_SUCH_USER",
    "REPLY_KINDS",
    "UNSUBSCRIBED",
    "Attempt",
    "AttemptEntry",
    "BounceRow",
    "Earlier",
    "EntryQuery",
    "Holder",
    "LogEntry",
    "MessageRef",
    "MessageRow",
    "NewBounce",
    "NewMessage",
    "NewReply",
    "NewSuppression",
    "Recovered",
    "ReplyRow",
    "Resolution",
    "Run",
    "StatusCount",
    "Suppressed",
    "SuppressionRemoval",
    "TimedAttempt",
    "WorkerRow",
    "maybe_sent_note",
    "new_run_token",
    "sent_note",
    "suppression_entries",
    "timestamp",
    "utcnow",
    "valid_text",
]

#: Suppression reasons.
UNSUBSCRIBED: Final = "unsubscribed"
HARD_BOUNCE: Final = "hard bounce"
#: A permanent refusal of the recipient during a send ("550 5.1.1 no such user").
NO_SUCH_USER: Final = "no such user"

#: Bounce kinds, worst first: ``hard`` (the address is bad: suppressed), ``soft`` (not delivered
#: this time: mailbox full, refused as spam…), ``delayed`` (a warning; still being retried).
BOUNCE_KINDS: Final = ("hard", "soft", "delayed")


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def new_run_token() -> str:
    """Draw a random run token (12 hex digits), unique across logs for practical purposes."""
    return secrets.token_hex(6)


def timestamp(value: datetime) -> str:
    """Format ``value`` the way the log stores times (UTC, milliseconds), so they compare."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def valid_text(text: str) -> str:
    """``text`` as valid Unicode, which every adapter can store: a lone surrogate (bytes a
    decoder kept with ``surrogateescape``) becomes the character those bytes are in
    Windows-1252 or U+FFFD, and a NUL (which PostgreSQL's text cannot hold) becomes U+FFFD.
    A reply text reaches the log through `distrib.send.replies` already valid: this is the last
    guard, so that no text can make a state change fail."""
    if text.isascii():
        return text.replace("\x00", "\ufffd") if "\x00" in text else text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", "replace")
    return text.replace("\x00", "\ufffd")


# -- runs and messages ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """One send run of a campaign."""

    id: int
    token: str
    campaign: str
    campaign_file: str
    status: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    settings: Mapping[str, Any]
    contacts_hash: str | None
    templates_hash: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message row to create when a run is planned (before anything is sent)."""

    key: str
    recipient: str
    address: str
    status: State = State.READY
    name: str = ""
    outlet: str = ""
    language: str = ""
    provenance: str = ""
    subject: str = ""
    message_id: str | None = None
    content_hash: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One message of a run, as stored."""

    id: int
    run_id: int
    key: str
    recipient: str
    address: str
    name: str
    outlet: str
    language: str
    provenance: str
    subject: str
    message_id: str | None
    content_hash: str | None
    status: str
    reply_code: int | None
    reply_text: str | None
    attempts: int
    next_attempt_at: str | None
    created_at: str
    updated_at: str
    sent_at: str | None
    note: str | None
    resolved_at: str | None = None  # set by `distrib resolve` (migration 2)
    resolved_by: str | None = None
    resolution: str | None = None
    worker: int | None = None  # the worker that holds it or sent it (migration 4)

    @property
    def domain(self) -> str:
        """The recipient's domain."""
        return self.address.rpartition("@")[2]


#: The columns of a `MessageRow`, in order (the adapters select them so).
MESSAGE_COLUMNS: Final = MessageRow.__slots__


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message found by address or Message-ID (bounces and opt-outs match with these)."""

    id: int
    run_id: int
    address: str
    status: str
    message_id: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try at delivering a message: what the server said."""

    id: int
    message: int
    started_at: str
    finished_at: str | None
    server: str | None
    outcome: str | None
    reply_code: int | None
    enhanced_code: str | None
    reply_text: str | None


@dataclass(frozen=True, slots=True)
class Earlier:
    """What the earlier runs of a campaign did for the contacts a new run must not send to."""

    sent: dict[str, int]  # contact key -> the first run that sent it
    unknown: dict[str, int]  # contact key -> the first run where it may have arrived (unknown;
    # or left in ``data`` by a run still to settle); only keys no run sent


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


class Recovered(NamedTuple):
    """What `DeliveryLog.recover` did to a run after its sending process (or worker) ended."""

    requeued: int  # were ``sending`` (logs of older versions): back to ``ready``
    unknown: int  # were in ``data``: now ``unknown``


# -- leases and workers -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a campaign's lease."""

    campaign: str
    run_id: int | None
    owner: str
    pid: int
    host: str
    user: str
    taken_at: str
    heartbeat_at: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """One process draining a run (`distrib.deliverylog.workers`), as registered."""

    id: int
    run_id: int
    owner: str
    pid: int
    host: str
    user: str
    started_at: str
    heartbeat_at: str
    expires_at: str
    finished_at: str | None
    note: str | None


# -- suppressions and bounces -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suppressed:
    """One suppression list entry: an address that no run will send to again."""

    id: int
    address: str
    key: str
    reason: str
    source: str
    requested_at: str | None
    created_at: str
    message: int | None
    note: str | None


@dataclass(frozen=True, slots=True)
class SuppressionRemoval:
    """An entry taken off the suppression list: what it was (address, reason, source, when it
    was listed) and the officer's decision (who, when, why)."""

    id: int
    address: str
    key: str
    reason: str
    source: str
    listed_at: str
    removed_at: str
    removed_by: str
    why: str


def sent_note(run: int) -> str:
    """The note of a message skipped because run ``run`` sent it."""
    return f"already sent by run {run}"


def maybe_sent_note(run: int) -> str:
    """The note of a message skipped because it may have arrived in run ``run`` (unknown)."""
    return f"may have arrived in run {run} (unknown): see distrib resolve {run}"


#: The reply text of a message recovery made ``unknown``.
INTERRUPTED_REPLY: Final = "interrupted after DATA began: may or may not have been delivered"


def suppression_entries(entries: Sequence[Suppressed]) -> list[tuple[str, Location]]:
    """(address, where) for every entry, as `load_contacts` takes extra suppressions."""
    return [
        (s.address, Location("delivery log", column=f"{s.reason} {s.created_at[:10]}"))
        for s in entries
    ]


@dataclass(frozen=True, slots=True)
class NewSuppression:
    """An entry to add to the suppression list.

    ``key`` is what matching uses (`distrib.contacts.normalize.suppression_key`); ``pending``
    lists that person's messages still waiting in a run, to stop with it.
    """

    address: str
    key: str
    reason: str
    source: str
    requested_at: datetime | None = None
    message: int | None = None
    note: str | None = None
    pending: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class NewBounce:
    """A bounce matched to one message, to record.

    ``notice`` identifies the notification (its Message-ID, or a hash of its bytes) so reading
    the same mailbox twice records nothing twice.
    """

    message: int
    notice: str
    recipient: str
    kind: str
    action: str
    matched_by: str
    source: str
    status: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    arrived_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class BounceRow:
    """One recorded bounce."""

    id: int
    message: int
    notice: str
    recipient: str
    kind: str
    action: str
    status: str | None
    diagnostic: str | None
    remote_mta: str | None
    matched_by: str
    arrived_at: str | None
    recorded_at: str
    source: str


#: What a recorded reply is: a person's answer, or an automatic one (out-of-office, RFC 3834).
REPLY_KINDS: Final = ("reply", "auto-reply")


@dataclass(frozen=True, slots=True)
class NewReply:
    """A reply matched to the message it answers, to record.

    ``notice`` identifies the reply (its Message-ID, or a hash of its bytes): recorded once.
    ``kind``: ``reply`` or ``auto-reply``; ``reason`` the evidence for an automatic one.
    ``matched_by``: ``in-reply-to``, ``references`` or ``from``.
    """

    message: int
    notice: str
    sender: str
    subject: str
    kind: str
    reason: str
    matched_by: str
    source: str
    arrived_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReplyRow:
    """One recorded reply, with the run of the message it answers."""

    id: int
    message: int
    run_id: int
    notice: str
    sender: str
    subject: str
    kind: str
    reason: str
    matched_by: str
    arrived_at: str | None
    recorded_at: str
    source: str

    @property
    def automatic(self) -> bool:
        """An out-of-office or another automatic reply."""
        return self.kind == "auto-reply"


# -- audit ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One message as `distrib log` shows it: the row, its run's campaign, its last attempt and
    its worst bounce (hard before soft before delayed)."""

    id: int
    run: int
    key: str
    recipient: str
    address: str
    name: str
    outlet: str
    language: str
    status: str
    reply_code: int | None
    enhanced_code: str | None  # of the last attempt
    reply_text: str | None
    attempts: int
    server: str | None  # of the last attempt
    attempted_at: str | None  # when the last attempt ended
    sent_at: str | None
    bounce: str | None  # the worst bounce's kind
    bounce_status: str | None
    bounce_reply: str | None
    bounced_at: str | None
    subject: str
    message_id: str | None
    content_hash: str | None
    campaign: str
    provenance: str
    note: str | None
    updated_at: str
    resolved_at: str | None
    resolved_by: str | None
    resolution: str | None
    run_started_at: str | None = None  # set by `history`
    attempt_log: tuple[Attempt, ...] = field(default=(), compare=False)

    def row(self, columns: Sequence[str]) -> dict[str, Any]:
        """The entry as an export row: ``columns`` by name (``attempt_log`` as a list of
        dicts, without ids)."""
        values: dict[str, Any] = {}
        for column in columns:
            if column == "attempt_log":
                values[column] = [_attempt_dict(a) for a in self.attempt_log]
            else:
                values[column] = getattr(self, column)
        return values


def _attempt_dict(attempt: Attempt) -> dict[str, Any]:
    return {
        "started_at": attempt.started_at, "finished_at": attempt.finished_at,
        "server": attempt.server, "outcome": attempt.outcome, "reply_code": attempt.reply_code,
        "enhanced_code": attempt.enhanced_code, "reply_text": attempt.reply_text,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    """One SMTP attempt as `distrib log --attempts` shows it."""

    run: int
    recipient: str
    address: str
    status: str
    attempt: int  # 1 for the message's first attempt
    started_at: str
    finished_at: str | None
    server: str | None
    outcome: str | None
    reply_code: int | None
    enhanced_code: str | None
    reply_text: str | None
    message_id: str | None

    def row(self, columns: Sequence[str]) -> dict[str, Any]:
        """The attempt as an export row: ``columns`` by name."""
        return {column: getattr(self, column) for column in columns}


@dataclass(frozen=True, slots=True)
class StatusCount:
    """How many messages of a run are in one state, for one language and outlet."""

    status: str
    language: str
    outlet: str
    count: int


@dataclass(frozen=True, slots=True)
class TimedAttempt:
    """When one finished attempt started and ended, and how (a report's timeline)."""

    started_at: str
    finished_at: str
    outcome: str


@dataclass(frozen=True, slots=True)
class EntryQuery:
    """Which messages `DeliveryLog.log_entries` returns, in planning order (every field that
    is set narrows the selection).

    ``languages`` are compared lower-cased; ``since``/``until`` (log times, `timestamp`) bound
    the end of the last attempt or, for a message never tried, when its row last changed,
    ``until`` excluded; ``domain`` keeps addresses ending in ``@domain`` (any case);
    ``or_resolved`` also keeps messages of the run that `distrib resolve` settled, whatever
    their state.
    """

    run: int | None = None
    states: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    domain: str | None = None
    or_resolved: bool = False
