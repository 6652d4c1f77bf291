"""`distrib send`: show what is about to happen, confirm, send, and report (and `--resume`,
`--test-to`).  Every step is a verb of `distrib.app`; this module shows and asks."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from distrib import app
from distrib.cli._common import (
    CampaignArg,
    ExcludeOpt,
    Exit,
    LogOpt,
    OnlyOpt,
    ReleaseOpt,
    confirm_send,
    console,
    err,
    fail,
    load,
    selection,
    user_errors,
)

if TYPE_CHECKING:
    from datetime import timedelta

    from distrib.app import Campaign, Run, SendPreparation, SendResult, Settled
    from distrib.app import Progress as SendProgress


def register(app: typer.Typer) -> None:
    """Add the send command to ``app``."""
    app.command("send")(send)


def send(
    campaign: CampaignArg = None,
    release: ReleaseOpt = None,
    only: OnlyOpt = None,
    exclude: ExcludeOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Send without asking for confirmation.")
    ] = False,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="Also send to recipients an earlier run of this release already sent to.",
        ),
    ] = False,
    log: LogOpt = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="RUN",
            help="Continue run RUN (an id, or 'latest') after a crash, a stop or a pause.",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="With --resume: go on even if the contacts or templates changed."
        ),
    ] = False,
    join: Annotated[
        bool,
        typer.Option(
            "--join",
            help="With --resume RUN: help the process(es) sending RUN right now (a shared"
            " PostgreSQL log lets other machines join too).",
        ),
    ] = False,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Wait and start at this time, with a time zone: 2027-11-04T09:00-05:00 or"
            " '2027-11-04 09:00 America/Toronto'.",
            show_default=False,
        ),
    ] = None,
    test_to: Annotated[
        str | None,
        typer.Option(
            "--test-to",
            help="Send a test to this address instead: one message per language (not counted"
            " as sent to anyone).",
            show_default=False,
        ),
    ] = None,
    as_contact: Annotated[
        str | None,
        typer.Option(
            "--as", help="With --test-to: send this contact's message.", show_default=False
        ),
    ] = None,
) -> None:
    """Send the release: one message per journalist of its audience, in their language.

    Shows recipients by language and outlet, the audience, what was set aside, and asks before
    sending (--yes skips the question; without a terminal and without --yes, distrib refuses).
    Recipients an earlier run of this release already sent to are skipped unless --resend; the
    delivery log's opt-outs and bounces, from every release, are always honoured.  Refuses to
    start before the release's embargo; --at waits for a given time.  Ctrl-C stops cleanly
    (messages in flight finish); --resume RUN continues (with the --only/--exclude the run was
    started with, unless given again).  Only one process may send a release at a time.  Runs a
    killed process left unfinished are settled first, as --resume would; messages that may have
    arrived (unknown) are never resent: `distrib resolve RUN`.  --resume RUN --join adds a
    worker to a run being sent: each message still goes out once.
    """
    config = load(campaign, release)
    chosen = selection(only, exclude)
    if test_to is not None:
        if resume is not None:
            fail("--test-to and --resume do not go together", Exit.USAGE)
        _test_send(config, test_to, as_contact, log, chosen)
        return
    if as_contact is not None:
        fail("--as needs --test-to (it picks whose message the test send shows)", Exit.USAGE)
    if join and (resume is None or force or only or exclude):
        fail("--join goes with --resume RUN (and without --force, --only or --exclude: a worker"
             " sends the run's own audience)", Exit.USAGE)  # fmt: skip
    if resume is not None:
        go_on = _join if join else _resume
        go_on(config, log, resume, force=force, yes=yes, chosen=chosen)
        return
    if force:
        fail("--force only goes with --resume RUN", Exit.USAGE)
    with user_errors():
        prep = app.prepare_send(config, log=log, resend=resend, at=at, selection=chosen)
    with prep:
        print_settled(prep.settled, config.target, prep)
        _summarise(prep)
        print_unknown(prep.unknown_elsewhere, config.target)
        if prep.start is not None:
            console.print(f"Starting at {prep.start.isoformat()}.")
        if prep.problems:
            err.print(f"\n{len(prep.problems)} message(s) cannot be rendered:", markup=False)
            for problem in prep.problems:
                err.print(f"  {problem}", markup=False)
            fail("nothing was sent; fix these first (`distrib preview` shows every message)")
        if not prep.plan.messages:
            console.print("Nothing to send.")
            # Not done while messages may or may not have arrived: the officer must settle them.
            raise typer.Exit(int(Exit.FAILURES if prep.unknown_total else Exit.OK))
        smtp = config.smtp
        question = f"Send {prep.pending} message(s) via {smtp.host}:{smtp.port} ({smtp.security})?"
        confirm_send(question, yes=yes)
        if prep.start is not None:
            _wait(prep)
        _send(prep)


def print_settled(settled: tuple[Settled, ...], file: str, prep: SendPreparation) -> None:
    """Say which interrupted runs were settled, and what becomes of their unsent messages:
    in the new run, or left in them (when resuming another run)."""
    planned = {m.contact.key for m in prep.plan.messages} if prep.resumption is None else set()
    for s in settled:
        console.print(
            f"Run {s.run.id} had been interrupted: the process sending it ended without a word."
            f"  Settled as `--resume {s.run.id}` would: {s.requeued} back to ready (never reached"
            f" DATA), {s.unknown} now unknown (cut off after DATA began: may have arrived, never"
            " resent automatically).",
            markup=False,
        )
        if not s.pending:
            continue
        resume = f"distrib send {file} --resume {s.run.id}"
        if prep.resumption is not None:
            console.print(
                f"  Its {len(s.pending)} message(s) not sent yet stay in it: {resume} sends them.",
                markup=False,
            )
            continue
        taken = len(s.pending & planned)
        left = len(s.pending) - taken
        others = f", {left} are not (left the lists, suppressed, or sent since)" if left else ""
        console.print(
            f"  Its {len(s.pending)} message(s) not sent yet: {taken} are in this new run{others}."
            f"  To continue run {s.run.id} itself instead: {resume}",
            markup=False,
        )


def print_unknown(unknown: dict[int, int] | Mapping[int, int], file: str) -> None:
    """Name every other run of the campaign with unknown messages: they may or may not have
    arrived, and are never resent automatically."""
    for run, n in unknown.items():
        console.print(
            f"  {n} may have arrived (unknown in run {run}), not resent: settle them with"
            f" `distrib resolve {run} -c {file}`",
            markup=False,
        )


def _summarise(prep: SendPreparation) -> None:
    s = prep.summary
    console.print(f"Campaign {s.campaign}: {s.messages} message(s) to send")
    console.print("  by language: " + ", ".join(f"{k} {v}" for k, v in s.by_language.items()))
    top = ", ".join(f"{k} {v}" for k, v in s.by_outlet)
    more = f", and {s.outlets - len(s.by_outlet)} more" if s.outlets > len(s.by_outlet) else ""
    console.print(f"  by outlet ({s.outlets}): {top}{more}", markup=False)
    if s.audience is not None:
        from distrib.cli.contacts import print_audience

        print_audience(s.audience, indent="  ")
    if s.language_fallbacks:
        console.print(f"  language by fallback ({len(s.language_fallbacks)}):")
        for warning in s.language_fallbacks:
            console.print(f"    {warning}", markup=False)
    maybe = f", {s.maybe_sent} may have arrived (unknown)" if s.maybe_sent else ""
    console.print(
        f"  set aside: {s.rejected} rejected row(s), {s.suppressed} suppressed,"
        f" {s.duplicates} duplicate(s), {s.already_sent} already sent by an earlier run" + maybe
    )
    if s.rejected:
        console.print("  (see `distrib contacts check` for every rejected row)")
    if s.warnings:
        console.print(f"  {s.warnings} warning(s): see `distrib preview --serve`")


def _send(prep: SendPreparation) -> None:
    """Send with a progress bar, then report and exit accordingly."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from distrib.errors import DistribError, RunStoppedError

    def started(run: Run) -> None:
        if prep.resumption is None and prep.joining is None:
            console.print(f"Run {run.id} started (log: {app.log_name(prep.log)})", markup=False)
        counts = prep.log.counts(run.id)
        bar.update(task, total=counts.get("ready", 0) + counts.get("deferred", 0))

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),  # counts, pace and ETA: the elapsed time is below
        console=console,
        disable=not console.is_terminal,
    )
    task = bar.add_task("sending", total=prep.pending, detail="")
    on_progress = _progress_display(bar, task)
    file = prep.campaign.target
    try:
        with bar:
            result = app.send(prep, on_progress=on_progress, on_started=started)
    except RunStoppedError as exc:
        err.print(f"error: {exc}", markup=False)
        run = exc.run.id  # type: ignore[attr-defined]
        err.print(
            f"Run {run} was stopped; nothing more was sent.  What was sent is in the log"
            f" (`distrib report {run}`); running `distrib send` again will not resend it,"
            f" and `distrib send {file} --resume {run}` continues the run.",
            markup=False,
        )
        raise typer.Exit(int(Exit.ERROR)) from None
    except DistribError as exc:  # before the run began: the lease, the log
        with user_errors():
            raise exc from None
    _report(result, file)


