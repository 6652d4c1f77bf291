"""`distrib unsubscribe`, `distrib suppressions` and `distrib suppress remove`: the delivery
log's suppression list."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import CampaignOpt, Exit, LogOpt, console, err, fail, open_log, user_errors
from distrib.cli.audit import FormatOpt, OutputOpt, TableFormat, ZoneOpt, emit_table, zone_option
from distrib.cli.bounces import DryRunOpt, choose_mailbox
from distrib.cli.relay import ImapCaFileOpt, ImapPasswordEnvOpt

if TYPE_CHECKING:
    from distrib.app import OptOutOutcome


suppress_app = typer.Typer(
    help="Change the delivery log's suppression list (`distrib suppressions` lists it).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the opt-out commands to ``app``."""
    app.command("unsubscribe")(unsubscribe)
    app.command("suppressions")(suppressions)
    app.add_typer(suppress_app, name="suppress")


@suppress_app.command("remove")
def suppress_remove(
    address: Annotated[str, typer.Argument(help="The address to write to again.")],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Why, kept in the log with your name and the date, e.g. 'asked to be put"
            " back by email on 3 March'.",
        ),
    ],
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """Take an address (and its case and +tag variants) off the suppression list.

    An officer's decision: the reason is required and kept in the log (who, when, why) and in
    `distrib history`.  Taking off an opt-out means the person agreed to be written to again:
    keep proof of that consent (CASL).
    """
    from distrib import app

    with open_log(campaign, log) as delivery_log, user_errors():
        removed = app.remove_suppression(delivery_log, address, why=reason)
    for r in removed.removals:
        console.print(
            f"Removed {r.address} from the suppression list ({r.reason}, {r.source});"
            f" recorded: {r.removed_by}, {r.removed_at}: {r.why}",
            markup=False,
        )
    if removed.opt_out:
        err.print(
            "warning: this address had opted out.  Write to it again only with its consent,"
            " and keep proof of that consent (CASL).",
            markup=False,
        )


def unsubscribe(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(help="Addresses to take off every future run.", show_default=False),
    ] = None,
    mailbox: Annotated[
        str | None,
        typer.Option(
            "--mailbox",
            "-m",
            help="Also read unsubscribe requests from this Maildir, mbox or .eml folder, or an"
            " IMAP folder (imaps://USER@HOST/FOLDER).",
            show_default=False,
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option("--note", help="Why, e.g. 'asked by phone on 3 Feb'.", show_default=False),
    ] = None,
    dry_run: DryRunOpt = False,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
    imap_password_env: ImapPasswordEnvOpt = None,
    imap_ca_file: ImapCaFileOpt = None,
) -> None:
    """Put addresses on the delivery log's suppression list: no run will send to them again.

    Typed addresses are checked first; if one is invalid nothing is recorded.  With --mailbox
    (or with no address: the settings' [mailbox]), each request's sender is suppressed, and so
    is the recipient its token or In-Reply-To names.  Messages to them still waiting in a run
    are stopped at once.
    """
    from distrib import app

    read_mailbox = mailbox is not None or not addresses
    if read_mailbox:
        # No address and no --mailbox: the settings' [mailbox], if they name one.
        from distrib.errors import DistribError, InvalidRequestError

        try:
            mailbox, location, settings = choose_mailbox(
                mailbox, campaign, imap_password_env, imap_ca_file
            )
        except InvalidRequestError:
            fail(
                "name at least one address, or --mailbox PATH, or set [mailbox] in the"
                " workspace's settings",
                Exit.USAGE,
            )
        except DistribError as exc:
            fail(str(exc))
    outcomes = []
    with open_log(campaign, log, create=True) as delivery_log, user_errors():
        if addresses:
            outcomes.append(app.unsubscribe(delivery_log, addresses, note=note, dry_run=dry_run))
        if read_mailbox:
            outcomes.append(
                app.unsubscribe_from_mailbox(delivery_log, location, dry_run=dry_run, imap=settings)
            )
    failed = False
    for outcome, source in zip(outcomes, _sources(addresses, mailbox), strict=True):
        failed |= _print(outcome, source, dry_run=dry_run)
    if failed:
        raise typer.Exit(int(Exit.ERROR))


def _sources(addresses: list[str] | None, mailbox: str | None) -> list[str]:
    return (["command line"] if addresses else []) + ([str(mailbox)] if mailbox else [])


def _print(outcome: OptOutOutcome, source: str, *, dry_run: bool) -> bool:
    if source != "command line":
        console.print(
            f"Read {outcome.read} message(s) from {source}: {outcome.requests} unsubscribe"
            f" request(s), {len(outcome.bounces)} bounce(s) (see `distrib bounces`),"
            f" {len(outcome.auto_replies)} automatic repl(y/ies),"
            f" {len(outcome.other)} other message(s)",
            markup=False,
        )
    if outcome.problems:
        err.print(f"{len(outcome.problems)} problem(s):", markup=False)
        for problem in outcome.problems:
            err.print(f"  {problem}", markup=False)
        if source == "command line":
            err.print("Nothing was recorded from the command line; fix the addresses first.")
    verb = "Would suppress" if dry_run else "Suppressed"
    for o in outcome.added:
        how = "" if o.how == "typed" else f" ({o.how}, {o.source})"
        console.print(f"{verb} {o.address}{how}", markup=False)
    for o in outcome.already:
        console.print(f"Already unsubscribed: {o.address}", markup=False)
    if outcome.stopped:
        console.print(f"{outcome.stopped} message(s) waiting in a run will not be sent.")
    for source_, subject in outcome.other:
        console.print(f"  other: {source_}: {subject}", markup=False)
    if outcome.flagged:
        console.print(f"Flagged {outcome.flagged} request(s) in the mailbox as recorded.")
    return bool(outcome.problems)


def suppressions(
    fmt: FormatOpt = TableFormat.table,
    output: OutputOpt = None,
    tz: ZoneOpt = None,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """List the delivery log's suppression list: opt-outs and hard bounces, with their dates."""
    from dataclasses import asdict

    from distrib import app
    from distrib.app import clean, format_time, in_zone

    zone = zone_option(tz)
    with open_log(campaign, log, read_only=True) as delivery_log, user_errors():
        entries = app.suppression_list(delivery_log)
    columns = ["address", "reason", "requested_at", "created_at", "source", "note"]
    if fmt is not TableFormat.table:
        emit_table(in_zone([asdict(e) for e in entries], zone), columns, fmt, output)
        return
    if not entries:
        console.print("The suppression list is empty.")
        return
    from rich.table import Table

    table = Table(title=f"Suppression list: {len(entries)} address(es)", title_justify="left")
    for column in ("address", "reason", "dated", "recorded", "source", "note"):
        table.add_column(column, overflow="fold" if column in ("address", "source") else "ellipsis")
    for e in entries:
        table.add_row(
            e.address,
            e.reason,
            format_time(e.requested_at, zone, seconds=False),
            format_time(e.created_at, zone, seconds=False),
            e.source,
            clean(e.note, 60),
        )
    console.print(table, markup=False)
