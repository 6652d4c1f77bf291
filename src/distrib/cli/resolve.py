"""`distrib resolve`: list a run's unknown messages, and record the officer's decision on them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import CampaignOpt, Exit, LogOpt, console, fail, open_log, user_errors

if TYPE_CHECKING:
    from distrib.app import DeliveryLog, Run

RunArg = Annotated[str, typer.Argument(help="Run id (see `distrib runs`), or 'latest'.")]


def register(app: typer.Typer) -> None:
    """Add the resolve command to ``app``."""
    app.command("resolve")(resolve_command)


def resolve_command(
    run: RunArg,
    addresses: Annotated[
        list[str] | None,
        typer.Argument(help="Recipient addresses to resolve.", show_default=False),
    ] = None,
    mark_sent: Annotated[
        bool,
        typer.Option("--mark-sent", help="The relay's log shows they were accepted: sent."),
    ] = False,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Send them again with `distrib send --resume RUN` (unknown or failed ones).",
        ),
    ] = False,
    mark_failed: Annotated[
        bool, typer.Option("--mark-failed", help="They were not delivered: failed.")
    ] = False,
    every: Annotated[bool, typer.Option("--all", help="Every unknown message of the run.")] = False,
    note: Annotated[
        str | None,
        typer.Option("--note", "-n", help="Why (required; kept in the log with who and when)."),
    ] = None,
    campaign: CampaignOpt = None,
    log: LogOpt = None,
) -> None:
    """Settle a run's unknown messages (cut off after DATA began: maybe delivered, maybe not).

    Without an action, lists them with their Message-ID, to look up in the relay's logs.  Then
    --mark-sent, --resend or --mark-failed the addresses (or --all), with a --note.  distrib
    never resends an unknown message unless told to here.
    """
    from distrib import app

    actions = [
        name
        for name, chosen in (
            ("mark-sent", mark_sent),
            ("resend", resend),
            ("mark-failed", mark_failed),
        )
        if chosen
    ]
    if len(actions) > 1:
        fail("choose one of --mark-sent, --resend, --mark-failed", Exit.USAGE)
    if not actions:
        if addresses or every or note:
            fail("say what to do: --mark-sent, --resend or --mark-failed", Exit.USAGE)
        # Only listing: the log is opened read-only.
        with open_log(campaign, log, read_only=True) as delivery_log, user_errors():
            _list_unknown(delivery_log, app.find_run(delivery_log, run))
        return
    if not addresses and not every:
        fail("name the addresses to resolve, or pass --all", Exit.USAGE)
    action = actions[0]
    with open_log(campaign, log) as delivery_log, user_errors():
        found = app.find_run(delivery_log, run)
        done = app.resolve_unknown(
            delivery_log,
            found,
            addresses or [],
            action,  # type: ignore[arg-type]  # one of the three literals above
            note=note or "",
            every=every,
        )
    verb = {
        "mark-sent": "marked sent",
        "resend": "set to be sent again",
        "mark-failed": "marked failed",
    }
    console.print(f"Run {found.id}: {len(done)} message(s) {verb[action]}:")
    for m in done:
        console.print(f"  {m.recipient}  (was {m.status})  [{m.message_id}]", markup=False)
    console.print("The note, who and when are kept in the log.")
    if action == "resend":
        console.print(f"Send them with: distrib send CAMPAIGN --resume {found.id}")


def _list_unknown(log: DeliveryLog, run: Run) -> None:
    from distrib import app

    unknown = app.unknown_messages(log, run)
    if not unknown:
        console.print(f"Run {run.id} has no unknown message.")
        return
    console.print(
        f"Run {run.id}: {len(unknown)} unknown message(s): the connection was lost after the"
        " message began, so it may or may not have been delivered.  Look each Message-ID up in"
        " the relay's logs:"
    )
    for u in unknown:
        a = u.attempt
        when = f"{a.started_at} via {a.server}" if a is not None else "-"
        console.print(f"  {u.message.recipient}  {u.message.message_id}  {when}", markup=False)
        if u.message.reply_text:
            console.print(f"      {u.message.reply_text}", markup=False)
    console.print(
        f"Then: distrib resolve {run.id} --mark-sent|--resend|--mark-failed ADDRESS…"
        ' --note "what the relay log says"'
    )
