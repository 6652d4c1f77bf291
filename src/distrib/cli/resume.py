"""`distrib send CAMPAIGN --resume RUN [--join]`: recover, check, confirm, and go on sending the
run; or join the processes sending it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from distrib.cli._common import Exit, confirm_send, console, user_errors

if TYPE_CHECKING:
    from distrib.config import Campaign
    from distrib.resume import Resumption


def resume_run(config: Campaign, log: str | None, run: str, *, force: bool, yes: bool) -> None:
    """Resume ``run`` of ``config`` (see `distrib.resume`)."""
    from distrib.cli.send import print_settled, print_unknown, send_with_progress
    from distrib.deliverylog import open_log
    from distrib.resume import prepare_resume

    with user_errors():
        delivery_log = open_log(log or config.log_target, create=False)
    with delivery_log:
        with user_errors():
            resumption = prepare_resume(config, delivery_log, run, force=force)
        with resumption.lease:
            print_settled(resumption.settled, config.file.name, None)
            _summarise(resumption, config.file.name)
            unknown = print_unknown(delivery_log, config, besides=resumption.run.id)
            plan = resumption.plan
            if resumption.pending == 0:
                console.print(f"Nothing left to send in run {resumption.run.id}.")
                counts = delivery_log.counts(resumption.run.id)
                # Not done while messages may or may not have arrived, in any run.
                done = not unknown and not counts.get("failed")
                raise typer.Exit(int(Exit.OK if done else Exit.FAILURES))
            smtp = config.smtp
            question = (
                f"Send the {resumption.pending} pending message(s) of run {resumption.run.id}"
                f" via {smtp.host}:{smtp.port} ({smtp.security})?"
            )
            confirm_send(question, yes=yes)
            send_with_progress(plan, delivery_log, resumption.run, resumption.lease)


def join_run(config: Campaign, log: str | None, run: str, *, yes: bool) -> None:
    """Join the processes sending ``run`` of ``config`` (see `distrib.resume.prepare_join`)."""
    from distrib.cli.send import send_with_progress
    from distrib.deliverylog import open_log
    from distrib.resume import prepare_join

    with user_errors():
        delivery_log = open_log(log or config.log_target, create=False)
    with delivery_log:
        with user_errors():
            joining = prepare_join(config, delivery_log, run)
        found = joining.run
        who = ", ".join(f"process {w.pid} on {w.host}" for w in joining.workers)
        console.print(
            f"Run {found.id} of {found.campaign} is being sent by {who}: {joining.pending}"
            " message(s) still to send.  This process joins in: each message still goes out"
            " once.",
            markup=False,
        )
        smtp = config.smtp
        question = f"Help send run {found.id} via {smtp.host}:{smtp.port} ({smtp.security})?"
        confirm_send(question, yes=yes)
        send_with_progress(joining.plan, delivery_log, found, None)


def _summarise(r: Resumption, campaign_file: str) -> None:
    run, found = r.run, r.found
    # Still "sending" in the log: the process that sent it ended without saying so.
    status = "interrupted while sending" if found.status == "sending" else found.status
    note = f": {found.note}" if found.note else ""
    console.print(f"Run {run.id} of {run.campaign} ({status}{note})", markup=False)
    if r.requeued or r.unknown:
        console.print(
            f"  recovered after an interruption: {r.requeued} back to ready (never reached"
            f" DATA), {r.unknown} now unknown (cut off after DATA began)"
        )
    if r.sent_elsewhere:
        console.print(
            f"  {r.sent_elsewhere} pending message(s) skipped: another run of the campaign"
            " sent them since"
        )
    if r.changes:
        console.print("  changed since it was planned (--force):")
        for problem in r.changes:
            console.print(f"    {problem}", markup=False)
        console.print(
            f"  {r.set_aside} pending message(s) set aside, {r.replanned} re-planned with the"
            " current content"
        )
    later = ""
    if r.not_due:
        later = f", {r.not_due} deferred until their retry time (first at {r.next_due})"
    console.print(f"  to send: {r.pending} message(s){later}")
    from distrib.deliverylog import State

    unknown_count = len(r.lease.log.messages(run.id, states=[State.UNKNOWN]))
    if unknown_count:
        console.print(
            f"  {unknown_count} unknown message(s) are not resent: see `distrib resolve"
            f" {run.id} -c {campaign_file}`"
        )
