"""`distrib send`: show what is about to happen, confirm, send, and report (and `--resume`,
`--test-to`).  Every step is a verb of `distrib.app`; this module shows and asks."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from distrib import app
from distrib.app import gettext as _
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
    from collections.abc import Sequence
    from datetime import timedelta

    from distrib.app import (
        Campaign,
        ProblemGroup,
        QuotaWait,
        Run,
        SendPreparation,
        SendResult,
        Settled,
    )
    from distrib.app import Progress as SendProgress
    from distrib.errors import Problem

#: A quota wait at least this long (seconds) is also printed on a line of its own.
QUOTA_LINE = 60.0


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
    drop_embargo: Annotated[
        bool,
        typer.Option(
            "--drop-embargo",
            help="The release's embargo has passed: send without the embargo notice (the"
            " messages read as an immediate release; the run records it).",
        ),
    ] = False,
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
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="When the relay's quota (per_minute, per_hour, per_day, counted over every"
            " run of the log) is reached, wait for room instead of pausing the run.",
        ),
    ] = False,
) -> None:
    """Send the release: one message per journalist of its audience, in their language.

    Shows the sender, each language's label, subject and title, recipients by language and
    outlet, the audience, what was set aside, and asks before sending (--yes skips the
    question; without a terminal and without --yes, distrib refuses).  Recipients an earlier
    run of this release already sent to are skipped unless --resend; the delivery log's
    opt-outs and bounces, from every release, are always honoured.  An embargoed release is
    sent before its embargo, with the notice; after it, distrib refuses unless --drop-embargo.
    --at (or hold_until in the release) waits for a given time; the machine must stay on.
    Ctrl-C stops cleanly (messages in flight finish); --resume RUN continues (with the
    --only/--exclude the run was started with, unless given again).  Only one process may send
    a release at a time.  Runs a killed process left unfinished are settled first, as --resume
    would; messages that may have arrived (unknown) are never resent: `distrib resolve RUN`.
    --resume RUN --join adds a worker to a run being sent: each message still goes out once.
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
    if join and (resume is None or force or only or exclude or drop_embargo):
        fail("--join goes with --resume RUN (and without --force, --only, --exclude or"
             " --drop-embargo: a worker sends the run as it was started)", Exit.USAGE)  # fmt: skip
    if resume is not None:
        if join:
            _join(config, log, resume, force=force, yes=yes, chosen=chosen, wait=wait)
        else:
            _resume(
                config, log, resume, force=force, yes=yes, chosen=chosen,
                drop_embargo=drop_embargo, wait=wait,
            )  # fmt: skip
        return
    if force:
        fail("--force only goes with --resume RUN", Exit.USAGE)
    with user_errors():
        prep = app.prepare_send(
            config, log=log, resend=resend, at=at, drop_embargo=drop_embargo, selection=chosen
        )
    with prep:
        print_settled(prep.settled, config.target, prep)
        _summarise(prep)
        print_unknown(prep.unknown_elsewhere, config.target)
        if prep.start is not None:
            console.print(_("Starting at {time}.").format(time=prep.start.isoformat()))
        if prep.problems:
            print_problems(prep.problems)
            fail(_("nothing was sent; fix these first (`distrib preview` shows every message)"))
        if not prep.plan.messages:
            console.print(_("Nothing to send."))
            # Not done while messages may or may not have arrived: the officer must settle them.
            raise typer.Exit(int(Exit.FAILURES if prep.unknown_total else Exit.OK))
        summary = prep.summary
        question = _("Send {n} message(s) from {sender} via {relay} ({security})?").format(
            n=prep.pending,
            sender=config.sender.address,
            relay=summary.relay,
            security=security_text(summary.security),
        )
        confirm_send(question, yes=yes)
        if prep.start is not None:
            _wait(prep)
        _send(prep, wait=wait)


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


