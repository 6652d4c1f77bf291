"""Auditing what was sent, and what came back: runs, messages, reports, unknown messages to
settle, opt-outs, bounces and the suppression list.

Reading commands open the log read-only (`distrib.app.logs.open_log`); these functions take
the open log.  Rows for tables and exports come from `distrib.audit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from distrib.errors import InvalidRequestError

if TYPE_CHECKING:
    from distrib.audit import LogFilter, Report
    from distrib.bounces import BounceOutcome
    from distrib.deliverylog import DeliveryLog, MessageRow, Run
    from distrib.deliverylog.records import Suppressed, SuppressionRemoval
    from distrib.deliverylog.runs import Action
    from distrib.optout import OptOutOutcome
    from distrib.relay.imap import ImapSettings
    from distrib.resolve import Unknown

__all__ = [
    "SuppressionRemoved",
    "export_run",
    "find_run",
    "html_report",
    "make_filter",
    "read_bounces",
    "remove_suppression",
    "resolve_unknown",
    "run_report",
    "suppression_list",
    "unknown_messages",
    "unsubscribe",
    "unsubscribe_from_mailbox",
    "write_html_report",
]


def find_run(log: DeliveryLog, run: int | str) -> Run:
    """Return the run named by an id, or ``latest`` (`RunNotFoundError` otherwise)."""
    from distrib.audit import resolve_run

    return resolve_run(log, run)


def make_filter(
    *,
    states: Sequence[str] = (),
    languages: Sequence[str] = (),
    outlets: Sequence[str] = (),
    domains: Sequence[str] = (),
    address: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> LogFilter:
    """Build a message filter; an unknown state or a time without a zone is an
    `InvalidRequestError` naming it."""
    from distrib.audit import LogFilter, parse_instant
    from distrib.deliverylog import State

    valid = {str(s) for s in State}
    unknown = [s for s in states if s not in valid]
    if unknown:
        raise InvalidRequestError(
            f"unknown state(s): {', '.join(unknown)} (valid: {', '.join(sorted(valid))})"
        )
    bounds: list[datetime | None] = []
    for name, value in (("--since", since), ("--until", until)):
        try:
            bounds.append(parse_instant(value) if value is not None else None)
        except ValueError as exc:
            raise InvalidRequestError(f"{name}: {exc}") from None
    return LogFilter(
        states=tuple(states),
        languages=tuple(languages),
        outlets=tuple(outlets),
        domains=tuple(domains),
        address=address,
        since=bounds[0],
        until=bounds[1],
    )


def run_report(log: DeliveryLog, run: int | str = "latest") -> Report:
    """Counts by state, language and outlet; failures, bounces and unknowns of a run."""
    from distrib.audit import report

    return report(log, find_run(log, run))


def write_html_report(
    report: Report,
    file: Path,
    *,
    zone: tzinfo | None,
    source: str,
    language: str | None = None,
) -> None:
    """Write the self-contained HTML report (no script, no external resource) to ``file``, in
    ``language`` (``fr`` or ``en``; default: the interface's, `distrib.i18n`)."""
    from distrib.audit.html import render_html
    from distrib.errors import DeliveryLogError
    from distrib.i18n import current_language

    html = render_html(report, zone=zone, source=source, language=language or current_language())
    try:
        file.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise DeliveryLogError(f"{file}: cannot write the report: {exc.strerror}") from None


def html_report(
    report: Report, *, zone: tzinfo | None, source: str, language: str | None = None
) -> str:
    """The self-contained HTML report of `write_html_report`, as text (to show it)."""
    from distrib.audit.html import render_html
    from distrib.i18n import current_language

    return render_html(report, zone=zone, source=source, language=language or current_language())


def export_run(
    log: DeliveryLog,
    run: Run,
    fmt: Literal["csv", "xlsx"],
    where: LogFilter | None = None,
    *,
    zone: tzinfo | None = None,
) -> bytes:
    """The messages of ``run`` that ``where`` keeps, as `distrib log --format csv|xlsx` writes
    them (cells a spreadsheet would run as formulas neutralised), as bytes to download."""
    import tempfile

    from distrib.audit import in_zone, log_columns, log_entries, rows
    from distrib.export import write_table

    columns = log_columns(log)
    table = in_zone(rows(log_entries(log, run.id, where), columns), zone)
    if fmt == "csv":
        return (write_table(None, columns, table, "csv") or "").encode("utf-8-sig")
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / "export.xlsx"
        write_table(file, columns, table, "xlsx", sheet=f"run {run.id}")
        return file.read_bytes()


def unknown_messages(log: DeliveryLog, run: Run) -> list[Unknown]:
    """The run's unknown messages, with their Message-ID and last attempt."""
    from distrib.resolve import unknown_messages as listed

    return listed(log, run.id)


def resolve_unknown(
    log: DeliveryLog,
    run: Run,
    addresses: Sequence[str],
    action: Action,
    *,
    note: str,
    every: bool = False,
) -> list[MessageRow]:
    """Settle messages of ``run``: all or nothing (`ResolveError` lists every problem)."""
    from distrib.resolve import resolve

    return resolve(log, run.id, addresses, action, note=note, every=every)


def unsubscribe(
    log: DeliveryLog, addresses: Sequence[str], *, note: str | None, dry_run: bool = False
) -> OptOutOutcome:
    """Put typed addresses on the suppression list (nothing recorded if one is invalid)."""
    from distrib.optout import unsubscribe_addresses

    return unsubscribe_addresses(log, list(addresses), note=note, dry_run=dry_run)


def unsubscribe_from_mailbox(
    log: DeliveryLog,
    mailbox: Path | str,
    *,
    dry_run: bool = False,
    imap: ImapSettings | None = None,
) -> OptOutOutcome:
    """Read unsubscribe requests from a mailbox (files, or ``imaps://`` with ``imap``'s
    settings: recorded requests are flagged) and suppress their senders."""
    from distrib.optout import requests_from_mailbox

    return requests_from_mailbox(mailbox, log, dry_run=dry_run, imap=imap)


def read_bounces(
    log: DeliveryLog,
    mailbox: Path | str,
    *,
    dry_run: bool = False,
    imap: ImapSettings | None = None,
) -> BounceOutcome:
    """Record the bounces a mailbox holds (files, or ``imaps://``: recorded ones are flagged);
    suppress hard bounces; nothing is recorded twice."""
    from distrib.bounces import process_mailbox

    return process_mailbox(mailbox, log, dry_run=dry_run, imap=imap)


def suppression_list(log: DeliveryLog) -> list[Suppressed]:
    """The log's suppression list, oldest entry first."""
    return log.suppressions()


@dataclass(frozen=True, slots=True)
class SuppressionRemoved:
    """What `remove_suppression` took off the list.  ``opt_out``: one entry was the person's
    own opt-out, so writing to them again needs their consent, documented (CASL)."""

    address: str
    removals: tuple[SuppressionRemoval, ...]

    @property
    def opt_out(self) -> bool:
        """Whether an opt-out (not only a bounce) was removed."""
        from distrib.deliverylog.records import UNSUBSCRIBED

        return any(r.reason == UNSUBSCRIBED for r in self.removals)


def remove_suppression(
    log: DeliveryLog, address: str, *, why: str, by: str | None = None
) -> SuppressionRemoved:
    """Take ``address`` (and its case and ``+tag`` variants) off the suppression list: an
    officer's decision, recorded with ``why`` (required) and ``by`` (default: this system's
    user name) and shown in the journalist's history.  `InvalidRequestError` when the reason
    is blank, the address is not valid, or it is not on the list."""
    import getpass

    from distrib.contacts.normalize import AddressError, normalize_address

    if not why.strip():
        raise InvalidRequestError(
            "give the reason for taking this address off the suppression list"
        )
    try:
        checked = normalize_address(address)
    except AddressError as exc:
        raise InvalidRequestError(f"{address!r}: {exc.reason}") from None
    who = by
    if not who:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
    removals = log.remove_suppressions(checked.suppression_key, why=why, by=who)
    if not removals:
        raise InvalidRequestError(f"{checked.address}: not on the suppression list")
    return SuppressionRemoved(checked.address, tuple(removals))


#: How `distrib resolve` can settle a message.
ACTIONS: tuple[Literal["mark-sent", "resend", "mark-failed"], ...] = (
    "mark-sent",
    "resend",
    "mark-failed",
)
