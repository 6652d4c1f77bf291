"""Resume a run after a crash, a Ctrl-C, a pause or an error: ``distrib send --resume RUN``.

Under the campaign's lease (so nothing else is sending it):

1. recover: messages left ``sending`` go back to ``ready`` (the server never had their body);
   messages left in ``data`` become ``unknown`` (it may have) and are never resent
   automatically (see `distrib.resolve`);
2. plan again with the run's token (same Message-IDs) and compare with what the run planned:
   the contact lists, the templates and release, and each pending message's content hash;
   any change refuses the resume unless forced;
3. forced: pending messages whose contact left the lists are set aside (``skipped``, with a
   note), pending messages that now read differently are re-planned with their new content.

Then `distrib.app.pipeline.send_run` sends what is pending, ``deferred`` messages when their retry
time comes.

**Settling interrupted runs** (`settle_interrupted`): a new ``distrib send`` (without
``--resume``) first settles every run of the campaign that a killed process left unfinished,
exactly as step 1 above (``sending`` → ``ready``, ``data`` → ``unknown``), and marks it
``stopped`` (or ``finished`` when nothing is left in it).  Otherwise its ``data`` messages would
stay in ``data`` for ever, counted as possibly sent but never shown as unknown.  The new run
then plans everyone no run sent or may have sent, so it sends what the interrupted runs had not;
the unknown ones wait for the officer (`distrib resolve`).  ``--resume`` settles the campaign's
other interrupted runs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from distrib.app.audience import Selection, load_audience
from distrib.app.pipeline import Plan, contacts_fingerprint, make_plan
from distrib.config import Campaign
from distrib.deliverylog import PENDING, DeliveryLog, MessageRow, Run, State, WorkerRow
from distrib.deliverylog.lease import Lease, acquire_lease
from distrib.deliverylog.runs import interrupted_runs, is_test_run
from distrib.deliverylog.workers import silent_workers
from distrib.errors import DeliveryLogError, Problem, RenderError, RunChangedError, RunNotFoundError
from distrib.schedule import check_embargo

__all__ = [
    "Joining",
    "Resumption",
    "Settled",
    "find_run",
    "prepare_join",
    "prepare_resume",
    "settle_interrupted",
]

#: The note of a run settled after its process ended without a word.
INTERRUPTED = "interrupted: the process sending it ended without a word (killed, or it crashed)"

#: How many recipients a refusal lists per kind of change before summarising.
_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Settled:
    """A run an interrupted process left unfinished, settled as ``--resume`` would."""

    run: Run  # as it is now (``stopped``, or ``finished`` when nothing is left in it)
    found: Run  # as it was found
    requeued: int  # were ``sending``: back to ready (the server never had their body)
    unknown: int  # were in ``data``: now unknown (may have arrived; never resent automatically)
    pending: frozenset[str]  # contact keys of its messages still to send (ready or deferred)


def settle_interrupted(
    log: DeliveryLog, campaign: str, *, lease: Lease | None = None, keep: int | None = None
) -> tuple[Settled, ...]:
    """Settle the runs of ``campaign`` that a process left unfinished (see the module's
    docstring); return them, oldest first.

    Under the campaign's lease: ``lease`` if the caller holds it, else taken for the time it
    takes (`RunLockedError` if a live process holds it: then its run is not interrupted, it is
    being sent).  ``keep``: a run not to touch (the one being resumed).
    """
    if lease is None:
        if not [run for run in interrupted_runs(log, campaign) if run.id != keep]:
            return ()  # nothing to settle: no need for the lease
        with acquire_lease(log, campaign) as held:
            return settle_interrupted(log, campaign, lease=held, keep=keep)
    settled = []
    for found in interrupted_runs(log, campaign):  # read again, under the lease
        if found.id == keep:
            continue
        requeued, unknown = log.recover(found.id, dead=silent_workers(log))
        pending = frozenset(m.key for m in log.pending(found.id))
        if found.status in {"planned", "sending"}:  # an aborted run keeps its error
            log.set_run_status(found.id, "stopped" if pending else "finished", note=INTERRUPTED)
        settled.append(Settled(log.get_run(found.id), found, requeued, unknown, pending))
    return tuple(settled)


@dataclass(frozen=True, slots=True)
class Resumption:
    """A run ready to go on: the plan, the held lease, and what recovery and checks found."""

    plan: Plan
    run: Run
    found: Run  # the run as it was found, before recovery
    lease: Lease
    requeued: int  # were ``sending`` at the crash: back to ready
    unknown: int  # were in ``data`` at the crash: now unknown
    changes: tuple[Problem, ...]  # what changed since the run was planned (forced through)
    set_aside: int  # pending messages whose contact left the lists (forced): skipped
    replanned: int  # pending messages with new content (forced)
    new_contacts: int  # contacts in the lists that are not part of this run
    sent_elsewhere: int  # pending messages another run of the campaign sent: skipped
    pending: int  # messages to try now or at their retry time
    not_due: int  # of which deferred, with a retry time still to come
    next_due: str | None  # the soonest such retry time
    settled: tuple[Settled, ...] = ()  # other runs of the campaign left interrupted: settled
    unknown_in_run: int = 0  # unknown messages of this run: never resent automatically


def find_run(log: DeliveryLog, campaign: Campaign, run: int | str) -> Run:
    """Return the run named by an id, or ``latest`` for the campaign's latest run."""
    if run == "latest":
        runs = log.runs(campaign.name)
        if not runs:
            raise RunNotFoundError(f"{log.where}: campaign {campaign.name!r} has no runs yet")
        return runs[-1]
    try:
        found = log.get_run(int(run))
    except ValueError:
        raise RunNotFoundError(f"not a run id: {run!r} (a number, or 'latest')") from None
    if found.campaign != campaign.name:
        raise RunNotFoundError(
            f"run {found.id} is a run of campaign {found.campaign!r}, not of {campaign.name!r}"
            f" ({campaign.file.name}): pick the campaign file it was sent with"
        )
    return found


