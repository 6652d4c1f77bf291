"""`distrib send`: show what is about to happen, confirm, send, and report."""

from __future__ import annotations

from collections import Counter, deque
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import (
    CampaignArg,
    Exit,
    LogOpt,
    confirm_send,
    console,
    err,
    fail,
    load,
    user_errors,
)

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from distrib.config import Campaign
    from distrib.deliverylog import DeliveryLog, Run
    from distrib.deliverylog.lease import Lease
    from distrib.pipeline import Plan
    from distrib.resume import Settled
    from distrib.send import Progress as SendProgress


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
    """Send the campaign: one message per journalist, in their language.

    Shows recipients by language and outlet, what was set aside, and asks before sending (--yes
    skips the question; without a terminal and without --yes, distrib refuses).  Recipients an
    earlier run already sent to are skipped unless --resend.  Refuses to start before the
    release's embargo; --at waits for a given time.  Ctrl-C stops cleanly (messages in flight
    finish); --resume RUN continues.  Only one process may send a campaign at a time.  Runs a
    killed process left unfinished are settled first, as --resume would; messages that may have
    arrived (unknown) are never resent: `distrib resolve RUN`.  --resume RUN --join adds a
    worker to a run being sent: each message still goes out once.
    """
    from distrib.deliverylog import open_log
    from distrib.pipeline import make_plan
    from distrib.resume import settle_interrupted

    config = load(campaign)
    if test_to is not None:
        if resume is not None:
            fail("--test-to and --resume do not go together", Exit.USAGE)
        _test_send(config, test_to, as_contact, log)
        return
    if as_contact is not None:
        fail("--as needs --test-to (it picks whose message the test send shows)", Exit.USAGE)
    if join and (resume is None or force):
        fail("--join goes with --resume RUN (and without --force)", Exit.USAGE)
    if resume is not None:
        from distrib.cli.resume import join_run, resume_run

        if join:
            join_run(config, log, resume, yes=yes)
        else:
            resume_run(config, log, resume, force=force, yes=yes)
        return
    if force:
        fail("--force only goes with --resume RUN", Exit.USAGE)
    with user_errors():
        delivery_log = open_log(log or config.log_target)
    with delivery_log:
        with user_errors():
            # Runs a killed process left unfinished: settled before planning (sending → ready,
            # data → unknown), so that nothing stays "in data" for ever, counted as sent.
            settled = settle_interrupted(delivery_log, config.name)
            plan = make_plan(config, log=delivery_log, resend=resend)
        print_settled(settled, config.file.name, plan)
        _summarise(plan)
        unknown = print_unknown(delivery_log, config)
        start = _start_time(plan, at)
        if plan.problems:
            err.print(f"\n{len(plan.problems)} message(s) cannot be rendered:", markup=False)
            for problem in plan.problems:
                err.print(f"  {problem}", markup=False)
            fail("nothing was sent; fix these first (`distrib preview` shows every message)")
        if not plan.messages:
            console.print("Nothing to send.")
            # Not done while messages may or may not have arrived: the officer must settle them.
            raise typer.Exit(int(Exit.FAILURES if unknown else Exit.OK))
        smtp = config.smtp
        question = (
            f"Send {len(plan.messages)} message(s) via {smtp.host}:{smtp.port} ({smtp.security})?"
        )
        confirm_send(question, yes=yes)
        if start is not None:
            _wait(plan, start)
        _send(plan, delivery_log)


def print_settled(settled: tuple[Settled, ...], file: str, new_run: Plan | None) -> None:
    """Say which interrupted runs were settled, and what becomes of their unsent messages:
    in ``new_run`` (a new `send`) or left in them (None: resuming another run)."""
    planned = {m.contact.key for m in new_run.messages} if new_run is not None else set()
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
        if new_run is None:
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


def print_unknown(log: DeliveryLog, config: Campaign, *, besides: int | None = None) -> int:
    """Name every run of the campaign with unknown messages (besides run ``besides``): they may
    or may not have arrived, and are never resent automatically.  Return how many in all."""
    from distrib.deliverylog.runs import unresolved_unknown

    found = unresolved_unknown(log, config.name)
    for run, n in found.items():
        if run != besides:
            console.print(
                f"  {n} may have arrived (unknown in run {run}), not resent: settle them with"
                f" `distrib resolve {run} -c {config.file.name}`",
                markup=False,
            )
    return sum(found.values())


def _summarise(plan: Plan) -> None:
    book = plan.book
    console.print(f"Campaign {plan.campaign.name}: {len(plan.messages)} message(s) to send")
    languages = Counter(m.language for m in plan.messages)
    console.print("  by language: " + ", ".join(f"{k} {v}" for k, v in sorted(languages.items())))
    outlets = Counter(m.contact.outlet or "(no outlet)" for m in plan.messages)
    top = ", ".join(f"{k} {v}" for k, v in outlets.most_common(8))
    more = f", and {len(outlets) - 8} more" if len(outlets) > 8 else ""
    console.print(f"  by outlet ({len(outlets)}): {top}{more}", markup=False)
    maybe = f", {len(plan.maybe_sent)} may have arrived (unknown)" if plan.maybe_sent else ""
    console.print(
        f"  set aside: {len(book.rejected)} rejected row(s), {len(book.suppressed)} suppressed,"
        f" {len(book.duplicates)} duplicate(s), {len(plan.skipped)} already sent by an earlier run"
        + maybe
    )
    if book.rejected:
        console.print("  (see `distrib contacts check` for every rejected row)")
    if plan.warnings:
        console.print(f"  {len(plan.warnings)} warning(s): see `distrib preview --serve`")


