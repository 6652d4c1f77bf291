"""`distrib replies [RELEASE]`: record who answered which release, a person or an automatic
reply, from the workspace's mailbox (``[mailbox]``) or the mailboxes and files named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from distrib.app import gettext as _
from distrib.cli._common import CampaignArg, LogOpt, ReleaseOpt, console, open_log, user_errors
from distrib.cli.bounces import DryRunOpt
from distrib.cli.relay import ImapCaFileOpt, ImapPasswordEnvOpt

if TYPE_CHECKING:
    from distrib.app import ReplyOutcome

MailboxesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mailbox",
        "-m",
        help="Where the replies are: an IMAP folder (imaps://USER@HOST/FOLDER), a Maildir, an"
        " mbox file, a message file or a folder of .eml files; repeatable (default: the"
        " settings' [mailbox]).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add the replies command to ``app``."""
    app.command("replies")(replies)


def replies(
    target: CampaignArg = None,
    release: ReleaseOpt = None,
    mailbox: MailboxesOpt = None,
    dry_run: DryRunOpt = False,
    log: LogOpt = None,
    imap_password_env: ImapPasswordEnvOpt = None,
    imap_ca_file: ImapCaFileOpt = None,
) -> None:
    """Record the replies journalists sent, matched to the message each answers.

    A reply is matched by its In-Reply-To and References to the Message-IDs of the log, else
    by its From address (the latest message sent to it; of RELEASE when one is named, else of
    any release).  Out-of-office and other automatic replies are recorded as automatic.
    Replies show in `distrib contacts history` and in the run's report.  Files are only read;
    on IMAP, the replies recorded get the keyword $DistribProcessed.  Reading again records
    nothing twice.
    """
    from distrib import app

    with user_errors():
        scope = app.replies_scope(
            target, release, mailbox or [], password_env=imap_password_env, ca_file=imap_ca_file
        )
    with open_log(target, log) as delivery_log, user_errors():
        outcome = app.read_replies(delivery_log, scope, dry_run=dry_run)
    print_outcome(outcome, ", ".join(scope.mailboxes), dry_run=dry_run)


def print_outcome(outcome: ReplyOutcome, where: str, *, dry_run: bool) -> None:
    """Account for every message read, then list the replies recorded and what was left."""
    from rich.table import Table

    new = [r for r in outcome.recorded if r.new]
    people = outcome.count(automatic=False)
    automatic = outcome.count(automatic=True)
    console.print(
        _("Read {read} message(s) from {where}").format(read=outcome.read, where=where),
        markup=False,
    )
    verb = _("Would record") if dry_run else _("Recorded")
    line = _("{verb} {count} repl(y/ies): {people} from people, {automatic} automatic").format(
        verb=verb, count=len(new), people=people, automatic=automatic
    )
    again = len(outcome.recorded) - len(new)
    if again:
        line += _("; {again} already recorded earlier").format(again=again)
    console.print(line, markup=False)
    if outcome.bounces:
        console.print(
            _("{n} bounce(s), not handled here: run `distrib bounces`").format(
                n=len(outcome.bounces)
            ),
            markup=False,
        )
    if outcome.unsubscribes:
        console.print(
            _("{n} unsubscribe request(s), not handled here: run `distrib unsubscribe`").format(
                n=len(outcome.unsubscribes)
            ),
            markup=False,
        )
    if outcome.flagged:
        console.print(
            _("Flagged {n} message(s) in the mailbox as recorded ($DistribProcessed)").format(
                n=outcome.flagged
            ),
            markup=False,
        )
    if new:
        table = Table(title=_("Replies"), title_justify="left")
        for column in (_("from"), _("release"), _("run"), _("kind"), _("subject"), _("matched by")):
            table.add_column(column, overflow="fold")
        for r in new:
            kind = _("automatic") if r.automatic else _("person")
            table.add_row(r.sender, r.campaign, str(r.run_id), kind, r.subject, r.matched_by)
        console.print(table, markup=False)
    if outcome.unmatched:
        console.print(
            _("Answering no message of the log, left in the mailbox ({n}):").format(
                n=len(outcome.unmatched)
            ),
            markup=False,
        )
        for source, why in outcome.unmatched:
            console.print(f"  {source}: {why}", markup=False)