def prepare_resume(
    campaign: Campaign,
    log: DeliveryLog,
    run: int | str,
    *,
    force: bool = False,
    drop_embargo: bool = False,
    selection: Selection | None = None,
) -> Resumption:
    """Take the lease, recover and check the run; the caller sends, then releases the lease.

    Raises `RunLockedError` when another process sends the campaign and `RunChangedError`
    (listing every change) when the campaign changed since planning and ``force`` is False.
    ``selection``: the audience options; None applies again those the run was sent with.
    A run sent without its embargo notice (``--drop-embargo``) resumes without it; a run whose
    embargo has passed since it stopped is refused (`EmbargoError`: its messages would carry a
    false notice) unless ``drop_embargo``, whose messages then differ (``force`` re-plans them).
    """
    found = find_run(log, campaign, run)
    dropped = bool(found.settings.get("drop_embargo"))
    if dropped or drop_embargo:
        campaign = campaign.model_copy(update={"drop_embargo": True})
    lease = acquire_lease(log, campaign.name, run_id=found.id)
    try:
        requeued, unknown = log.recover(found.id, dead=silent_workers(log))
        settled = settle_interrupted(log, campaign.name, lease=lease, keep=found.id)
        elsewhere = 0 if found.settings.get("resend") else log.skip_sent_elsewhere(found.id)
        if selection is None:
            selection = _recorded_selection(found)
        plan = make_plan(campaign, log=log, resend=True, token=found.token, selection=selection)
        lease.confirm()  # planning a long list may outlast the lease: change nothing if lost
        release = plan.renderer.release
        if not dropped:
            check_embargo(release.embargo, log.current_time(), drop=drop_embargo)
        if plan.problems:
            raise RenderError(
                plan.problems,
                summary=(
                    f"run {found.id} was not resumed: {len(plan.problems)} message(s) cannot be"
                    " rendered; fix these first (`distrib preview` shows every message)"
                ),
            )
        rows = log.messages(found.id)
        pending = [r for r in rows if r.status in PENDING]
        planned = {m.contact.key: m for m in plan.messages}
        gone = [r for r in pending if r.key not in planned]
        changed = [
            r for r in pending if r.key in planned and planned[r.key].content_hash != r.content_hash
        ]
        in_run = {r.key for r in rows}
        new_contacts = sum(1 for key in planned if key not in in_run)
        same = _same_contacts(found, plan, log, selection)
        changes = _changes(found, plan, gone, changed, new_contacts, same_contacts=same)
        if changes and not force:
            raise RunChangedError(
                changes,
                summary=(
                    f"run {found.id} was not resumed: the campaign changed since it was planned"
                    f" ({found.created_at}).  Undo the changes, or resume with --force to send"
                    " the current version to the recipients still pending"
                ),
            )
        if gone:
            log.set_aside(
                (r.id for r in gone), "no longer in the contact lists (resumed with --force)"
            )
        for row in changed:
            item = planned[row.key]
            log.replan(row.id, content_hash=item.content_hash, subject=item.subject)
        if drop_embargo and not dropped:
            log.update_run_settings(found.id, {"drop_embargo": True})
    except BaseException:
        lease.release()
        raise
    waiting = log.pending(found.id)
    if not waiting and found.status != "finished":
        # Nothing left (all sent, or settled by recovery or by another run): it is over.
        log.set_run_status(found.id, "finished", note="")
    now = log.now()
    later = sorted(
        r.next_attempt_at
        for r in waiting
        if r.status == State.DEFERRED and r.next_attempt_at is not None and r.next_attempt_at > now
    )
    return Resumption(
        plan=plan,
        run=log.get_run(found.id),
        found=found,
        lease=lease,
        requeued=requeued,
        unknown=unknown,
        changes=changes if force else (),
        set_aside=len(gone),
        replanned=len(changed),
        new_contacts=new_contacts,
        sent_elsewhere=elsewhere,
        pending=len(waiting),
        not_due=len(later),
        next_due=later[0] if later else None,
        settled=settled,
        unknown_in_run=log.counts(found.id).get(State.UNKNOWN, 0),
    )


