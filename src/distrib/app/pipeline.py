"""The one module that knows the order of the stages.

::

    load_campaign → load_contacts → load_release → Renderer → make_plan
        make_plan → write_preview                               (distrib preview)
        make_plan → start_run (delivery log rows) → send_run    (distrib send)
    make_plan (the run's token) → send_run(join=True)       (distrib send --resume RUN --join)

A plan checks every message (`distrib.render.Renderer.check`: the templates filled, every
header value checked, the content hash; no MIME bytes written), so every problem (a missing
field, a missing language, a header with a control character) is known before anything
leaves.  Sending renders each message once, one at a time, streaming into the SMTP engine, and
checks that it hashes to what was planned: nothing is sent that was not planned.  For long
lists both run in worker processes (`distrib.renderpool`): the plan's on every core, the
send's a few batches ahead of the SMTP workers, so the event loop only sends and memory stays
flat.  The messages it sends are those
it claims from the run in the delivery log (`distrib.deliverylog.workers`), a few at a time, so
that other processes may drain the same run beside it.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distrib.app.audience import Selection, load_audience
from distrib.app.previewing import run_warnings
from distrib.app.relay import relay_tokens
from distrib.config import Campaign, display_path, smtp_password
from distrib.contacts.model import Contact, ContactBook
from distrib.deliverylog import DeliveryLog, NewMessage, Run, State, new_run_token
from distrib.errors import Problem, RenderError
from distrib.release import load_release
from distrib.render import RenderedMessage, Renderer
from distrib.renderpool import (
    MIN_PARALLEL,
    Checked,
    Job,
    Rendered,
    RenderPool,
    check_one,
    default_workers,
    release_freed_memory,
    render_inline,
)
from distrib.send import Outgoing, Progress, SendReport, send_messages

if TYPE_CHECKING:
    from distrib.deliverylog import MessageRow
    from distrib.deliverylog.lease import Lease
    from distrib.deliverylog.workers import Worker
    from distrib.send.stopping import StopSwitch

__all__ = [
    "Plan",
    "PlannedMessage",
    "SendOutcome",
    "make_plan",
    "render_planned",
    "send_run",
    "start_run",
]


@dataclass(frozen=True, slots=True)
class PlannedMessage:
    """A message that rendered cleanly: what will be sent, without the bytes.  ``size``: the
    bytes of its subject, text, HTML and attachments (the message sent is larger)."""

    contact: Contact
    language: str
    subject: str
    message_id: str
    content_hash: str
    size: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything known about a send before it starts."""

    campaign: Campaign
    book: ContactBook
    renderer: Renderer
    token: str
    messages: tuple[PlannedMessage, ...]
    skipped: tuple[tuple[PlannedMessage, int], ...]  # already sent by that earlier run
    problems: tuple[Problem, ...]
    contacts_hash: str
    templates_hash: str
    warnings: tuple[Problem, ...] = ()  # do not block sending (long subjects, big HTML …)
    resend: bool = False  # planned with --resend: may send to contacts other runs sent to
    # Not sent either: may have arrived in that earlier run (unknown), waiting for the officer.
    maybe_sent: tuple[tuple[PlannedMessage, int], ...] = ()
    # The command's --only/--exclude, kept with the run (`--resume` applies them again).
    selection: Selection = field(default_factory=Selection)

    @property
    def ok(self) -> bool:
        """Tell whether every contact's message rendered (problems block sending)."""
        return not self.problems


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """The run that was sent and what the engine reported."""

    run: Run
    report: SendReport


def contacts_fingerprint(contacts: Sequence[Contact]) -> str:
    """Hash the audience (addresses, languages and every field) to detect edits between runs."""
    digest = hashlib.sha256()
    for c in sorted(contacts, key=lambda c: c.key):
        digest.update(repr((c.key, c.address, c.language, sorted(c.fields.items()))).encode())
    return digest.hexdigest()


