"""`distrib send`: show what is about to happen, confirm, send, and report."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import CampaignArg, Exit, LogOpt, console, err, fail, load, user_errors

if TYPE_CHECKING:
    from distrib.deliverylog import DeliveryLog
    from distrib.pipeline import Plan


def register(app: typer.Typer) -> None:
    """Add the send command to ``app``."""
    app.command("send")(send)


def send(
    campaign: CampaignArg,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Send without asking for confirmation.")
    ] = False,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Also send to recipients an earlier run of this campaign already sent to.",
        ),
    ] = False,
    log: LogOpt = None,
) -> None:
    """Send the campaign: one message per journalist, in their language.

    Shows recipients by language and outlet, what was set aside, and asks before sending (--yes
    skips the question; without a terminal and without --yes, distrib refuses).  Recipients an
    earlier run already sent to are skipped unless --resend.
    """
    from distrib.deliverylog import DeliveryLog
    from distrib.pipeline import make_plan

    config = load(campaign)
    with user_errors():
        delivery_log = DeliveryLog.open(log or config.log_path)
        plan = make_plan(config, log=delivery_log, resend=resend)
    with delivery_log:
        _summarise(plan)
        if plan.problems:
            err.print(f"\n{len(plan.problems)} message(s) cannot be rendered:", markup=False)
            for problem in plan.problems:
                err.print(f"  {problem}", markup=False)
            fail("nothing was sent; fix these first (`distrib preview` shows every message)")
        if not plan.messages:
            console.print("Nothing to send.")
            raise typer.Exit(int(Exit.OK))
        smtp = config.smtp
        question = (
            f"Send {len(plan.messages)} message(s) via {smtp.host}:{smtp.port} ({smtp.security})?"
        )
        if not yes:
            if not sys.stdin.isatty():
                fail(
                    "refusing to send without confirmation: run in a terminal or pass --yes",
                    Exit.USAGE,
                )
            if not typer.confirm(question, default=False):
                console.print("Nothing was sent.")
                raise typer.Exit(int(Exit.OK))
        _send(plan, delivery_log)


def _summarise(plan: Plan) -> None:
    book = plan.book
    console.print(f"Campaign {plan.campaign.name}: {len(plan.messages)} message(s) to send")
    languages = Counter(m.language for m in plan.messages)
    console.print("  by language: " + ", ".join(f"{k} {v}" for k, v in sorted(languages.items())))
    outlets = Counter(m.contact.outlet or "(no outlet)" for m in plan.messages)
    top = ", ".join(f"{k} {v}" for k, v in outlets.most_common(8))
    more = f", and {len(outlets) - 8} more" if len(outlets) > 8 else ""
    console.print(f"  by outlet ({len(outlets)}): {top}{more}", markup=False)
    console.print(
        f"  set aside: {len(book.rejected)} rejected row(s), {len(book.suppressed)} suppressed,"
        f" {len(book.duplicates)} duplicate(s), {len(plan.skipped)} already sent by an earlier run"
    )
    if book.rejected:
        console.print("  (see `distrib contacts check` for every rejected row)")


def _send(plan: Plan, delivery_log: DeliveryLog) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from distrib.audit import report
    from distrib.cli.audit import print_report
    from distrib.config import display_path
    from distrib.errors import SendError
    from distrib.pipeline import send_run, start_run
    from distrib.send import Progress as SendProgress

    with user_errors():
        run = start_run(plan, delivery_log)
    console.print(f"Run {run.id} started (log: {display_path(delivery_log.path.resolve())})")
    bar = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = bar.add_task("send", total=len(plan.messages), detail="")

    def on_progress(p: SendProgress) -> None:
        done = p.sent + p.failed + p.unknown
        detail = f"sent {p.sent} · deferred {p.deferred} · failed {p.failed} · unknown {p.unknown}"
        bar.update(task, completed=done, detail=detail)

    try:
        with bar:
            outcome = send_run(plan, delivery_log, run, on_progress=on_progress)
    except SendError as exc:
        err.print(f"error: {exc}", markup=False)
        err.print(
            f"Run {run.id} was stopped; nothing more was sent.  What was sent is in the log"
            f" (`distrib report {run.id}`); running `distrib send` again will not resend it.",
            markup=False,
        )
        raise typer.Exit(int(Exit.ERROR)) from None
    console.print()
    print_report(report(delivery_log, outcome.run))
    r = outcome.report
    console.print(f"Elapsed {r.elapsed:.1f} s over {r.connections} connection(s).")
    if r.stopped:
        console.print(
            f"Stopped: {r.stop_reason or 'interrupted'}.  Run `distrib send` again to go on."
        )
        raise typer.Exit(int(Exit.STOPPED))
    if r.failed or r.deferred or r.unknown:
        raise typer.Exit(int(Exit.FAILURES))