def _send(plan: Plan, delivery_log: DeliveryLog) -> None:
    from distrib.deliverylog.lease import acquire_lease
    from distrib.pipeline import start_run

    with user_errors():
        # Before the run exists: a second process is refused without leaving a run behind.
        lease = acquire_lease(delivery_log, plan.campaign.name)
    with lease:
        with user_errors():
            run = start_run(plan, delivery_log)
        console.print(f"Run {run.id} started (log: {_where(delivery_log)})", markup=False)
        send_with_progress(plan, delivery_log, run, lease)


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


def send_with_progress(
    plan: Plan, delivery_log: DeliveryLog, run: Run, lease: Lease | None
) -> None:
    """Send ``run`` under ``lease`` (None: join the processes sending it) with a progress bar,
    then report and exit accordingly."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from distrib.audit import report
    from distrib.cli.audit import print_report
    from distrib.cli.resolve import print_followup
    from distrib.errors import DistribError
    from distrib.pipeline import send_run
    from distrib.send import ABANDON_REASON, STOP_REASON

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),  # counts, pace and ETA: the elapsed time is below
        console=console,
        disable=not console.is_terminal,
    )
    counts = delivery_log.counts(run.id)
    task = bar.add_task("sending", total=counts.get("ready", 0) + counts.get("deferred", 0),
                        detail="")  # fmt: skip
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
            if p.stopping == ABANDON_REASON:
                text = "Stopping at once: messages in flight are abandoned."
            elif p.stopping == STOP_REASON:
                text = (
                    "Stopping (Ctrl-C): messages in flight finish, nothing new starts.  Ctrl-C"
                    " again stops at once (a message cut off after its body was sent becomes"
                    " unknown)."
                )
            else:
                text = "Stopping: messages in flight finish, nothing new starts (why: below)."
            bar.console.print(text, markup=False)

    try:
        with bar:
            outcome = send_run(
                plan, delivery_log, run, on_progress=on_progress, lease=lease, join=lease is None
            )
    except DistribError as exc:
        err.print(f"error: {exc}", markup=False)
        err.print(
            f"Run {run.id} was stopped; nothing more was sent.  What was sent is in the log"
            f" (`distrib report {run.id}`); running `distrib send` again will not resend it,"
            f" and `distrib send {plan.campaign.file.name} --resume {run.id}` continues the run.",
            markup=False,
        )
        raise typer.Exit(int(Exit.ERROR)) from None
    console.print()
    outcome_report = report(delivery_log, outcome.run)
    print_report(outcome_report)
    print_followup(delivery_log, outcome.run, plan.campaign.file.name)
    unknown = print_unknown(delivery_log, plan.campaign, besides=run.id)
    r = outcome.report
    console.print(f"Elapsed {r.elapsed:.1f} s over {r.connections} connection(s).")
    if r.stopped:
        what = "Paused" if r.paused else "Stopped"
        console.print(
            f"{what}: {r.stop_reason or 'interrupted'}.\nTo go on:"
            f" distrib send {plan.campaign.file.name} --resume {run.id}",
            markup=False,
        )
        raise typer.Exit(int(Exit.STOPPED))
    if unknown or any(outcome_report.by_state.get(s, 0) for s in ("failed", "deferred")):
        # The run as a whole, resumed or not; and unknown messages in any run of the campaign.
        raise typer.Exit(int(Exit.FAILURES))


def _start_time(plan: Plan, at: str | None) -> datetime | None:
    """Return when to start (None: now); refuse a start before the release's embargo."""
    from distrib.schedule import EmbargoError, Schedule, embargo_of, parse_time, utc_now

    try:
        when = parse_time(at) if at is not None else None
        schedule = Schedule(embargo=embargo_of(plan.renderer.release), at=when)
        start = schedule.start_time(utc_now())
    except EmbargoError as exc:
        fail(f"{exc}; nothing was sent")
    if when is None or start <= utc_now():
        return None
    console.print(f"Starting at {start.isoformat()}.")
    return start


def _wait(plan: Plan, start: datetime) -> None:
    """Count down to ``start`` (Ctrl-C gives up: nothing sent), then check the embargo again."""
    from distrib.schedule import (
        EmbargoError,
        check_embargo,
        embargo_of,
        format_countdown,
        utc_now,
        wait_until,
    )

    def tick(remaining: timedelta) -> None:
        if console.is_terminal:
            console.print(f"\rStarting in {format_countdown(remaining)} ", end="")

    if not console.is_terminal:
        console.print(f"Waiting {format_countdown(start - utc_now())} (until {start.isoformat()})")
    try:
        wait_until(start, on_tick=tick)
    except KeyboardInterrupt:
        console.print("\nInterrupted while waiting: nothing was sent.")
        raise typer.Exit(int(Exit.STOPPED)) from None
    console.print()
    try:
        check_embargo(embargo_of(plan.renderer.release), utc_now())
    except EmbargoError as exc:
        fail(f"{exc}; nothing was sent")


def _where(delivery_log: DeliveryLog) -> str:
    """The log for people: a file relative to here when it can be, or the URL (no password)."""
    from pathlib import Path

    from distrib.config import display_path
    from distrib.deliverylog import is_url

    where = delivery_log.where
    return where if is_url(where) else display_path(Path(where).resolve())


def _test_send(config: Campaign, to: str, as_contact: str | None, log: str | None) -> None:
    """Send the test message(s) to the officer and say what was sent."""
    from distrib.deliverylog import open_log
    from distrib.errors import SendError
    from distrib.testsend import send_tests

    with user_errors():
        delivery_log = open_log(log or config.log_target)
    with delivery_log, user_errors():
        try:
            outcome = send_tests(config, delivery_log, to, as_contact=as_contact)
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