def files_fingerprint(*folders: Path | None) -> str:
    """Hash every file under the given folders (templates and release)."""
    digest = hashlib.sha256()
    for folder in folders:
        if folder is None or not folder.is_dir():
            continue
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def make_plan(
    campaign: Campaign,
    *,
    log: DeliveryLog | None = None,
    resend: bool = False,
    token: str | None = None,
    workers: int | None = None,
    selection: Selection | None = None,
) -> Plan:
    """Load the release's audience (`distrib.app.audience`) and release, check every message
    once, and find who was already sent it (``skipped``) or may have been (``maybe_sent``:
    unknown in an earlier run of the release).

    The delivery log's suppression list (opt-outs, hard bounces) is applied like the campaign's:
    ``log``'s, or the campaign's log file read without writing.  ``selection``: the command's
    ``--only``/``--exclude`` rules.  ``workers``: processes that render (None: one per core for
    `MIN_PARALLEL` contacts or more, else none; 0: render in this process).
    """
    book = load_audience(campaign, selection, log=log)
    release_freed_memory()  # the contacts stage's temporaries, before the workers fork
    release = load_release(campaign)
    renderer = Renderer(campaign, release)
    token = token or new_run_token()
    from distrib.deliverylog import Earlier

    earlier = Earlier({}, {}) if log is None or resend else log.earlier_outcomes(campaign.name)
    planned: list[PlannedMessage] = []
    skipped: list[tuple[PlannedMessage, int]] = []
    maybe_sent: list[tuple[PlannedMessage, int]] = []
    problems: list[Problem] = []
    warnings = list(run_warnings(renderer, book.accepted))
    checked = _check_all(renderer, book.contacts, token, _workers(workers, len(book.contacts)))
    # Most messages share their subject (one per language and outlet variant): keep one copy.
    shared: dict[str, str] = {}
    for contact, result in zip(book.contacts, checked, strict=True):
        if result.problems:
            problems.extend(result.problems)
            continue
        warnings.extend(result.warnings)
        item = _planned(contact, result, shared)
        if contact.key in earlier.sent:
            skipped.append((item, earlier.sent[contact.key]))
        elif contact.key in earlier.unknown:
            maybe_sent.append((item, earlier.unknown[contact.key]))
        else:
            planned.append(item)
    return Plan(
        campaign=campaign,
        book=book,
        renderer=renderer,
        token=token,
        messages=tuple(planned),
        skipped=tuple(skipped),
        problems=tuple(problems),
        contacts_hash=contacts_fingerprint(book.contacts),
        templates_hash=files_fingerprint(renderer.templates_dir, campaign.release),
        warnings=tuple(warnings),
        resend=resend,
        maybe_sent=tuple(maybe_sent),
        selection=selection or Selection(),
    )


def _workers(asked: int | None, messages: int) -> int:
    if asked is not None:
        return max(0, asked)
    return default_workers() if messages >= MIN_PARALLEL else 0


def _check_all(
    renderer: Renderer, contacts: Sequence[Contact], token: str, workers: int
) -> Iterator[Checked]:
    if not workers:
        yield from (check_one(renderer, contact, token) for contact in contacts)
        return
    with RenderPool(renderer, contacts, workers=workers) as pool:
        yield from pool.check(token)


def _planned(contact: Contact, checked: Checked, shared: dict[str, str]) -> PlannedMessage:
    return PlannedMessage(
        contact=contact,
        language=shared.setdefault(checked.language, checked.language),
        subject=shared.setdefault(checked.subject, checked.subject),
        message_id=checked.message_id,
        content_hash=checked.content_hash,
        size=checked.size,
    )


def render_planned(plan: Plan) -> Iterator[RenderedMessage]:
    """Render the plan's messages again, one at a time (for preview)."""
    for item in plan.messages:
        yield plan.renderer.render(item.contact, message_id=item.message_id)


def _provenance(contact: Contact) -> str:
    return "; ".join(str(loc) for loc in contact.sources)


def _new_message(item: PlannedMessage, status: State, note: str | None = None) -> NewMessage:
    c = item.contact
    return NewMessage(
        key=c.key,
        recipient=c.email,
        address=c.address,
        status=status,
        name=c.name,
        outlet=c.outlet,
        language=item.language,
        provenance=_provenance(c),
        subject=item.subject,
        message_id=item.message_id,
        content_hash=item.content_hash,
        note=note,
    )


def release_settings(plan: Plan) -> dict[str, dict[str, str]]:
    """What a run records of its release, per language: title, subject (as the first message
    in that language has it), label and embargo, so that its report can name it."""
    from distrib.render.context import release_label

    subjects: dict[str, str] = {}
    for message in plan.messages:
        subjects.setdefault(message.language, message.subject)
    recorded: dict[str, dict[str, str]] = {}
    for language, document in plan.renderer.release.documents.items():
        label = release_label(document)
        recorded[language] = {
            "title": document.title,
            "subject": subjects.get(language, document.subject),
            "label": label.text,
            "embargo": label.embargo.isoformat() if label.embargo is not None else "",
        }
    return recorded


