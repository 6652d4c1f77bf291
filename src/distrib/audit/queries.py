"""Read-only queries over the delivery log: runs, filtered messages, attempts, one person's history.

Entries are typed (`LogEntry`, `AttemptEntry`); ``entry.row(columns)`` gives the dict an export
writes, so the same entries feed tables, CSV, JSON, XLSX and the HTML report.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from distrib.audit.times import to_log_time
from distrib.deliverylog import DeliveryLog, Run, State
from distrib.deliverylog.records import (
    Attempt,
    AttemptEntry,
    EntryQuery,
    LogEntry,
    ReplyRow,
    StatusCount,
    Suppressed,
    SuppressionRemoval,
)
from distrib.errors import RunNotFoundError

__all__ = [
    "ATTEMPT_COLUMNS",
    "LOG_COLUMNS",
    "RESOLUTION_COLUMNS",
    "AttemptEntry",
    "History",
    "LogEntry",
    "LogFilter",
    "RunSummary",
    "attempt_entries",
    "history",
    "log_columns",
    "log_entries",
    "message_entries",
    "notable_entries",
    "recipient_entries",
    "resolve_run",
    "rows",
    "run_summaries",
    "status_counts",
    "subjects_by_language",
]

#: How an *unknown* was resolved (`distrib resolve`).
RESOLUTION_COLUMNS = ("resolved_at", "resolved_by", "resolution")

#: Columns of `distrib log` exports, in order.
LOG_COLUMNS = (
    "run",
    "recipient",
    "address",
    "name",
    "outlet",
    "language",
    "status",
    "reply_code",
    "enhanced_code",
    "reply_text",
    "attempts",
    "server",
    "attempted_at",
    "sent_at",
    "bounce",
    "bounce_status",
    "bounce_reply",
    "bounced_at",
    "subject",
    "message_id",
    "content_hash",
    "campaign",
    "provenance",
    "note",
    "updated_at",
    *RESOLUTION_COLUMNS,
)

#: Columns of `distrib log --attempts`: one row per SMTP attempt.
ATTEMPT_COLUMNS = (
    "run",
    "recipient",
    "address",
    "status",
    "attempt",
    "started_at",
    "finished_at",
    "server",
    "outcome",
    "reply_code",
    "enhanced_code",
    "reply_text",
    "message_id",
)


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run with its message counts per state."""

    run: Run
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """All message rows of the run."""
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which messages `distrib log` shows.  Empty fields do not filter.

    ``outlets`` match whole outlet names and ``languages`` whole codes, ignoring case;
    ``domains`` match the address's domain or its subdomains; ``address`` is a substring of the
    address as written or as sent; ``since``/``until`` bound the time of the message's last
    attempt (for messages never tried, the time their row last changed), ``until`` excluded.
    """

    states: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    address: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, entry: LogEntry) -> bool:
        """Tell whether ``entry`` passes the filters the log cannot apply well (Unicode case)."""
        if self.outlets and entry.outlet.casefold() not in {o.casefold() for o in self.outlets}:
            return False
        if self.domains:
            domain = entry.address.rpartition("@")[2].casefold()
            wanted = {_ascii_domain(d) for d in self.domains}
            if not any(domain == d or domain.endswith("." + d) for d in wanted):
                return False
        if self.address:
            needle = self.address.strip().casefold()
            return needle in entry.address.casefold() or needle in entry.recipient.casefold()
        return True

    def query(self, run_id: int | None) -> EntryQuery:
        """What the log selects itself (`DeliveryLog.log_entries`)."""
        return EntryQuery(
            run=run_id,
            states=self.states,
            languages=self.languages,
            since=to_log_time(self.since) if self.since is not None else None,
            until=to_log_time(self.until) if self.until is not None else None,
        )


def _ascii_domain(domain: str) -> str:
    text = domain.strip().lstrip("@").casefold().rstrip(".")
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:
        return text


def resolve_run(log: DeliveryLog, run: str | int | None) -> Run:
    """Return the run named by an id, or the latest run for ``None`` / ``"latest"``."""
    if run is None or run == "latest":
        runs = log.runs()
        if not runs:
            raise RunNotFoundError(f"{log.where}: no runs yet")
        return runs[-1]
    try:
        run_id = int(run)
    except ValueError:
        raise RunNotFoundError(f"not a run id: {run!r} (a number, or 'latest')") from None
    return log.get_run(run_id)


def run_summaries(log: DeliveryLog) -> list[RunSummary]:
    """Return every run with its counts per state, oldest first."""
    return [RunSummary(run, log.counts(run.id)) for run in log.runs()]


def log_columns(log: DeliveryLog) -> tuple[str, ...]:
    """Return the export columns: always `LOG_COLUMNS` (a log opened to write is upgraded; one
    opened read-only is read through an upgraded copy when it is older)."""
    del log
    return LOG_COLUMNS


def log_entries(
    log: DeliveryLog,
    run_id: int | None,
    where: LogFilter | None = None,
    *,
    with_attempts: bool = False,
) -> list[LogEntry]:
    """Return a run's messages (every run's for None), filtered, in planning order.

    ``with_attempts`` fills each entry's ``attempt_log`` (every attempt, for JSON).
    """
    where = where or LogFilter()
    entries = [e for e in log.log_entries(where.query(run_id)) if where.keeps(e)]
    if with_attempts:
        by_message: dict[int, list[Attempt]] = defaultdict(list)
        for attempt in log.run_attempts(run_id):
            by_message[attempt.message].append(attempt)
        entries = [replace(e, attempt_log=tuple(by_message.get(e.id, ()))) for e in entries]
    return entries


def status_counts(log: DeliveryLog, run_id: int) -> list[StatusCount]:
    """Return a run's messages counted by (status, language, outlet), counted by the log: a
    report of 100,000 messages need not load them."""
    return log.status_counts(run_id)


def notable_entries(log: DeliveryLog, run_id: int, states: Sequence[str]) -> list[LogEntry]:
    """Return the run's messages in ``states`` or settled by `distrib resolve`, as
    `log_entries` gives them (what a report lists one by one)."""
    return log.log_entries(EntryQuery(run=run_id, states=tuple(states), or_resolved=True))


#: Messages a run set aside: never handed to the relay.
_SET_ASIDE = frozenset({State.SKIPPED, State.SUPPRESSED, State.REJECTED})


def recipient_entries(log: DeliveryLog, run_id: int) -> list[LogEntry]:
    """Return the run's messages handed to the relay, or to be (not those set aside: skipped,
    suppressed, rejected), by outlet then recipient: who received the release, for a report."""
    states = tuple(str(s) for s in State if s not in _SET_ASIDE)
    entries = log.log_entries(EntryQuery(run=run_id, states=states))
    return sorted(entries, key=lambda e: (e.outlet.lower(), e.recipient.lower(), e.id))


def subjects_by_language(log: DeliveryLog, run_id: int) -> dict[str, str]:
    """Return the first subject of each language of a run, in planning order (for runs that
    did not record their release)."""
    found: dict[str, str] = {}
    for message in log.messages(run_id):
        if message.subject:
            found.setdefault(message.language or "?", message.subject)
    return found


def attempt_entries(
    log: DeliveryLog, run_id: int | None, where: LogFilter | None = None
) -> list[AttemptEntry]:
    """Return one entry per SMTP attempt (`ATTEMPT_COLUMNS`) of the messages ``where`` selects.

    Here ``since``/``until`` bound each attempt's own time (its end, or start if unfinished).
    """
    where = where or LogFilter()
    messages = log_entries(
        log, run_id, LogFilter(where.states, where.languages, where.outlets, where.domains,
                               where.address),
        with_attempts=True,
    )  # fmt: skip
    low = to_log_time(where.since) if where.since is not None else None
    high = to_log_time(where.until) if where.until is not None else None
    found = []
    for m in messages:
        for number, a in enumerate(m.attempt_log, start=1):
            moment = a.finished_at or a.started_at
            if (low is not None and moment < low) or (high is not None and moment >= high):
                continue
            found.append(
                AttemptEntry(
                    m.run, m.recipient, m.address, m.status, number, a.started_at, a.finished_at,
                    a.server, a.outcome, a.reply_code, a.enhanced_code, a.reply_text,
                    m.message_id,
                )
            )  # fmt: skip
    return found


def message_entries(
    log: DeliveryLog, run_id: int, *, states: Sequence[str] | None = None
) -> list[LogEntry]:
    """Return a run's messages (`log_entries` with only a state filter)."""
    return log_entries(log, run_id, LogFilter(states=tuple(states or ())))


