"""Read-only queries over the delivery log: runs, filtered messages, attempts, one person's history.

Rows are plain dicts keyed like the export columns, so the same rows feed tables, CSV, JSON, XLSX
and the HTML report.  Columns another stage adds to ``messages`` later (e.g. who resolved an
*unknown* and how) are picked up by name when the log has them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distrib.audit.times import to_log_time
from distrib.deliverylog import DeliveryLog, Run
from distrib.deliverylog.feedback import BOUNCE_KINDS, Suppressed
from distrib.errors import RunNotFoundError

__all__ = [
    "ATTEMPT_COLUMNS",
    "LOG_COLUMNS",
    "RESOLUTION_COLUMNS",
    "History",
    "LogFilter",
    "RunSummary",
    "attempt_entries",
    "history",
    "log_columns",
    "log_entries",
    "message_dicts",
    "notable_entries",
    "resolve_run",
    "run_summaries",
    "status_counts",
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

_BOUNCE_RANK = " ".join(f"WHEN '{kind}' THEN {rank}" for rank, kind in enumerate(BOUNCE_KINDS))

# One row per message with its run's campaign, its last attempt and its worst bounce.
_ENTRY_SQL = f"""
SELECT m.*, r.campaign AS campaign,
       la.finished_at AS attempted_at, la.server AS server, la.enhanced_code AS enhanced_code,
       b.kind AS bounce, b.status AS bounce_status, b.diagnostic AS bounce_reply,
       COALESCE(b.arrived_at, b.recorded_at) AS bounced_at
FROM messages m
JOIN runs r ON r.id = m.run_id
LEFT JOIN attempts la ON la.id = (SELECT MAX(a.id) FROM attempts a WHERE a.message = m.id)
LEFT JOIN bounces b ON b.id = (
    SELECT x.id FROM bounces x WHERE x.message = m.id
    ORDER BY CASE x.kind {_BOUNCE_RANK} ELSE 9 END, x.id DESC LIMIT 1)
