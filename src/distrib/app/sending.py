"""Sending a release, as an officer does it: plan, (confirm,) wait if asked, send, and learn how
it went; resume a run; send oneself a test.

The interface's part is only to show and ask.  A send goes::

    with prepare_send(campaign, resend=…, at=…) as prep:    # settle, plan, schedule
        … show prep.summary, prep.settled, prep.unknown_elsewhere, prep.problems …
        … ask prep.question (unless --yes) …
        wait_for_start(prep, on_tick=…)                       # only when prep.start is set
        result = send(prep, on_progress=…, on_started=…)      # lease, run, send, report

and a resume the same way with `prepare_resume`; joining the processes that send a run (one
more worker draining it: `distrib.deliverylog.workers`) with `prepare_join`.  Nothing here
prints; errors are `DistribError`s; progress comes through callbacks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from distrib.app.audience import Selection
from distrib.app.pipeline import Plan, make_plan, send_run, start_run
from distrib.app.resuming import Joining, Resumption, Settled, settle_interrupted
from distrib.errors import DistribError, Problem, RunStoppedError
from distrib.starter import UNEDITED

if TYPE_CHECKING:
    from distrib.app.sentcopy import SentCopy
    from distrib.audit import Report
    from distrib.config import Campaign
    from distrib.contacts.model import AudienceSummary
    from distrib.deliverylog import DeliveryLog, Run
    from distrib.deliverylog.lease import Lease
    from distrib.resolve import Suggestion, Unknown
    from distrib.schedule import Schedule
    from distrib.send import Progress, SendReport
    from distrib.send.stopping import StopSwitch

__all__ = [
    "Followup",
    "ReleaseVersion",
    "RunStoppedError",
    "SendPreparation",
    "SendResult",
    "SendSummary",
    "prepare_join",
    "prepare_resume",
    "prepare_send",
    "send",
    "wait_for_start",
]

#: How many outlets a summary names before "and N more".
TOP_OUTLETS = 8


@dataclass(frozen=True, slots=True)
class ReleaseVersion:
    """One language of the messages about to leave, as journalists will see it."""

    language: str  # fr, en, or both (one bilingual message)
    title: str  # the headline ("fr / en" for both)
    subject: str  # as the first message in this language has it (embargo prefix included)
    label: str  # "SOUS EMBARGO jusqu’au …", "Pour diffusion immédiate" or "" ("fr / en" for both)


@dataclass(frozen=True, slots=True)
class SendSummary:
    """What is about to be sent, and what was set aside: what an officer checks last."""

    campaign: str
    messages: int
    by_language: Mapping[str, int]
    by_outlet: tuple[tuple[str, int], ...]  # most messages first
    outlets: int
    rejected: int
    suppressed: int
    duplicates: int
    already_sent: int  # by an earlier run of the campaign
    maybe_sent: int  # unknown in an earlier run: may have arrived, not resent
    warnings: int
    relay: str  # host:port
    security: str  # none (not encrypted), starttls (required) or tls
    sender: str = ""  # the From: "Name <address>"
    versions: tuple[ReleaseVersion, ...] = ()  # per message language, in fr, en, both order
    embargo: datetime | None = None  # the release's embargo (None: immediate release)
    drop_embargo: bool = False  # sent without the embargo notice (the embargo has passed)
    hold_until: datetime | None = None  # the release's scheduled start
    audience: AudienceSummary | None = None  # who the release's audience rules left out
    # The messages' language decisions made by fallback (blank or unknown language cells).
    language_fallbacks: tuple[Problem, ...] = ()
    # Release documents that still hold the starter's text (among ``warnings``).
    unedited: tuple[Problem, ...] = ()


@dataclass
class SendPreparation:
    """A planned send (or resume), with its delivery log open; use it as a context manager.

    ``run`` and ``lease`` are set when resuming an existing run (``resumption`` says what
    recovery found); a new send takes its lease and records its run in `send`.  ``joining``:
    helping the processes that send an existing run (no lease: they hold it).
    """

    campaign: Campaign
    log: DeliveryLog
    plan: Plan
    settled: tuple[Settled, ...] = ()
    unknown_elsewhere: Mapping[int, int] = field(default_factory=dict)  # run -> unknown count
    start: datetime | None = None  # a scheduled start (send --at), None: at once
    resumption: Resumption | None = None
    joining: Joining | None = None
    clock: Callable[[], datetime] | None = None  # the log's clock (None: the real one)

    @property
    def run(self) -> Run | None:
        """The run being resumed or joined (None for a new send)."""
        if self.joining is not None:
            return self.joining.run
        return self.resumption.run if self.resumption is not None else None

    @property
    def lease(self) -> Lease | None:
        """The lease a resume holds (a new send takes it in `send`)."""
        return self.resumption.lease if self.resumption is not None else None

    @property
    def problems(self) -> tuple[Problem, ...]:
        """Messages that cannot be rendered: any one of them blocks the send."""
        return self.plan.problems

    @property
    def pending(self) -> int:
        """How many messages the send would try."""
        if self.joining is not None:
            return self.joining.pending
        if self.resumption is not None:
            return self.resumption.pending
        return len(self.plan.messages)

    @property
    def unknown_total(self) -> int:
        """Unknown messages in other runs of the campaign: until resolved, never "all done"."""
        return sum(self.unknown_elsewhere.values())

    @property
    def summary(self) -> SendSummary:
        """Counts by language and outlet, and what was set aside."""
        plan, book = self.plan, self.plan.book
        outlets = Counter(m.contact.outlet or "(no outlet)" for m in plan.messages)
        smtp = self.campaign.smtp
        sender = self.campaign.sender
        release = plan.renderer.release
        return SendSummary(
            campaign=self.campaign.name,
            messages=len(plan.messages),
            by_language=dict(sorted(Counter(m.language for m in plan.messages).items())),
            by_outlet=tuple(outlets.most_common(TOP_OUTLETS)),
            outlets=len(outlets),
            rejected=len(book.rejected),
            suppressed=len(book.suppressed),
            duplicates=len(book.duplicates),
            already_sent=len(plan.skipped),
            maybe_sent=len(plan.maybe_sent),
            warnings=len(plan.warnings),
            relay=f"{smtp.host}:{smtp.port}",
            security=smtp.security,
            sender=f"{sender.name} <{sender.address}>",
            versions=_versions(plan),
            embargo=release.embargo,
            drop_embargo=self.campaign.drop_embargo,
            hold_until=release.hold_until,
            audience=book.audience,
            language_fallbacks=_fallbacks(plan),
            unedited=tuple(w for w in plan.warnings if w.code == UNEDITED),
        )

    def close(self) -> None:
        """Release a held lease and close the delivery log."""
        if self.lease is not None:
            self.lease.release()
        self.log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Followup:
    """What the officer should do after a run: unknown messages to settle, addresses to drop."""

    unknown: tuple[Unknown, ...]
    suggestions: tuple[Suggestion, ...]
    suppression_file: str  # the suggestions as a ready-to-use suppression list ('' if none)


@dataclass(frozen=True, slots=True)
class SendResult:
    """How a send (or a resume) ended."""

    run: Run
    engine: SendReport  # what the sending engine counted (elapsed, connections, stop reason)
    report: Report  # the run as the delivery log tells it
    followup: Followup
    unknown_elsewhere: Mapping[int, int]  # other runs of the campaign with unknown messages
    sent_copy: SentCopy | None = None  # the copy in the Sent folder ([mailbox] sent_copy)

    @property
    def status(self) -> Literal["done", "failures", "stopped"]:
        """``stopped`` (Ctrl-C or a pause: resume it), ``failures`` (failed, deferred or unknown
        messages in this run, or unknown in another run of the campaign), else ``done``."""
        if self.engine.stopped:
            return "stopped"
        by_state = self.report.by_state
        if self.unknown_elsewhere or any(by_state.get(s, 0) for s in ("failed", "deferred")):
            return "failures"
        if by_state.get("unknown", 0):
            return "failures"
        return "done"


def _fallbacks(plan: Plan) -> tuple[Problem, ...]:
    """The language fallbacks of the contacts the plan sends to."""
    fallbacks = plan.book.fallbacks
    return tuple(fallbacks[m.contact.key] for m in plan.messages if m.contact.key in fallbacks)


def _open_log(
    campaign: Campaign,
    log: Path | str | None,
    *,
    create: bool,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryLog:
    from distrib.deliverylog import open_log

    if clock is None:
        return open_log(log or campaign.log_target, create=create)
    return open_log(log or campaign.log_target, create=create, clock=clock)


def _unknown_elsewhere(log: DeliveryLog, campaign: Campaign, besides: int | None) -> dict[int, int]:
    from distrib.deliverylog.runs import unresolved_unknown

    found = unresolved_unknown(log, campaign.name)
    return {run: n for run, n in found.items() if run != besides}


def _versions(plan: Plan) -> tuple[ReleaseVersion, ...]:
    """Each message language of the plan: its title, its first message's subject, its label."""
    from distrib.render.context import release_label

    release = plan.renderer.release
    first: dict[str, str] = {}
    for message in plan.messages:
        first.setdefault(message.language, message.subject)
    versions = []
    for language in ("fr", "en", "both"):
        if language not in first:
            continue
        codes = plan.campaign.bilingual_order if language == "both" else (language,)
        documents = [d for d in (release.get(code) for code in codes) if d is not None]
        labels = [release_label(d).text for d in documents]
        versions.append(
            ReleaseVersion(
                language,
                " / ".join(d.title for d in documents),
                first[language],
                " / ".join(label for label in labels if label),
            )
        )
    return tuple(versions)


