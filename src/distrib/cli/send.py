"""`distrib send`: show what is about to happen, confirm, send, and report."""

from __future__ import annotations

import sys
from collections import Counter, deque
from typing import TYPE_CHECKING, Annotated

import typer

from distrib.cli._common import CampaignArg, Exit, LogOpt, console, err, fail, load, user_errors

if TYPE_CHECKING:
    from distrib.deliverylog import DeliveryLog, Run
    from distrib.deliverylog.lease import Lease
    from distrib.pipeline import Plan
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
) -> None:
    """Send the campaign: one message per journalist, in their language.

    Shows recipients by language and outlet, what was set aside, and asks before sending (--yes
    skips the question; without a terminal and without --yes, distrib refuses).  Recipients an
    earlier run already sent to are skipped unless --resend.  Ctrl-C stops cleanly (messages in
    flight finish); --resume RUN continues.  Only one process may send a campaign at a time.
    """
    from distrib.deliverylog import DeliveryLog
    from distrib.pipeline import make_plan

    config = load(campaign)
    if resume is not None:
        from distrib.cli.resume import resume_run

        resume_run(config, log, resume, force=force, yes=yes)
        return
    if force:
        fail("--force only goes with --resume RUN", Exit.USAGE)
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
    from distrib.deliverylog.lease import acquire_lease
    from distrib.pipeline import start_run

    with user_errors():
        # Before the run exists: a second process is refused without leaving a run behind.
        lease = acquire_lease(delivery_log, plan.campaign.name)
    with lease:
        with user_errors():
            run = start_run(plan, delivery_log)
        console.print(f"Run {run.id} started (log: {delivery_log.path})")
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


def send_with_progress(plan: Plan, delivery_log: DeliveryLog, run: Run, lease: Lease) -> None:
    """Send ``run`` under ``lease`` with a progress bar, then report and exit accordingly."""
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
    task = bar.add_task("sending", total=len(delivery_log.pending(run.id)), detail="")
    meter = RateMeter()
    told: set[str] = set()

    def on_progress(p: SendProgress) -> None:
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
            outcome = send_run(plan, delivery_log, run, on_progress=on_progress, lease=lease)
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
    if any(outcome_report.by_state.get(s, 0) for s in ("failed", "deferred", "unknown")):
        raise typer.Exit(int(Exit.FAILURES))  # the run as a whole, resumed or not