def _progress_display(bar: Any, task: Any) -> Callable[[SendProgress], None]:
    """The callback that redraws the bar about ten times a second and says why it stops."""
    meter = RateMeter()
    told: set[str] = set()
    shown = [-1.0]  # when the bar was last redrawn

    def on_progress(p: SendProgress) -> None:
        # Thousands of outcomes a second: redraw ten times a second (and at the end).
        if p.stopping is None and p.done != p.total and p.elapsed - shown[0] < 0.1:
            return
        shown[0] = p.elapsed
        rate, left = meter.update(p.elapsed, p.done, p.total)
        bar.update(task, total=p.total, completed=p.done, detail=progress_text(p, rate, left))
        if p.stopping is not None and p.stopping not in told:
            told.add(p.stopping)
            bar.update(task, description="stopping")
            if p.stopping == app.ABANDON_REASON:
                text = "Stopping at once: messages in flight are abandoned."
            elif p.stopping == app.STOP_REASON:
                text = (
                    "Stopping (Ctrl-C): messages in flight finish, nothing new starts.  Ctrl-C"
                    " again stops at once (a message cut off after its body was sent becomes"
                    " unknown)."
                )
            else:
                text = "Stopping: messages in flight finish, nothing new starts (why: below)."
            bar.console.print(text, markup=False)

    return on_progress