def security_text(security: str) -> str:
    """How the connection to the relay is protected, in words."""
    texts = {
        "none": _("not encrypted: for a local capture server only"),
        "starttls": _("encrypted: STARTTLS, required"),
        "tls": _("encrypted: TLS"),
    }
    return texts.get(security, security)


def print_problems(problems: Sequence[Problem]) -> None:
    """Every problem that blocks the send: one line per distinct problem, with how many
    messages it stops and up to three of them."""
    groups = app.group_problems(problems)
    err.print(
        "\n" + _("{n} message(s) cannot be rendered:").format(n=len(problems)),
        markup=False,
    )
    for group in groups:
        err.print(f"  {problem_line(group)}", markup=False)


def problem_line(group: ProblemGroup) -> str:
    """One group of identical problems: the problem, then where (all of it, for one)."""
    if group.count == 1:
        return str(group.examples[0]) if group.examples else group.message
    shown = ", ".join(group.where_examples)
    more = "" if group.count <= len(group.where_examples) else ", …"
    return _("{problem}  ({n} messages, e.g. {where})").format(
        problem=group.message, n=group.count, where=shown + more
    )


def _summarise(prep: SendPreparation) -> None:
    s = prep.summary
    console.print(
        _("Campaign {campaign}: {n} message(s) to send").format(campaign=s.campaign, n=s.messages),
        markup=False,
    )
    console.print("  " + _("from:") + f" {s.sender}", markup=False)
    for version in s.versions:
        console.print(f"  {version.language}:", markup=False)
        if version.label:
            console.print("    " + _("label:") + f"   {version.label}", markup=False)
        console.print("    " + _("subject:") + f" {version.subject}", markup=False)
        console.print("    " + _("title:") + f"   {version.title}", markup=False)
    if s.embargo is not None and s.drop_embargo:
        console.print(
            "  "
            + _(
                "embargo: {time} has passed; sent without the embargo notice (--drop-embargo)"
            ).format(time=s.embargo.isoformat()),
            markup=False,
        )
    elif s.embargo is not None:
        console.print(
            "  "
            + _(
                "embargo: {time}; every message carries the notice (journalists may prepare,"
                " not publish)"
            ).format(time=s.embargo.isoformat()),
            markup=False,
        )
    console.print(
        "  "
        + _("relay: {relay}, {security}").format(relay=s.relay, security=security_text(s.security)),
        markup=False,
    )
    console.print(
        "  "
        + _("by language: {counts}").format(
            counts=", ".join(f"{k} {v}" for k, v in s.by_language.items())
        )
    )
    top = ", ".join(f"{k} {v}" for k, v in s.by_outlet)
    left = s.outlets - len(s.by_outlet)
    more = _(", and {n} more").format(n=left) if left > 0 else ""
    console.print(
        "  " + _("by outlet ({n}): {top}").format(n=s.outlets, top=top) + more, markup=False
    )
    if s.audience is not None:
        from distrib.cli.contacts import print_audience

        print_audience(s.audience, indent="  ")
    if s.language_fallbacks:
        console.print(
            "  " + _("language by fallback ({n}):").format(n=len(s.language_fallbacks)),
            markup=False,
        )
        for warning in s.language_fallbacks:
            console.print(f"    {warning}", markup=False)
    maybe = _(", {n} may have arrived (unknown)").format(n=s.maybe_sent) if s.maybe_sent else ""
    console.print(
        "  "
        + _(
            "set aside: {rejected} rejected row(s), {suppressed} suppressed,"
            " {duplicates} duplicate(s), {already} already sent by an earlier run"
        ).format(
            rejected=s.rejected,
            suppressed=s.suppressed,
            duplicates=s.duplicates,
            already=s.already_sent,
        )
        + maybe
    )
    if s.rejected:
        console.print("  " + _("(see `distrib contacts check` for every rejected row)"))
    if s.unedited:
        console.print(
            "  " + _("not written yet: the release still holds the starter's text:"),
            markup=False,
        )
        for warning in s.unedited:
            console.print(f"    {warning}", markup=False)
    if s.warnings:
        console.print(
            "  " + _("{n} warning(s): see `distrib preview --serve`").format(n=s.warnings)
        )