def _audience_settings(plan: Plan) -> dict[str, object]:
    """The run's audience, in its settings: the rules applied, and the command's options (which
    `--resume` applies again)."""
    summary = plan.book.audience
    if summary is None:
        return {}
    return {
        "audience": list(summary.rules),
        "only": list(plan.selection.only),
        "exclude": list(plan.selection.exclude),
    }


def start_run(plan: Plan, log: DeliveryLog) -> Run:
    """Record the run and one row per message in the log, before anything is sent."""
    campaign = plan.campaign
    run = log.create_run(
        campaign.name,
        display_path(campaign.file),
        settings={
            "relay": f"{campaign.smtp.host}:{campaign.smtp.port}",
            "security": campaign.smtp.security,
            "rate": campaign.limits.rate,
            "connections": campaign.limits.connections,
            "resend": plan.resend,
            "drop_embargo": campaign.drop_embargo,
            "release": release_settings(plan),
            **_audience_settings(plan),
        },
        contacts_hash=plan.contacts_hash,
        templates_hash=plan.templates_hash,
        token=plan.token,
    )
    from distrib.deliverylog.runs import maybe_sent_note, sent_note

    # Streamed into the log, not built as a list first (100,000 rows: 50 MB at the peak).
    rows = itertools.chain(
        (_new_message(m, State.READY) for m in plan.messages),
        (_new_message(m, State.SKIPPED, sent_note(run)) for m, run in plan.skipped),
        (_new_message(m, State.SKIPPED, maybe_sent_note(run)) for m, run in plan.maybe_sent),
    )
    log.add_messages(run.id, rows)
    return run


async def _outgoing(plan: Plan, worker: Worker, pool: RenderPool | None) -> AsyncIterator[Outgoing]:
    """Render the messages ``worker`` claims from its run, for sending: ``ready`` and due ones
    first (streamed from ``pool`` when there is one), then deferred ones not yet due (rendered
    here, each just before the engine waits for its retry time); and again while other
    workers of the run hold messages, until the run is drained (`Worker.idle`).
    """
    log = worker.log
    contacts = [m.contact for m in plan.messages]
    index = {m.contact.key: i for i, m in enumerate(plan.messages)}
    rows: dict[int, MessageRow] = {}  # claimed, not rendered yet

    def jobs(claimed: Iterator[MessageRow]) -> Iterator[Job]:
        for row in claimed:
            found = index.get(row.key)
            if found is None or row.message_id != plan.messages[found].message_id:
                # The log row does not match this plan: never send something that was not planned.
                raise RenderError([Problem(f"{row.recipient}: not in this run's plan; plan again")])
            rows[row.id] = row
            yield Job(found, row.id, plan.messages[found].message_id)

    def outgoing(rendered: Rendered) -> Outgoing:
        row = rows.pop(rendered.row)
        if rendered.problems:
            raise RenderError(list(rendered.problems))
        if rendered.content_hash != row.content_hash:
            # The templates or release changed after planning: never send something unplanned.
            raise RenderError(
                [Problem(f"{row.recipient}: message changed since it was planned; plan again")]
            )
        return Outgoing(
            message=row.id,
            envelope_from=rendered.envelope_from,
            recipient=rendered.recipient,
            data=rendered.data,
            message_id=rendered.message_id,
            retry_at=_not_before(row.status, row.next_attempt_at, log.now()),
            address=row.address,
        )

    while True:
        if pool is not None:
            async for rendered in pool.stream(jobs(worker.claims())):
                yield outgoing(rendered)
        else:
            for rendered in render_inline(plan.renderer, contacts, jobs(worker.claims())):
                yield outgoing(rendered)
        later = jobs(worker.claims(later=True))
        for rendered in render_inline(plan.renderer, contacts, later):
            yield outgoing(rendered)
        if not await worker.idle():
            return


def _not_before(status: str, retry_at: str | None, now: str) -> datetime | None:
    if status != State.DEFERRED or retry_at is None or retry_at <= now:
        return None
    return datetime.fromisoformat(retry_at)


