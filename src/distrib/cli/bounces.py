"""`distrib bounces MAILBOX`: record the bounces that came back, and suppress the hard ones."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import CampaignOpt, LogOpt, console, open_log, user_errors
from distrib.cli.relay import ImapCaFileOpt, ImapPasswordEnvOpt

if TYPE_CHECKING:
    from distrib.app import BounceOutcome, ImapSettings

MailboxArg = Annotated[
    str | None,
    typer.Argument(
        help="A Maildir folder, an mbox file, a message file, a folder of .eml files, or an"
        " IMAP folder: imaps://USER@HOST/FOLDER (default: the settings' [mailbox]).",
        show_default=False,
    ),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", "-n", help="Show what would be recorded; change nothing.")
]


def register(app: typer.Typer) -> None:
    """Add the bounces command to ``app``."""
    app.command("bounces")(bounces)


def bounces(
    mailbox: MailboxArg = None,
    dry_run: DryRunOpt = False,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
    imap_password_env: ImapPasswordEnvOpt = None,
    imap_ca_file: ImapCaFileOpt = None,
) -> None:
    """Read delivery-status notifications and mark the messages they report as bounced.

    Hard bounces (the address does not exist) go on the delivery log's suppression list, so no
    run sends to them again.  Out-of-office and other automatic replies are recognised and
    ignored.  Files are only read; on IMAP, recorded bounces get the keyword
    $DistribProcessed.  Reading it again records nothing twice.
    """
    from distrib import app

    with user_errors():
        mailbox, location, settings = choose_mailbox(
            mailbox, campaign, imap_password_env, imap_ca_file
        )
    with open_log(campaign, log) as delivery_log, user_errors():
        outcome = app.read_bounces(delivery_log, location, dry_run=dry_run, imap=settings)
    print_outcome(outcome, mailbox, dry_run=dry_run)


def choose_mailbox(
    mailbox: str | None,
    campaign: Path | None,
    password_env: str | None,
    ca_file: Path | None,
) -> tuple[str, str | Path, ImapSettings]:
    """The mailbox named on the command line, else the settings' ``[mailbox]``: its name as
    shown, where it is, and how to log into it (`InvalidRequestError` when none is named)."""
    from distrib import app

    if mailbox is None:
        url, settings = app.workspace_mailbox(campaign, password_env=password_env, ca_file=ca_file)
        return url, url, settings
    settings = app.imap_settings(password_env or app.IMAP_PASSWORD_ENV, ca_file)
    return mailbox, app.mailbox_location(mailbox), settings


def print_outcome(outcome: BounceOutcome, mailbox: str, *, dry_run: bool) -> None:
    """Account for every message read, then list what was recorded."""
    from rich.table import Table

    matched = {r.bounce.source for r in outcome.recorded}
    unmatched = {b.source for b, _ in outcome.unmatched} - matched
    console.print(f"Read {outcome.read} message(s) from {mailbox}:", markup=False)
    console.print(
        f"  {len(matched | unmatched) + len(outcome.unreadable)} bounce(s): {len(matched)}"
        f" matched to messages, {len(unmatched)} matched nothing,"
        f" {len(outcome.unreadable)} without a recipient"
    )
    console.print(f"  {len(outcome.auto_replies)} automatic repl(y/ies) ignored")
    if outcome.unsubscribes:
        console.print(
            f"  {len(outcome.unsubscribes)} unsubscribe request(s), not handled here:"
            f" run `distrib unsubscribe --mailbox {mailbox}`",
            markup=False,
        )
    console.print(f"  {len(outcome.other)} other message(s), for you to read")
    verb = "Would record" if dry_run else "Recorded"
    new = [r for r in outcome.recorded if r.new]
    again = len(outcome.recorded) - len(new)
    console.print(
        f"{verb}: {outcome.count('hard')} hard, {outcome.count('soft')} soft,"
        f" {outcome.count('delayed')} delay warning(s)"
        + (f"; {again} already recorded earlier" if again else "")
    )
    if outcome.flagged:
        console.print(
            f"Flagged {outcome.flagged} message(s) in the mailbox as recorded ($DistribProcessed)"
        )
    if new:
        table = Table(title="Bounces", title_justify="left")
        for column in ("recipient", "run", "kind", "status", "reason given", "matched by"):
            table.add_column(column, overflow="fold" if column == "recipient" else "ellipsis")
        for r in new:
            kind = r.recipient.kind + (" (suppressed)" if r.suppressed else "")
            table.add_row(
                r.address,
                str(r.run),
                kind,
                r.recipient.status or "",
                r.recipient.diagnostic,
                r.matched_by,
            )
        console.print(table, markup=False)
    for title, rows in (
        ("Matched no message (nothing changed)", [
            (b.source, f"{r.recipient} {r.status or ''} {r.diagnostic}")
            for b, r in outcome.unmatched
        ]),
        ("Bounces naming no recipient", outcome.unreadable),
        ("Automatic replies ignored", outcome.auto_replies),
        ("Other messages", outcome.other),
    ):  # fmt: skip
        if rows:
            console.print(f"{title} ({len(rows)}):")
            for source, detail in rows:
                console.print(f"  {source}: {detail}", markup=False)