"""


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

    def keeps(self, entry: dict[str, Any]) -> bool:
        """Tell whether ``entry`` passes the filters SQL cannot apply well (Unicode case)."""
        if self.outlets and entry["outlet"].casefold() not in {o.casefold() for o in self.outlets}:
            return False
        if self.domains:
            domain = entry["address"].rpartition("@")[2].casefold()
            wanted = {_ascii_domain(d) for d in self.domains}
            if not any(domain == d or domain.endswith("." + d) for d in wanted):
                return False
        if self.address:
            needle = self.address.strip().casefold()
            return needle in entry["address"].casefold() or needle in entry["recipient"].casefold()
        return True


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
            raise RunNotFoundError(f"{log.path}: no runs yet")
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
) -> list[dict[str, Any]]:
    """Return a run's messages (every run's for None) as dicts, filtered, in planning order.

    ``with_attempts`` adds ``attempt_log``, the list of every attempt (for JSON).
    """
    where = where or LogFilter()
    clauses, args = _sql_filters(run_id, where)
    sql = _ENTRY_SQL + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY m.id"
    columns = log_columns(log)
    entries = [_entry(row, columns) for row in log.query(sql, args)]
    entries = [e for e in entries if where.keeps(e)]
    if with_attempts:
        by_message = _attempts_by_message(log, run_id)
        for entry in entries:
            entry["attempt_log"] = by_message.get(entry["id"], [])
    return entries


def status_counts(log: DeliveryLog, run_id: int) -> list[tuple[str, str, str, int]]:
    """Return a run's messages counted by (status, language, outlet), counted by SQLite: a
    report of 100,000 messages need not load them."""
    rows = log.query(
        "SELECT status, language, outlet, count(*) AS n FROM messages WHERE run_id = ?"
        " GROUP BY status, language, outlet",
        (run_id,),
    )
    return [(r["status"], r["language"] or "", r["outlet"] or "", int(r["n"])) for r in rows]


def notable_entries(log: DeliveryLog, run_id: int, states: Sequence[str]) -> list[dict[str, Any]]:
    """Return the run's messages in ``states`` or settled by `distrib resolve`, as
    `log_entries` gives them (what a report lists one by one)."""
    marks = ", ".join("?" * len(states))
    sql = (
        _ENTRY_SQL + f" WHERE m.run_id = ? AND (m.status IN ({marks})"
        " OR m.resolved_at IS NOT NULL OR m.resolution IS NOT NULL) ORDER BY m.id"
    )
    columns = log_columns(log)
    return [_entry(row, columns) for row in log.query(sql, (run_id, *states))]


def recipient_entries(log: DeliveryLog, run_id: int) -> list[dict[str, Any]]:
    """Return the run's messages handed to the relay, or to be (not those set aside: skipped,
    suppressed, rejected), by outlet then recipient: who received the release, for a report."""
    sql = (
        _ENTRY_SQL + " WHERE m.run_id = ? AND m.status NOT IN ('skipped', 'suppressed',"
        " 'rejected') ORDER BY lower(COALESCE(m.outlet, '')), lower(m.recipient), m.id"
    )
    columns = log_columns(log)
    return [_entry(row, columns) for row in log.query(sql, (run_id,))]


def subjects_by_language(log: DeliveryLog, run_id: int) -> dict[str, str]:
    """Return the first subject of each language of a run (for runs that did not record
    their release)."""
    rows = log.query(
        "SELECT language, subject FROM messages WHERE run_id = ? AND subject IS NOT NULL"
        " AND subject != '' ORDER BY id",
        (run_id,),
    )
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(str(row["language"] or "?"), str(row["subject"]))
    return found


def _sql_filters(run_id: int | None, where: LogFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if run_id is not None:
        clauses.append("m.run_id = ?")
        args.append(run_id)
    if where.states:
        clauses.append(f"m.status IN ({', '.join('?' * len(where.states))})")
        args.extend(where.states)
    if where.languages:
        clauses.append(f"lower(m.language) IN ({', '.join('?' * len(where.languages))})")
        args.extend(language.casefold() for language in where.languages)
    moment = "COALESCE(la.finished_at, m.updated_at)"
    if where.since is not None:
        clauses.append(f"{moment} >= ?")
        args.append(to_log_time(where.since))
    if where.until is not None:
        clauses.append(f"{moment} < ?")
        args.append(to_log_time(where.until))
    return clauses, args


def _entry(row: Any, columns: Sequence[str]) -> dict[str, Any]:
    values = dict(row)
    entry = {c: values.get(c) for c in columns}
    entry["run"] = values["run_id"]
    entry["id"] = values["id"]
    entry["key"] = values["key"]
    return entry


def _attempts_by_message(log: DeliveryLog, run_id: int | None) -> dict[int, list[dict[str, Any]]]:
    sql = (
        "SELECT a.message, a.started_at, a.finished_at, a.server, a.outcome, a.reply_code,"
        " a.enhanced_code, a.reply_text FROM attempts a"
    )
    args: tuple[Any, ...] = ()
    if run_id is not None:
        sql += " JOIN messages m ON m.id = a.message WHERE m.run_id = ?"
        args = (run_id,)
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in log.query(sql + " ORDER BY a.id", args):
        values = dict(row)
        grouped[values.pop("message")].append(values)
    return grouped


def attempt_entries(
    log: DeliveryLog, run_id: int | None, where: LogFilter | None = None
) -> list[dict[str, Any]]:
    """Return one dict per SMTP attempt (`ATTEMPT_COLUMNS`) of the messages ``where`` selects.

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
    rows = []
    for m in messages:
        for number, a in enumerate(m["attempt_log"], start=1):
            moment = a["finished_at"] or a["started_at"]
            if (low is not None and moment < low) or (high is not None and moment >= high):
                continue
            rows.append(
                {
                    "run": m["run"], "recipient": m["recipient"], "address": m["address"],
                    "status": m["status"], "attempt": number, "message_id": m["message_id"], **a,
                }
            )  # fmt: skip
    return rows


def message_dicts(
    log: DeliveryLog, run_id: int, *, states: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Return a run's messages as plain dicts (`log_entries` with only a state filter)."""
    return log_entries(log, run_id, LogFilter(states=tuple(states or ())))


@dataclass(frozen=True, slots=True)
class History:
    """Everything the log holds about one journalist, across every run and campaign."""

    address: str
    entries: list[dict[str, Any]]
    suppressions: list[Suppressed]

    @property
    def received(self) -> int:
        """How many messages were delivered (sent, not bounced)."""
        return sum(1 for e in self.entries if e["status"] == "sent")


def history(log: DeliveryLog, address: str, *, key: str, domain: str) -> History:
    """Return every message of every run addressed to the person whose suppression key is ``key``.

    ``domain`` (ASCII, lower case) narrows the search in SQL before keys are compared, so a
    ``+tag`` variant or a different case of the same address is found too.
    """
    # Imported here: the contacts package pulls in pandas, which `distrib log` does not need.
    from distrib.contacts.normalize import suppression_key

    pattern = "%@" + domain.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    sql = _ENTRY_SQL + " WHERE lower(m.address) LIKE ? ESCAPE '\\' ORDER BY m.id"
    columns = (*log_columns(log), "run_started_at")
    starts = {r.id: r.started_at or r.created_at for r in log.runs()}
    entries = []
    for row in log.query(sql, (pattern,)):
        if suppression_key(row["address"]) != key:
            continue
        entry = _entry(row, columns)
        entry["run_started_at"] = starts.get(entry["run"])
        entries.append(entry)
    listed = [s for s in log.suppressions() if s.key == key]
    return History(address, entries, listed)