def _report(result: SendResult, file: str) -> None:
    """The run's report, what to do next, and the exit code."""
    from distrib.cli.audit import print_report

    console.print()
    print_report(result.report)
    print_followup(result, file)
    print_unknown(result.unknown_elsewhere, file)
    r = result.engine
    console.print(f"Elapsed {r.elapsed:.1f} s over {r.connections} connection(s).")
    if result.status == "stopped":
        what = "Paused" if r.paused else "Stopped"
        console.print(
            f"{what}: {r.stop_reason or 'interrupted'}.\nTo go on:"
            f" distrib send {file} --resume {result.run.id}",
            markup=False,
        )
        raise typer.Exit(int(Exit.STOPPED))
    if result.status == "failures":
        # The run as a whole, resumed or not; and unknown messages in any run of the campaign.
        raise typer.Exit(int(Exit.FAILURES))


def print_followup(result: SendResult, file: str) -> None:
    """After a run: how to settle unknown messages, and addresses to suppress."""
    run = result.run
    if result.followup.unknown:
        console.print(
            f"{len(result.followup.unknown)} unknown message(s) may or may not have been"
            f" delivered and are never resent automatically: `distrib resolve {run.id} -c {file}`"
            " lists them with their Message-ID, to look up in the relay's logs."
        )
    if result.followup.suggestions:
        console.print(
            f"Suggested for suppression ({len(result.followup.suggestions)}): the server says"
            " these addresses do not exist.  To stop writing to them, paste these lines into a"
            " .txt suppression list named under `suppression` in the campaign file:"
        )
        console.print(result.followup.suppression_file, markup=False, end="")