def _send(prep: SendPreparation, *, wait: bool = False) -> None:
    """Send with a progress bar, then report and exit accordingly."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from distrib.errors import DistribError, RunStoppedError

    def started(run: Run) -> None:
        if prep.resumption is None and prep.joining is None:
            console.print(
                _("Run {run} started (log: {log})").format(run=run.id, log=app.log_name(prep.log)),
                markup=False,
            )
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
            result = app.send(
                prep, on_progress=on_progress, on_started=started, wait_for_quota=wait
            )
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
    waits: list[QuotaWait | None] = [None]  # the quota wait shown

    def on_progress(p: SendProgress) -> None:
        # Thousands of outcomes a second: redraw ten times a second (and at the end, and when
        # a quota wait starts or ends).
        quiet = p.stopping is None and p.done != p.total and p.waiting == waits[0]
        if quiet and p.elapsed - shown[0] < 0.1:
            return
        shown[0] = p.elapsed
        rate, left = meter.update(p.elapsed, p.done, p.total)
        bar.update(task, total=p.total, completed=p.done, detail=progress_text(p, rate, left))
        if p.waiting != waits[0]:
            waits[0] = p.waiting
            bar.update(task, description=_("waiting") if p.waiting else _("sending"))
            if p.waiting is not None and p.waiting.seconds >= QUOTA_LINE:
                # A long wait is said on its own line too (also when not on a terminal).
                bar.console.print(quota_wait_text(p.waiting), markup=False)
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
    print_sent_copy(result)
    r = result.engine
    console.print(
        _("Elapsed {seconds} s over {n} connection(s).").format(
            seconds=f"{r.elapsed:.1f}", n=r.connections
        )
    )
    if result.status == "stopped" and r.resume_at is not None:
        command = f"distrib send {file} --resume {result.run.id}"
        console.print(
            _(
                "Paused: {reason}.\nThe relay's quota leaves no room before {time}: the other"
                " messages of run {run} wait, ready, and nothing was sent twice."
            ).format(
                reason=r.stop_reason,
                time=r.resume_at.astimezone().isoformat(timespec="minutes"),
                run=result.run.id,
            )
            + "\n"
            + _("To go on at that time: {command}").format(command=command)
            + "\n"
            + _("Or go on now, waiting for room each time: {command}").format(
                command=f"{command} --wait"
            ),
            markup=False,
        )
        raise typer.Exit(int(Exit.STOPPED))
    if result.status == "stopped":
        what = _("Paused") if r.paused else _("Stopped")
        console.print(
            f"{what}: {r.stop_reason or _('interrupted')}.\n"
            + _("To go on: {command}").format(
                command=f"distrib send {file} --resume {result.run.id}"
            ),
            markup=False,
        )
        raise typer.Exit(int(Exit.STOPPED))
    if result.status == "failures":
        # The run as a whole, resumed or not; and unknown messages in any run of the campaign.
        raise typer.Exit(int(Exit.FAILURES))


def print_sent_copy(result: SendResult) -> None:
    """The copy in the mailbox's Sent folder ([mailbox] sent_copy): how many, or why not."""
    copy = result.sent_copy
    if copy is None:
        return
    if copy.warning:
        console.print(
            _(
                "warning: the messages were sent, but no copy went to the Sent folder: {reason}"
            ).format(reason=copy.warning),
            markup=False,
        )
        return
    console.print(
        _("Copied {n} message(s) to the folder {folder!r} ({m} already there).").format(
            n=copy.appended, folder=copy.folder, m=copy.already
        ),
        markup=False,
    )