def send_run(
    plan: Plan,
    log: DeliveryLog,
    run: Run,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    handle_signals: bool = True,
    lease: Lease | None = None,
    render_workers: int | None = None,
    join: bool = False,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
    wait_for_quota: bool = False,
    stop: StopSwitch | None = None,
) -> SendOutcome:
    """Send every pending message of ``run``; Ctrl-C stops cleanly (in-flight messages finish).

    Holds the campaign's lease while sending (taking it unless ``lease`` is given; a second
    process gets `RunLockedError`); skips contacts another run of the campaign sent to since.
    ``join``: help the processes already sending ``run`` instead (no lease: they hold it; the
    run's status is theirs to set, unless this process is the last one and nothing is left).
    Either way this process is one of the run's workers and sends only what it claims
    (`distrib.deliverylog.workers`).  ``render_workers``: processes that render (None: one
    per core for `MIN_PARALLEL` messages or more, else none; 0: render in the event loop's
    process).  ``wait_for_quota``: wait when a relay quota is reached, instead of pausing.
    ``clock`` (a datetime clock, the log's) and ``sleep``: the engine's time (tests).
    process).  ``stop``: a stop asked from another thread (`StopSwitch.request`) ends the run as
    Ctrl-C does: cleanly, resumable.
    """
    from contextlib import AbstractContextManager, nullcontext

    from distrib.deliverylog.lease import HEARTBEAT_EVERY, acquire_lease
    from distrib.deliverylog.workers import Worker
    from distrib.send.stopping import stop_signals

    if lease is None and not join:
        with acquire_lease(log, plan.campaign.name, run_id=run.id) as held:
            return send_run(
                plan, log, run, on_progress=on_progress, handle_signals=handle_signals,
                lease=held, render_workers=render_workers, clock=clock, sleep=sleep,
                wait_for_quota=wait_for_quota, stop=stop,
            )  # fmt: skip
    if lease is not None:
        lease.confirm()
        lease.attach(run.id)
        if not run.settings.get("resend"):
            log.skip_sent_elsewhere(run.id)
        log.set_run_status(run.id, "sending", note="")  # an earlier stop's reason is over
    campaign = plan.campaign
    counts = log.counts(run.id)
    total = counts.get(State.READY, 0) + counts.get(State.DEFERRED, 0)
    workers = _workers(render_workers, total)
    # Started before the event loop and its threads, so they fork from a quiet process.
    contacts = [m.contact for m in plan.messages]
    pool = RenderPool(plan.renderer, contacts, workers=workers) if workers else None
    worker = Worker.register(log, run.id)

    def beat() -> bool:
        return worker.renew() and (lease is None or lease.renew())

    timing: dict[str, Any] = {"wait_for_quota": wait_for_quota}
    if clock is not None:
        timing["clock"] = lambda: clock().timestamp()
    if sleep is not None:
        timing["sleep"] = sleep

    async def _go() -> SendReport:
        halt, abandon = asyncio.Event(), asyncio.Event()
        switch: AbstractContextManager[None] = (
            stop.attached(halt) if stop is not None else nullcontext()
        )
        with stop_signals(halt, abandon, enabled=handle_signals), switch:
            return await send_messages(
                _outgoing(plan, worker, pool),
                log=log,
                smtp=campaign.smtp,
                limits=campaign.limits,
                password=smtp_password(campaign.smtp),
                tokens=relay_tokens(campaign.smtp),
                total=total,
                on_progress=on_progress,
                stop=halt,
                abandon=abandon,
                heartbeat=beat,
                heartbeat_every=HEARTBEAT_EVERY,
                log_worker=worker.id,
                **timing,
            )

    # The plan's objects (contacts, planned messages) live until the end: keep the garbage
    # collector from scanning them again and again while sending (~20 % of a long send).
    gc.collect()
    gc.freeze()
    try:
        with worker:  # on the way out, what it claimed and did not begin goes back
            report = asyncio.run(_go())
    except BaseException as exc:
        if lease is not None and lease.held:  # one that lost the lease no longer speaks
            log.set_run_status(run.id, "aborted", note=str(exc) or type(exc).__name__)
        raise
    finally:
        gc.unfreeze()
        if pool is not None:
            pool.close()
    status = "paused" if report.paused else "stopped" if report.stopped else "finished"
    if lease is not None:
        log.set_run_status(run.id, status, note=report.stop_reason)
    elif status == "finished" and not log.workers(run.id) and not log.pending(run.id):
        log.set_run_status(run.id, status, note="")  # the last worker out, nothing left
    return SendOutcome(log.get_run(run.id), report)