@dataclass(frozen=True, slots=True)
class Joining:
    """A run other processes are sending, that this one may help drain (``--join``)."""

    plan: Plan  # planned again with the run's token: the same messages, byte for byte
    run: Run
    workers: tuple[WorkerRow, ...]  # the live workers sending it when this one looked
    pending: int  # messages still to try (some already claimed by those workers)


def prepare_join(campaign: Campaign, log: DeliveryLog, run: int | str) -> Joining:
    """Check that ``run`` is being sent and plan it again to help: the caller then sends it
    as one more worker (`distrib.app.pipeline.send_run` with ``join=True``).

    Refused when no live process sends the run (`--resume` continues it then), when the
    campaign changed since the run was planned (`RunChangedError`: every worker of a run
    sends the same messages), and when the release's embargo has passed and the run carries
    its notice (`EmbargoError`).  A run sent with ``--drop-embargo`` is joined without it.
    """
    found = find_run(log, campaign, run)
    dropped = bool(found.settings.get("drop_embargo"))
    if dropped:
        campaign = campaign.model_copy(update={"drop_embargo": True})
    resume = f"`distrib send {campaign.file.name} --resume {found.id}` continues it"
    if is_test_run(found):
        raise DeliveryLogError(f"run {found.id} is a test send: there is nothing to join")
    dead = silent_workers(log)
    live = tuple(w for w in log.workers(found.id) if not dead(w))
    if found.status != "sending" or not live:
        raise DeliveryLogError(
            f"run {found.id} of {found.campaign!r} is not being sent right now"
            f" ({found.status}): there is no process to join; {resume}"
        )
    plan = make_plan(
        campaign, log=log, resend=True, token=found.token, selection=_recorded_selection(found)
    )
    if not dropped:
        check_embargo(plan.renderer.release.embargo, log.current_time())
    if plan.problems:
        raise RenderError(
            plan.problems,
            summary=f"cannot join run {found.id}: {len(plan.problems)} message(s) cannot be"
            " rendered here",
        )
    rows = log.messages(found.id)
    pending = [r for r in rows if r.status in PENDING]
    planned = {m.contact.key: m for m in plan.messages}
    gone = [r for r in pending if r.key not in planned]
    changed = [
        r for r in pending if r.key in planned and planned[r.key].content_hash != r.content_hash
    ]
    changes = _changes(found, plan, gone, changed, 0)
    if changes:
        raise RunChangedError(
            changes,
            summary=(
                f"cannot join run {found.id}: the campaign here differs from the one it was"
                " planned with; join with the same contact lists, release and templates"
            ),
        )
    return Joining(plan=plan, run=found, workers=live, pending=len(pending))


def _recorded_selection(run: Run) -> Selection:
    """The ``--only``/``--exclude`` options a run was started with."""

    def strings(key: str) -> tuple[str, ...]:
        value = run.settings.get(key)
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    return Selection(strings("only"), strings("exclude"))


def _same_contacts(run: Run, plan: Plan, log: DeliveryLog, selection: Selection) -> bool:
    """Whether the contact lists are those ``run`` was planned with.

    The log's suppression list grows while a run goes on (an opt-out, a "no such user" refusal
    suppressed at once): that changes the audience, not the lists.  So when the audience differs,
    it is read again with only the entries the log held when the run was planned, and compared.
    """
    if run.contacts_hash is None or run.contacts_hash == plan.contacts_hash:
        return True
    then = load_audience(plan.campaign, selection, log=log, suppressed_before=run.created_at)
    return contacts_fingerprint(then.contacts) == run.contacts_hash


def _changes(
    run: Run,
    plan: Plan,
    gone: list[MessageRow],
    changed: list[MessageRow],
    new_contacts: int,
    *,
    same_contacts: bool | None = None,
) -> tuple[Problem, ...]:
    problems: list[Problem] = []
    if same_contacts is None:
        same_contacts = run.contacts_hash is None or run.contacts_hash == plan.contacts_hash
    if not same_contacts:
        problems.append(Problem(f"the contact lists changed since run {run.id} was planned"))
    if run.templates_hash is not None and run.templates_hash != plan.templates_hash:
        problems.append(Problem(f"the templates or the release changed since run {run.id}"))
    for rows, why in (
        (gone, "pending, but no longer in the contact lists"),
        (changed, "pending, and the message would now read differently"),
    ):
        problems += [Problem(f"{r.recipient}: {why}") for r in rows[:_SHOWN]]
        if len(rows) > _SHOWN:
            problems.append(Problem(f"... and {len(rows) - _SHOWN} more {why}"))
    if problems and new_contacts:
        problems.append(
            Problem(
                f"{new_contacts} contact(s) in the lists are not part of run {run.id}: after"
                " this run, a new `distrib send` sends to them (and skips everyone already sent)"
            )
        )
    return tuple(problems)