class RateMeter:
    """Messages per second over the last ``window`` seconds, and the time left at that pace."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self.samples: deque[tuple[float, int]] = deque()

    def update(self, elapsed: float, done: int, total: int | None) -> tuple[float, float | None]:
        """Add a sample; return (rate, seconds left or None when unknown)."""
        self.samples.append((elapsed, done))
        while len(self.samples) > 2 and elapsed - self.samples[0][0] > self.window:
            self.samples.popleft()
        first_t, first_done = self.samples[0]
        span = elapsed - first_t
        rate = (done - first_done) / span if span > 0 else 0.0
        left = None
        if total is not None and rate > 0:
            left = max(0, total - done) / rate
        return rate, left


def progress_text(p: SendProgress, rate: float, left: float | None) -> str:
    """The counts, pace and ETA shown beside the progress bar."""
    counts = f"sent {p.sent} · deferred {p.deferred} · failed {p.failed} · unknown {p.unknown}"
    eta = "ETA -" if left is None else f"ETA {int(left // 3600)}:{int(left % 3600 // 60):02d}"
    if left is not None:
        eta += f":{int(left % 60):02d}"
    return f"{counts} · {rate:.1f}/s · {eta}"


def _wait(prep: SendPreparation) -> None:
    """Count down to the start (Ctrl-C gives up: nothing sent); the embargo is checked again."""
    from rich.control import Control

    assert prep.start is not None

    def tick(remaining: timedelta) -> None:
        if console.is_terminal:  # back to the start of the line (printed text never moves it)
            console.control(Control.move_to_column(0))
            console.print(f"Starting in {app.format_countdown(remaining)} ", end="")

    if not console.is_terminal:
        from datetime import UTC, datetime

        left = app.format_countdown(prep.start - datetime.now(UTC))
        console.print(f"Waiting {left} (until {prep.start.isoformat()}; the machine must stay on)")
    try:
        with user_errors():
            app.wait_for_start(prep, on_tick=tick)
    except KeyboardInterrupt:
        console.print("\nInterrupted while waiting: nothing was sent.")
        raise typer.Exit(int(Exit.STOPPED)) from None
    console.print()


def _join(
    config: Campaign, log: str | None, run: str, *, force: bool, yes: bool, chosen: app.Selection
) -> None:
    """``--resume RUN --join``: help the processes sending the run, as one more worker (with
    the run's own audience: ``chosen`` is not used)."""
    assert not force
    with user_errors():
        prep = app.prepare_join(config, run, log=log)
    with prep:
        joining = prep.joining
        assert joining is not None
        found = joining.run
        who = ", ".join(f"process {w.pid} on {w.host}" for w in joining.workers)
        console.print(
            f"Run {found.id} of {found.campaign} is being sent by {who}: {joining.pending}"
            " message(s) still to send.  This process joins in: each message still goes out"
            " once.",
            markup=False,
        )
        print_unknown(prep.unknown_elsewhere, config.file.name)
        smtp = config.smtp
        confirm_send(
            f"Help send run {found.id} via {smtp.host}:{smtp.port} ({smtp.security})?", yes=yes
        )
        _send(prep)


def _resume(
    config: Campaign,
    log: str | None,
    run: str,
    *,
    force: bool,
    yes: bool,
    chosen: app.Selection,
) -> None:
    """``--resume RUN``: recover, check, confirm, and go on sending the run."""
    with user_errors():
        prep = app.prepare_resume(config, run, force=force, log=log, selection=chosen or None)
    with prep:
        assert prep.resumption is not None
        print_settled(prep.settled, config.target, prep)
        _summarise_resume(prep, config.target)
        print_unknown(prep.unknown_elsewhere, config.target)
        r = prep.resumption
        if r.pending == 0:
            console.print(f"Nothing left to send in run {r.run.id}.")
            counts = prep.log.counts(r.run.id)
            # Not done while messages may or may not have arrived, in any run.
            done = not prep.unknown_total and not counts.get("failed") and not counts.get("unknown")
            raise typer.Exit(int(Exit.OK if done else Exit.FAILURES))
        smtp = config.smtp
        question = (
            f"Send the {r.pending} pending message(s) of run {r.run.id}"
            f" via {smtp.host}:{smtp.port} ({smtp.security})?"
        )
        confirm_send(question, yes=yes)
        _send(prep)


def _summarise_resume(prep: SendPreparation, campaign_file: str) -> None:
    r = prep.resumption
    assert r is not None
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
    if r.unknown_in_run:
        console.print(
            f"  {r.unknown_in_run} unknown message(s) are not resent: see `distrib resolve"
            f" {run.id} -c {campaign_file}`"
        )


def _test_send(
    config: Campaign, to: str, as_contact: str | None, log: str | None, chosen: app.Selection
) -> None:
    """Send the test message(s) to the officer and say what was sent."""
    from distrib.errors import SendError

    with user_errors():
        delivery_log = app.open_log(log=log or config.log_target, create=True)
    with delivery_log, user_errors():
        try:
            outcome = app.test_send(
                config, delivery_log, to, as_contact=as_contact, selection=chosen
            )
        except SendError as exc:
            fail(f"{exc}; the test was not sent")
    for row in outcome.rows:
        console.print(
            f"  {row.status:8} {row.language:4} {row.subject}  ({row.note})", markup=False
        )
    sent = sum(row.status == "test" for row in outcome.rows)
    console.print(
        f"Test run {outcome.run.id}: {sent} of {len(outcome.rows)} test message(s) sent to {to};"
        " not counted as sent to any contact."
    )
    if sent < len(outcome.rows):
        raise typer.Exit(int(Exit.FAILURES))
