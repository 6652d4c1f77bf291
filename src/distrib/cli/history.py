"""`distrib contacts history ADDRESS`: the journalist view — every release one journalist was
sent, across the workspace's log, with refusals, bounces and opt-outs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from distrib.app import gettext as _
from distrib.cli._common import CampaignOpt, LogOpt, console, open_log, user_errors
from distrib.cli.audit import FormatOpt, OutputOpt, TableFormat, ZoneOpt, emit_table, zone_option

if TYPE_CHECKING:
    from distrib.app import LogEntry


def register(app: typer.Typer) -> None:
    """Add the history command to ``app`` (the ``contacts`` group)."""
    app.command("history")(history_command)


HISTORY_COLUMNS = (
    "run", "campaign", "run_started_at", "recipient", "address", "name", "outlet", "language",
    "status", "sent_at", "reply_code", "reply_text", "bounce", "bounce_status", "bounce_reply",
    "bounced_at", "subject", "message_id",
)  # fmt: skip


def history_command(
    address: Annotated[str, typer.Argument(help="The journalist's address.", show_default=False)],
    fmt: FormatOpt = TableFormat.table,
    output: OutputOpt = None,
    tz: ZoneOpt = None,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """Show every release one journalist was sent (every run and message of the delivery log),
    refusals, bounces and opt-outs.

    The campaign column is the release (in a workspace, its folder name).  Case and +tag
    variants of the address count as the same person, as for suppression.
    """
    from distrib import app
    from distrib.app import format_time, in_zone

    zone = zone_option(tz)
    with open_log(campaign, log, read_only=True) as delivery_log, user_errors():
        found = app.contact_history(delivery_log, address)
    if fmt is not TableFormat.table:
        emit_table(
            in_zone(app.export_rows(found.entries, HISTORY_COLUMNS), zone),
            HISTORY_COLUMNS,
            fmt,
            output,
        )
        return
    runs = {e.run for e in found.entries}
    console.print(
        f"{found.address}: {len(found.entries)} message(s) in {len(runs)} run(s),"
        f" {found.received} delivered",
        markup=False,
    )
    received = sorted({e.campaign for e in found.entries if e.status == "sent"})
    refused = [e for e in found.entries if e.status == "failed"]
    bounced = [e for e in found.entries if e.bounce]
    console.print(
        f"  releases received ({len(received)}): {', '.join(received) or 'none'}", markup=False
    )
    if refused or bounced:
        console.print(
            f"  refused by the server: {len(refused)}; bounced after acceptance: {len(bounced)}",
            markup=False,
        )
    if found.entries:
        from rich.table import Table

        table = Table(title_justify="left")
        for column in ("run", "release", "started", "sent to", "status", "detail", "subject"):
            folds = column in ("release", "sent to", "detail", "subject")
            table.add_column(column, overflow="fold" if folds else "ellipsis")
        for e in found.entries:
            table.add_row(
                str(e.run),
                e.campaign,
                format_time(e.run_started_at, zone, seconds=False),
                e.address,
                e.status,
                _detail(e),
                e.subject,
            )
        console.print(table, markup=False)
    if found.replies:
        runs_of = {e.id: (e.run, e.campaign) for e in found.entries}
        console.print(_("Replies ({n}):").format(n=len(found.replies)), markup=False)
        for reply in found.replies:
            run, release = runs_of.get(reply.message, (reply.run_id, ""))
            kind = _("automatic reply") if reply.automatic else _("reply")
            console.print(
                "  "
                + _("{when} {kind} to run {run} ({release}) from {sender}: {subject}").format(
                    when=format_time(reply.arrived_at or reply.recorded_at, zone, seconds=False),
                    kind=kind, run=run, release=release, sender=reply.sender,
                    subject=reply.subject,
                ),
                markup=False,
            )  # fmt: skip
    if not found.suppressions:
        console.print("Not on this log's suppression list.")
    for s in found.suppressions:
        asked = format_time(s.requested_at or s.created_at, zone, seconds=False)
        console.print(f"On the suppression list: {s.reason} on {asked} ({s.source})", markup=False)
    for r in found.removals:
        when = format_time(r.removed_at, zone, seconds=False)
        console.print(
            f"Taken off the suppression list ({r.reason}) on {when} by {r.removed_by}: {r.why}",
            markup=False,
        )


def _detail(entry: LogEntry) -> str:
    if entry.bounce:
        return f"{entry.bounce} bounce {entry.bounce_status or ''}".strip()
    if entry.status == "sent":
        return f"Message-ID {entry.message_id}"
    parts = (entry.reply_code, entry.reply_text)
    return " ".join(str(p) for p in parts if p)
