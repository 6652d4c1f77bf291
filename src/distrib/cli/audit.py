"""`distrib runs`, `distrib log`, `distrib report`: audit what was sent."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import CampaignOpt, Exit, LogOpt, console, fail, open_log, user_errors

if TYPE_CHECKING:
    from distrib.audit import Report
    from distrib.export import Format

RunArg = Annotated[
    str, typer.Argument(help="Run id (see `distrib runs`), or 'latest'.", show_default=True)
]


class LogFormat(StrEnum):
    """Output formats of `distrib log`."""

    table = "table"
    csv = "csv"
    json = "json"
    xlsx = "xlsx"


_FORMATS: dict[LogFormat, Format] = {
    LogFormat.csv: "csv",
    LogFormat.json: "json",
    LogFormat.xlsx: "xlsx",
}


def register(app: typer.Typer) -> None:
    """Add the audit commands to ``app``."""
    app.command("runs")(runs)
    app.command("log")(log_command)
    app.command("report")(report_command)


def runs(campaign: CampaignOpt = None, log: LogOpt = None) -> None:
    """List every run in the delivery log with its counts per state."""
    from rich.table import Table

    from distrib.audit import run_summaries

    with open_log(campaign, log) as delivery_log:
        summaries = run_summaries(delivery_log)
    if not summaries:
        console.print("No runs yet.")
        return
    table = Table(title=f"Runs in {delivery_log.path}", title_justify="left")
    for column in ("run", "campaign", "status", "started", "finished", "messages", "by state"):
        table.add_column(column)
    for s in summaries:
        states = ", ".join(f"{k} {v}" for k, v in sorted(s.counts.items()))
        table.add_row(
            str(s.run.id),
            s.run.campaign,
            s.run.status,
            s.run.started_at or "-",
            s.run.finished_at or "-",
            str(s.total),
            states,
        )
    console.print(table)


def log_command(
    run: RunArg = "latest",
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="Only these states (repeatable), e.g. failed."),
    ] = None,
    fmt: Annotated[
        LogFormat, typer.Option("--format", "-f", help="Output format.")
    ] = LogFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file.", show_default=False)
    ] = None,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """Show one row per message of a run: recipient, state, SMTP reply, attempts.

    CSV and XLSX exports neutralise cells that a spreadsheet would run as formulas.
    """
    from distrib.audit import LOG_COLUMNS, message_dicts, resolve_run
    from distrib.deliverylog import State
    from distrib.export import write_table

    valid = {str(s) for s in State}
    unknown = [s for s in status or () if s not in valid]
    if unknown:
        fail(
            f"unknown state(s): {', '.join(unknown)} (valid: {', '.join(sorted(valid))})",
            Exit.USAGE,
        )
    with open_log(campaign, log) as delivery_log, user_errors():
        found = resolve_run(delivery_log, run)
        rows = message_dicts(delivery_log, found.id, states=status or None)
    if fmt is LogFormat.table:
        _print_log_table(rows, found.id)
        return
    if fmt is LogFormat.xlsx and output is None:
        fail("--format xlsx needs --output FILE", Exit.USAGE)
    text = write_table(output, LOG_COLUMNS, rows, _FORMATS[fmt])
    if text is not None:
        typer.echo(text, nl=False)
    else:
        console.print(f"Wrote {len(rows)} row(s) to {output}")


def _print_log_table(rows: list[dict[str, object]], run_id: int) -> None:
    from rich.table import Table

    table = Table(title=f"Run {run_id}: {len(rows)} message(s)", title_justify="left")
    for column in ("recipient", "name", "outlet", "lang", "status", "reply", "tries"):
        table.add_column(column)
    for r in rows:
        reply = " ".join(str(p) for p in (r["reply_code"], r["reply_text"]) if p)
        table.add_row(
            str(r["recipient"]),
            str(r["name"]),
            str(r["outlet"]),
            str(r["language"]),
            str(r["status"]),
            reply,
            str(r["attempts"]),
        )
    console.print(table)


def report_command(
    run: RunArg = "latest", campaign: CampaignOpt = None, log: LogOpt = None
) -> None:
    """Summarise a run: counts by state, language and outlet, and every failure."""
    from distrib.audit import report, resolve_run

    with open_log(campaign, log) as delivery_log, user_errors():
        print_report(report(delivery_log, resolve_run(delivery_log, run)))


def print_report(rep: Report) -> None:
    """Print a run report."""
    from rich.table import Table

    run = rep.run
    console.print(
        f"Run {run.id} of {run.campaign}: {run.status}"
        f" (started {run.started_at or '-'}, finished {run.finished_at or '-'})"
    )
    console.print(
        "By state: "
        + ", ".join(f"{k} {v}" for k, v in rep.by_state.items())
        + f" (total {rep.total})"
    )
    for title, groups in (("language", rep.by_language), ("outlet", rep.by_outlet)):
        table = Table(title=f"By {title}", title_justify="left")
        table.add_column(title)
        states = sorted(
            {s for counts in groups.values() for s in counts}, key=list(rep.by_state).index
        )
        for s in states:
            table.add_column(s, justify="right")
        for name, counts in groups.items():
            table.add_row(name, *(str(counts.get(s, 0)) for s in states))
        console.print(table)
    for title, rows in (
        ("Failed", rep.failures),
        ("Deferred", rep.deferred),
        ("Unknown", rep.unknown),
    ):
        if rows:
            console.print(f"{title} ({len(rows)}):")
            for m in rows:
                reply = " ".join(str(p) for p in (m.reply_code, m.reply_text) if p)
                console.print(f"  {m.recipient}  {reply}  [{m.message_id}]", markup=False)
