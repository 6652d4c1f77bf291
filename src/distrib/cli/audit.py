"""`distrib runs`, `distrib log`, `distrib report`: audit what was sent."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from distrib.app import gettext as _
from distrib.cli._common import CampaignOpt, Exit, LogOpt, console, fail, open_log, user_errors

if TYPE_CHECKING:
    from distrib.app import AttemptEntry, Format, LogEntry, Report

RunArg = Annotated[
    str,
    typer.Argument(
        help="Run id (see `distrib runs`), 'latest', or 'all' (log only).", show_default=True
    ),
]
ZoneOpt = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="Show times in this zone, e.g. America/Montreal or UTC (default: this machine's).",
        show_default=False,
    ),
]


#: Table columns shown whole (wrapped), never cut with an ellipsis.
_WHOLE = frozenset({"recipient", "address", "reply"})


class TableFormat(StrEnum):
    """Output formats of the audit commands."""

    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


# Kept for callers of the backbone's name.
LogFormat = TableFormat

FormatOpt = Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write to this file (needed for xlsx).", show_default=False
    ),
]

_FORMATS: dict[TableFormat, Format] = {
    TableFormat.csv: "csv",
    TableFormat.json: "json",
    TableFormat.xlsx: "xlsx",
}


def register(app: typer.Typer) -> None:
    """Add the audit commands to ``app``."""
    app.command("runs")(runs)
    app.command("log")(log_command)
    app.command("report")(report_command)


def zone_option(name: str | None) -> tzinfo | None:
    """Read ``--tz`` (a bad zone is a usage error)."""
    from distrib import app

    try:
        return app.parse_zone(name)
    except ValueError as exc:
        fail(f"--tz: {exc}", Exit.USAGE)


def emit_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: TableFormat, output: Path | None
) -> None:
    """Write ``rows`` as CSV, JSON or XLSX to ``output`` or standard output."""
    from distrib import app

    if fmt is TableFormat.xlsx and output is None:
        fail("--format xlsx needs --output FILE", Exit.USAGE)
    try:
        text = app.export_table(output, columns, rows, _FORMATS[fmt])
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror}")
    if text is not None:
        if sys.stdout.isatty():  # shown to a person, not piped: nothing may drive the terminal
            text = app.for_terminal(text.replace("\r\n", "\n"))
        # Piped, it is data: written as it is (click's echo would strip escape sequences).
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        console.print(f"Wrote {len(rows)} row(s) to {output}", markup=False)


def runs(
    fmt: FormatOpt = TableFormat.table,
    output: OutputOpt = None,
    tz: ZoneOpt = None,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """List every run in the delivery log: campaign, start and end, counts per state."""
    from distrib import app
    from distrib.app import STATE_ORDER, format_time, in_zone

    zone = zone_option(tz)
    with open_log(campaign, log, read_only=True) as delivery_log, user_errors():
        summaries = app.list_runs(delivery_log)
    if fmt is not TableFormat.table:
        states = [s for s in STATE_ORDER if any(s in x.counts for x in summaries)]
        states += sorted({s for x in summaries for s in x.counts} - set(states))
        rows = [
            {
                "run": s.run.id, "campaign": s.run.campaign, "campaign_file": s.run.campaign_file,
                "status": s.run.status, "created_at": s.run.created_at,
                "started_at": s.run.started_at, "finished_at": s.run.finished_at,
                "messages": s.total, **{state: s.counts.get(state, 0) for state in states},
            }
            for s in summaries
        ]  # fmt: skip
        columns = ["run", "campaign", "campaign_file", "status", "created_at", "started_at"]
        emit_table(in_zone(rows, zone), [*columns, "finished_at", "messages", *states], fmt, output)
        return
    if not summaries:
        console.print("No runs yet.")
        return
    from rich.table import Table

    table = Table(title=f"Runs in {delivery_log.where}", title_justify="left")
    for column in ("run", "release", "status", "started", "finished", "took", "messages"):
        # A release's name (its folder in a workspace) is never cut short: it wraps.
        table.add_column(
            column,
            justify="right" if column in ("run", "messages") else "left",
            overflow="fold" if column == "release" else "ellipsis",
        )
    table.add_column("by state")
    for s in summaries:
        by_state = ", ".join(f"{k} {v}" for k, v in sorted(s.counts.items()))
        table.add_row(
            str(s.run.id),
            s.run.campaign,
            s.run.status,
            format_time(s.run.started_at, zone) or "-",
            format_time(s.run.finished_at, zone) or "-",
            _took(s.run.started_at, s.run.finished_at),
            str(s.total),
            by_state,
        )
    console.print(table)


def _took(started: str | None, finished: str | None) -> str:
    if not started or not finished:
        return "-"
    seconds = round((datetime.fromisoformat(finished) - datetime.fromisoformat(started)).seconds)
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def log_command(
    run: RunArg = "latest",
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="Only these states (repeatable), e.g. failed."),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option("--language", "-l", help="Only these languages (repeatable): fr, en."),
    ] = None,
    outlet: Annotated[
        list[str] | None,
        typer.Option("--outlet", help="Only this outlet, whole name, any case (repeatable)."),
    ] = None,
    domain: Annotated[
        list[str] | None,
        typer.Option("--domain", help="Only addresses at this domain or its subdomains."),
    ] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", "-a", help="Only addresses containing this text, any case."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only messages last tried at or after this time, with its zone:"
            " 2027-02-02T09:00-05:00, ...Z, or '2027-02-02 09:00 America/Montreal'.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="Only messages last tried before this time (same forms as --since).",
            show_default=False,
        ),
    ] = None,
    attempts: Annotated[
        bool,
        typer.Option(
            "--attempts", help="One row per SMTP attempt (time, server, codes, reply) instead."
        ),
    ] = False,
    fmt: FormatOpt = TableFormat.table,
    output: OutputOpt = None,
    tz: ZoneOpt = None,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """Show one row per message of a run: recipient, state, SMTP reply, attempts, bounces.

    CSV and XLSX exports neutralise cells that a spreadsheet would run as formulas; JSON also
    lists every attempt of each message.
    """
    from distrib import app
    from distrib.app import ATTEMPT_COLUMNS, attempt_entries, in_zone, log_columns, log_entries

    zone = zone_option(tz)
    with user_errors():
        where = app.make_filter(
            states=status or (), languages=language or (), outlets=outlet or (),
            domains=domain or (), address=address, since=since, until=until,
        )  # fmt: skip
    with open_log(campaign, log, read_only=True) as delivery_log, user_errors():
        run_id = None if run == "all" else app.find_run(delivery_log, run).id
        if attempts:
            tries = attempt_entries(delivery_log, run_id, where)
            columns: Sequence[str] = ATTEMPT_COLUMNS
        else:
            entries = log_entries(
                delivery_log, run_id, where, with_attempts=fmt is TableFormat.json
            )
            columns = log_columns(delivery_log)
            if fmt is TableFormat.json:
                columns = [*columns, "attempt_log"]
    if fmt is TableFormat.table:
        title = f"Run {run_id}" if run_id is not None else "All runs"
        if attempts:
            _print_attempts(tries, title, zone)
        else:
            _print_log_table(entries, title, zone)
        return
    table = app.export_rows(tries if attempts else entries, columns)
    emit_table(in_zone(table, zone), columns, fmt, output)


def smtp_reply(code: object, enhanced: object, text: object) -> str:
    """One SMTP reply for people: the code and enhanced code once, then the text."""
    words = str(text or "")
    parts = [str(p) for p in (code, enhanced) if p and str(p) not in words]
    return " ".join([*parts, words]).strip()


def _reply(entry: LogEntry) -> str:
    if entry.bounce:
        return f"{entry.bounce} bounce: " + smtp_reply(
            None, entry.bounce_status, entry.bounce_reply
        )
    return smtp_reply(entry.reply_code, entry.enhanced_code, entry.reply_text)


def _print_log_table(rows: list[LogEntry], title: str, zone: tzinfo | None) -> None:
    from rich.table import Table

    from distrib.app import format_time

    table = Table(title=f"{title}: {len(rows)} message(s)", title_justify="left")
    for column in ("recipient", "name", "outlet", "lang", "status", "reply", "tries", "last try"):
        # Addresses and Message-IDs are never cut short: they wrap.
        table.add_column(column, overflow="fold" if column in _WHOLE else "ellipsis")
    for r in rows:
        table.add_row(
            r.recipient,
            r.name,
            r.outlet,
            r.language,
            r.status,
            _reply(r),
            str(r.attempts),
            format_time(r.attempted_at, zone),
        )
    console.print(table, markup=False)


def _print_attempts(rows: list[AttemptEntry], title: str, zone: tzinfo | None) -> None:
    from rich.table import Table

    from distrib.app import format_time

    table = Table(title=f"{title}: {len(rows)} attempt(s)", title_justify="left")
    for column in ("recipient", "#", "finished", "server", "outcome", "reply"):
        # Addresses and Message-IDs are never cut short: they wrap.
        table.add_column(column, overflow="fold" if column in _WHOLE else "ellipsis")
    for r in rows:
        reply = smtp_reply(r.reply_code, r.enhanced_code, r.reply_text)
        table.add_row(
            r.recipient,
            str(r.attempt),
            format_time(r.finished_at or r.started_at, zone),
            r.server or "",
            r.outcome or "in progress",
            reply,
        )
    console.print(table, markup=False)


def report_command(
    run: RunArg = "latest",
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write a self-contained HTML report (timeline chart, per-outlet table)"
            " to this file, ready to attach to an email.",
            show_default=False,
        ),
    ] = None,
    tz: ZoneOpt = None,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """Summarise a run: counts by state, language and outlet; failures, bounces, unknowns."""
    from distrib import app

    zone = zone_option(tz)
    with open_log(campaign, log, read_only=True) as delivery_log, user_errors():
        rep = app.run_report(delivery_log, run)
        source = delivery_log.name
    print_report(rep, zone)
    if html is not None:
        with user_errors():
            app.write_html_report(rep, html, zone=zone, source=source)
        console.print(_("Wrote the HTML report to {file}").format(file=html), markup=False)


def _print_release(rep: Report) -> None:
    """The release the run sent, one line per language: its label and subject."""
    for language, version in rep.release.items():
        label = f"{version['label']}: " if version.get("label") else ""
        console.print(
            "  "
            + _("{language}: {label}{subject}").format(
                language=language, label=label, subject=version.get("subject", "")
            ),
            markup=False,
        )


def _print_no_such_user(rep: Report) -> None:
    if rep.no_such_user:
        console.print(
            _(
                "{n} address(es) suppressed: no such user (refused as nonexistent; no later"
                " release writes to them): {addresses}"
            ).format(n=len(rep.no_such_user), addresses=", ".join(rep.no_such_user)),
            markup=False,
        )
    if rep.replies:
        console.print(
            _("Replies: {n} replies, {m} automatic (`distrib replies`)").format(
                n=rep.replies, m=rep.automatic_replies
            ),
            markup=False,
        )


def print_report(rep: Report, zone: tzinfo | None = None) -> None:
    """Print a run report."""
    from rich.table import Table

    from distrib.app import format_time, resolve_commands

    run = rep.run
    console.print(
        _("Run {run} of {campaign}: {status} (started {started}, finished {finished})").format(
            run=run.id,
            campaign=run.campaign,
            status=run.status,
            started=format_time(run.started_at, zone) or "-",
            finished=format_time(run.finished_at, zone) or "-",
        ),
        markup=False,
    )
    _print_release(rep)
    console.print(
        _("By state: {counts} (total {total})").format(
            counts=", ".join(f"{k} {v}" for k, v in rep.by_state.items()), total=rep.total
        )
    )
    _print_no_such_user(rep)
    for title, column, groups in (
        (_("By language"), _("language"), rep.by_language),
        (_("By outlet"), _("outlet"), rep.by_outlet),
    ):
        table = Table(title=title, title_justify="left")
        table.add_column(column)
        for s in rep.states:
            table.add_column(s, justify="right")
        for name, counts in groups.items():
            table.add_row(name, *(str(counts.get(s, 0)) for s in rep.states))
        console.print(table, markup=False)
    for title, rows in ((_("Failed"), rep.failures), (_("Deferred"), rep.deferred)):
        if rows:
            console.print(f"{title} ({len(rows)}):")
            for m in rows:
                reply = " ".join(str(p) for p in (m.reply_code, m.reply_text) if p)
                console.print(f"  {m.recipient}  {reply}  [{m.message_id}]", markup=False)
    if rep.bounced:
        console.print(_("Bounced after the relay accepted them ({n}):").format(n=len(rep.bounced)))
        for m in rep.bounced:
            reason = smtp_reply(None, m.bounce_status, m.bounce_reply)
            console.print(f"  {m.recipient}  {m.bounce} bounce: {reason}", markup=False)
    if rep.unknown:
        console.print(
            _(
                "Unknown ({n}): may or may not have been delivered; search the relay's logs for"
                " the Message-ID, then settle each one:"
            ).format(n=len(rep.unknown))
        )
        for m in rep.unknown:
            mark, resend = resolve_commands(run.id, m.address)
            console.print(f"  {m.recipient}  [{m.message_id}]", markup=False)
            console.print("      " + _("delivered:") + f"     {mark}", markup=False)
            console.print("      " + _("not delivered:") + f" {resend}", markup=False)
    if rep.resolved:
        console.print(_("Resolved unknowns ({n}):").format(n=len(rep.resolved)))
        for m in rep.resolved:
            who = m.resolved_by or "?"
            console.print(
                f"  {m.recipient}  {m.resolution or '?'} by {who}"
                f" at {format_time(m.resolved_at, zone) or '?'}",
                markup=False,
            )