def _schedule(plan: Plan, at: datetime | None = None) -> Schedule:
    from distrib.schedule import Schedule

    release = plan.renderer.release
    return Schedule(
        embargo=release.embargo,
        at=at,
        hold_until=release.hold_until,
        drop_embargo=plan.campaign.drop_embargo,
    )


def _scheduled_start(plan: Plan, at: str | datetime | None) -> datetime | None:
    """When to start (None: now); raise `EmbargoError` for a start the release forbids:
    before its ``hold_until``, at or after its embargo (unless the notice is dropped)."""
    from distrib.schedule import parse_time, utc_now

    when = parse_time(at) if isinstance(at, str) else at
    start = _schedule(plan, when).start_time(utc_now())
    if when is None or start <= utc_now():
        return None
    return start


def without_embargo_notice(campaign: Campaign) -> Campaign:
    """``campaign`` for a run sent with ``--drop-embargo``: its messages carry no embargo
    notice (the release reads as an immediate release), and the run records it."""
    return campaign.model_copy(update={"drop_embargo": True})


def prepare_send(
    campaign: Campaign,
    *,
    log: Path | str | None = None,
    resend: bool = False,
    at: str | datetime | None = None,
    drop_embargo: bool = False,
    selection: Selection | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SendPreparation:
    """Settle the runs a killed process left unfinished, plan every message, and schedule.

    An embargoed release is sent before its embargo, each message carrying the notice; at or
    after the embargo the send is refused (`EmbargoError`), unless ``drop_embargo``: then the
    messages go without the notice, and the run records it.  ``at``: start then (a time with
    its zone); refused before the release's ``hold_until``.  ``selection``: the
    ``--only``/``--exclude`` audience rules.  ``clock``: the delivery log's clock (tests; the
    relay quotas count by it).  The caller closes the preparation (``with``).
    """
    if drop_embargo:
        campaign = without_embargo_notice(campaign)
    delivery_log = _open_log(campaign, log, create=True, clock=clock)
    try:
        # Runs a killed process left unfinished: settled before planning (sending → ready,
        # data → unknown), so that nothing stays "in data" for ever, counted as sent.
        settled = settle_interrupted(delivery_log, campaign.name)
        plan = make_plan(campaign, log=delivery_log, resend=resend, selection=selection)
        start = _scheduled_start(plan, at)
        unknown = _unknown_elsewhere(delivery_log, campaign, None)
    except BaseException:
        delivery_log.close()
        raise
    return SendPreparation(campaign, delivery_log, plan, settled, unknown, start, clock=clock)


def prepare_resume(
    campaign: Campaign,
    run: int | str,
    *,
    force: bool = False,
    log: Path | str | None = None,
    drop_embargo: bool = False,
    selection: Selection | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SendPreparation:
    """Take the campaign's lease, recover run ``run`` (an id or ``latest``) and check it (see
    `distrib.app.resuming`); the caller closes the preparation, which releases the lease.

    ``selection``: the audience options (None: those the run was started with).  A run sent
    with ``--drop-embargo`` resumes without the notice; a run whose embargo has passed since it
    stopped is refused (its messages would carry a false notice) unless ``drop_embargo`` (with
    ``force``: the pending messages are then re-planned without it).
    """
    from distrib.app.resuming import prepare_resume as recover_and_check

    delivery_log = _open_log(campaign, log, create=False, clock=clock)
    try:
        resumption = recover_and_check(
            campaign,
            delivery_log,
            run,
            force=force,
            drop_embargo=drop_embargo,
            selection=selection,
        )
        unknown = _unknown_elsewhere(delivery_log, campaign, resumption.run.id)
    except BaseException:
        delivery_log.close()
        raise
    return SendPreparation(
        campaign,
        delivery_log,
        resumption.plan,
        resumption.settled,
        unknown,
        resumption=resumption,
        clock=clock,
    )


def prepare_join(
    campaign: Campaign, run: int | str, *, log: Path | str | None = None
) -> SendPreparation:
    """Check that run ``run`` (an id or ``latest``) is being sent right now and plan it again
    to help (`distrib.app.resuming.prepare_join`); `send` then sends it as one more worker."""
    from distrib.app.resuming import prepare_join as check_and_plan

    delivery_log = _open_log(campaign, log, create=False)
    try:
        joining = check_and_plan(campaign, delivery_log, run)
        unknown = _unknown_elsewhere(delivery_log, campaign, joining.run.id)
    except BaseException:
        delivery_log.close()
        raise
    return SendPreparation(campaign, delivery_log, joining.plan, (), unknown, joining=joining)


def wait_for_start(
    prep: SendPreparation,
    *,
    on_tick: Callable[[timedelta], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> None:
    """Wait until ``prep.start`` (Ctrl-C interrupts: nothing sent), then check the schedule
    again (`EmbargoError`: a machine that slept past the embargo must not send a false
    notice).  Needs the machine to stay on and awake: nothing is sent while it sleeps."""
    from distrib.schedule import utc_now, wait_until

    if prep.start is None:
        return
    now = clock or utc_now
    options: dict[str, object] = {"clock": now, "on_tick": on_tick}
    if sleep is not None:
        options["sleep"] = sleep
    wait_until(prep.start, **options)  # type: ignore[arg-type]
    _schedule(prep.plan).check(now())


def send(
    prep: SendPreparation,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    on_started: Callable[[Run], None] | None = None,
    handle_signals: bool = True,
    render_workers: int | None = None,
    wait_for_quota: bool = False,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    stop: StopSwitch | None = None,
) -> SendResult:
    """Send what ``prep`` planned; report how it went.

    A new send takes the campaign's lease before its run exists (a second process is refused
    without leaving a run behind), records the run (``on_started`` is told), sends, and
    releases the lease.  A resume sends under the lease it holds.  Ctrl-C stops cleanly
    (``handle_signals``), and so does ``stop`` (`StopSwitch.request`, from any thread: an
    interface's Stop button; the run can be resumed).  An error that stops the run raises
    `RunStoppedError` naming it.

    A relay quota (``[limits]`` ``per_minute``, ``per_hour``, ``per_day``, counted over every
    run of the log) that leaves no room for more than a minute pauses the run (its
    ``engine.resume_at`` says when there is room; resume it then), unless
    ``wait_for_quota``: then the run waits for it.  ``sleep``: the engine's sleep (tests give
    one that moves ``prep.clock`` on).
    """
    from distrib.app.relaycheck import check_before_send
    from distrib.deliverylog.lease import acquire_lease

    options: dict[str, Any] = {"wait_for_quota": wait_for_quota, "sleep": sleep}

    # The relay first (connect, TLS, AUTH, SIZE, SMTPUTF8): a failure stops here, before a
    # run is recorded or a lease taken (`RelayCheckError`).
    check_before_send(prep.plan)
    if prep.joining is not None:
        run = prep.joining.run
        if on_started is not None:
            on_started(run)
        return _send_run(
            prep, run, None, on_progress=on_progress, handle_signals=handle_signals,
            render_workers=render_workers, stop=stop, **options,
        )  # fmt: skip
    if prep.resumption is not None:
        run = prep.resumption.run
        if on_started is not None:
            on_started(run)
        return _send_run(
            prep, run, prep.resumption.lease, on_progress=on_progress,
            handle_signals=handle_signals, render_workers=render_workers, stop=stop,
            **options,
        )  # fmt: skip
    with acquire_lease(prep.log, prep.campaign.name) as lease:
        run = start_run(prep.plan, prep.log)
        if on_started is not None:
            on_started(run)
        return _send_run(
            prep, run, lease, on_progress=on_progress, handle_signals=handle_signals,
            render_workers=render_workers, stop=stop, **options,
        )  # fmt: skip


def _send_run(
    prep: SendPreparation,
    run: Run,
    lease: Lease | None,
    *,
    on_progress: Callable[[Progress], None] | None,
    handle_signals: bool,
    render_workers: int | None,
    wait_for_quota: bool = False,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    stop: StopSwitch | None = None,
) -> SendResult:
    from distrib.app.sentcopy import copy_to_sent
    from distrib.audit import report
    from distrib.resolve import suppression_file, suppression_suggestions, unknown_messages

    try:
        outcome = send_run(
            prep.plan, prep.log, run, on_progress=on_progress, handle_signals=handle_signals,
            lease=lease, render_workers=render_workers, join=lease is None, stop=stop,
            clock=prep.clock, sleep=sleep, wait_for_quota=wait_for_quota,
        )  # fmt: skip
    except DistribError as exc:
        raise RunStoppedError(run, exc) from exc
    # After the send: a failure to copy is a warning, never a failed send.
    sent_copy = copy_to_sent(prep.plan, prep.log, run.id)
    suggestions = tuple(suppression_suggestions(prep.log, run.id))
    title = f"run {run.id} of {run.campaign}: addresses refused as nonexistent"
    followup = Followup(
        unknown=tuple(unknown_messages(prep.log, run.id)),
        suggestions=suggestions,
        suppression_file=suppression_file(suggestions, title) if suggestions else "",
    )
    return SendResult(
        run=outcome.run,
        engine=outcome.report,
        report=report(prep.log, outcome.run, recipients=False),  # a summary: counts, problems
        followup=followup,
        unknown_elsewhere=_unknown_elsewhere(prep.log, prep.campaign, run.id),
        sent_copy=sent_copy,
    )