def print_followup(result: SendResult, file: str) -> None:
    """After a run: how to settle unknown messages, and addresses to suppress."""
    run = result.run
    if result.followup.unknown:
        console.print(
            _(
                "{n} unknown message(s) may or may not have been delivered and are never resent"
                " automatically: `{command}` lists them with their Message-ID, to look up in the"
                " relay's logs."
            ).format(n=len(result.followup.unknown), command=f"distrib resolve {run.id} -c {file}"),
            markup=False,
        )
    if result.followup.suggestions:
        console.print(
            _(
                "Suggested for suppression ({n}): the server says these addresses do not exist."
                "  To stop writing to them, paste these lines into a .txt suppression list named"
                " under `suppression` in the campaign file:"
            ).format(n=len(result.followup.suggestions)),
            markup=False,
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


def quota_wait_text(wait: QuotaWait) -> str:
    """What the progress line says while a relay quota holds the next message."""
    return _("waiting for the relay's quota ({quota}): room at {time}").format(
        quota=wait.quota, time=wait.until.astimezone().strftime("%H:%M")
    )


def progress_text(p: SendProgress, rate: float, left: float | None) -> str:
    """The counts, pace and ETA shown beside the progress bar (or the quota being waited for)."""
    counts = f"sent {p.sent} · deferred {p.deferred} · failed {p.failed} · unknown {p.unknown}"
    if p.waiting is not None:
        return f"{counts} · {quota_wait_text(p.waiting)}"
    eta = "ETA -" if left is None else f"ETA {int(left // 3600)}:{int(left % 3600 // 60):02d}"
    if left is not None:
        eta += f":{int(left % 60):02d}"
    return f"{counts} · {rate:.1f}/s · {eta}"


def _wait(prep: SendPreparation) -> None:
    """Count down to the start (Ctrl-C gives up: nothing sent); the schedule is checked again."""
    from datetime import UTC, datetime

    from rich.control import Control

    assert prep.start is not None

    def tick(remaining: timedelta) -> None:
        if console.is_terminal:  # back to the start of the line (printed text never moves it)
            console.control(Control.move_to_column(0))
            console.print(
                _("Starting in {left} ").format(left=app.format_countdown(remaining)), end=""
            )

    left = app.format_countdown(prep.start - datetime.now(UTC))
    console.print(
        _(
            "Waiting {left} (until {time}): this machine must stay on and awake, with distrib"
            " running, until then."
        ).format(left=left, time=prep.start.isoformat()),
        markup=False,
    )
    try:
        with user_errors():
            app.wait_for_start(prep, on_tick=tick)
    except KeyboardInterrupt:
        console.print("\n" + _("Interrupted while waiting: nothing was sent."))
        raise typer.Exit(int(Exit.STOPPED)) from None
    console.print()


def _join(
    config: Campaign,
    log: str | None,
    run: str,
    *,
    force: bool,
    yes: bool,
    chosen: app.Selection,
    wait: bool,
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
        _send(prep, wait=wait)


def _resume(
    config: Campaign,
    log: str | None,
    run: str,
    *,
    force: bool,
    yes: bool,
    chosen: app.Selection,
    drop_embargo: bool,
    wait: bool,
) -> None:
    """``--resume RUN``: recover, check, confirm, and go on sending the run."""
    with user_errors():
        prep = app.prepare_resume(
            config,
            run,
            force=force,
            log=log,
            drop_embargo=drop_embargo,
            selection=chosen or None,
        )
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
        summary = prep.summary
        question = _(
            "Send the {n} pending message(s) of run {run} from {sender} via {relay} ({security})?"
        ).format(
            n=r.pending,
            run=r.run.id,
            sender=config.sender.address,
            relay=summary.relay,
            security=security_text(summary.security),
        )
        confirm_send(question, yes=yes)
        _send(prep, wait=wait)


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
        _(
            "Test run {run}: {sent} of {n} test message(s) sent to {to}; not counted as sent to"
            " any contact."
        ).format(run=outcome.run.id, sent=sent, n=len(outcome.rows), to=to),
        markup=False,
    )
    if sent < len(outcome.rows):
        raise typer.Exit(int(Exit.FAILURES))