def rows(
    entries: Sequence[LogEntry | AttemptEntry], columns: Sequence[str]
) -> list[dict[str, Any]]:
    """The entries as export rows with these ``columns``."""
    return [entry.row(columns) for entry in entries]


@dataclass(frozen=True, slots=True)
class History:
    """Everything the log holds about one journalist, across every run and campaign."""

    address: str
    entries: list[LogEntry]
    suppressions: list[Suppressed]
    removals: list[SuppressionRemoval] = field(default_factory=list)  # taken off the list
    replies: list[ReplyRow] = field(default_factory=list)  # to these messages, oldest first

    @property
    def received(self) -> int:
        """How many messages were delivered (sent, not bounced)."""
        return sum(1 for e in self.entries if e.status == "sent")


def history(log: DeliveryLog, address: str, *, key: str, domain: str) -> History:
    """Return every message of every run addressed to the person whose suppression key is ``key``.

    ``domain`` (ASCII, lower case) narrows the search in SQL before keys are compared, so a
    ``+tag`` variant or a different case of the same address is found too.
    """
    # Imported here: the contacts package pulls in pandas, which `distrib log` does not need.
    from distrib.contacts.normalize import suppression_key

    entries = [
        e for e in log.log_entries(EntryQuery(domain=domain)) if suppression_key(e.address) == key
    ]
    listed = [s for s in log.suppressions() if s.key == key]
    removed = [r for r in log.suppression_removals() if r.key == key]
    replies = sorted((r for e in entries for r in log.replies(message=e.id)), key=lambda r: r.id)
    return History(address, entries, listed, removed, replies)
