"""Sending a release from `distrib ui`: the test send, the send with its confirmation and live
progress, Stop and Resume.

``/releases/{slug}/test``  a test message to the officer's own address, as a chosen journalist
                           (`distrib.app.test_send`), recorded as a test run.
``/releases/{slug}/send``  GET: what is about to leave (`distrib.app.prepare_send`: count,
                           languages, relay, embargo label, From, subject per language), refused
                           while a message has a problem or when the embargo has passed (unless
                           the officer ticks "without the embargo notice" and confirms); above
                           ``UiSettings.typed_confirmation`` recipients (50) the number must be
                           typed.  POST: the send starts in a thread of the server
                           (`distrib.web.jobs.SendJob`);
                           the page then shows its progress live (SSE, ``…/send/events``), and
                           again after a reload: the state is kept in the server.
``…/send/stop``            a clean stop (messages in flight finish; the run can be resumed).
``/releases/{slug}/resume`` resume a stopped run (`distrib.app.prepare_resume`, then `send`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from distrib import app as verbs
from distrib.errors import DistribError, EmbargoError, Problem
from distrib.web.jobs import SendJob
from distrib.web.sse import event_stream

if TYPE_CHECKING:
    from distrib.web.pages import PageHost

__all__ = ["SendingPages"]


class SendingPages:
    """The handlers of test sends and sends; the latest send of each release is kept."""

    def __init__(self, pages: PageHost) -> None:
        self.pages = pages
        self.jobs: dict[str, SendJob] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/releases/{slug}/test", self.test_form, methods=["GET"]),
            Route("/releases/{slug}/test", self.test_send, methods=["POST"]),
            Route("/releases/{slug}/send", self.send_page, methods=["GET"]),
            Route("/releases/{slug}/send", self.start_send, methods=["POST"]),
            Route("/releases/{slug}/send/events", self.events, methods=["GET"]),
            Route("/releases/{slug}/send/stop", self.stop, methods=["POST"]),
            Route("/releases/{slug}/send/dismiss", self.dismiss, methods=["POST"]),
            Route("/releases/{slug}/resume", self.resume, methods=["POST"]),
        ]

    def busy(self) -> SendJob | None:
        """A send still running (one at a time: they share the workspace's relay and log)."""
        return next((job for job in self.jobs.values() if not job.finished), None)

    # -- test send ------------------------------------------------------------------------------

    async def test_form(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        try:
            campaign = await run_in_threadpool(
                verbs.release_named, self.pages.settings.workspace, slug
            )
        except DistribError as exc:
            return self.pages.problems(request, exc)
        return self.pages.page(
            request, "test_send.html", slug=slug, to=campaign.sender.address, as_contact="",
            outcome=None, error="",
        )  # fmt: skip

    async def test_send(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        async with request.form(max_files=0, max_fields=4) as form:
            to, as_contact = str(form.get("to", "")).strip(), str(form.get("as", "")).strip()
        try:
            campaign = await run_in_threadpool(
                verbs.release_named, self.pages.settings.workspace, slug
            )
            outcome = await run_in_threadpool(_test_send, campaign, to, as_contact or None)
        except DistribError as exc:
            return self.pages.page(
                request, "test_send.html", status=400, slug=slug, to=to, as_contact=as_contact,
                outcome=None, error=_error_text(exc),
            )  # fmt: skip
        return self.pages.page(
            request, "test_send.html", slug=slug, to=to, as_contact=as_contact, outcome=outcome,
            error="",
        )  # fmt: skip

    # -- send -----------------------------------------------------------------------------------

    async def send_page(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        job = self.jobs.get(slug)
        if job is not None:
            return self._live(request, job)
        running = self.busy()
        if running is not None:
            return self._live(request, running)
        drop = request.query_params.get("drop_embargo") == "1"
        return await self._confirmation(request, slug, drop=drop)

    async def _confirmation(
        self, request: Request, slug: str, *, drop: bool, error: str = "", status: int = 200
    ) -> Response:
        try:
            campaign = await run_in_threadpool(
                verbs.release_named, self.pages.settings.workspace, slug
            )
            plan = await run_in_threadpool(_plan, campaign, drop)
        except EmbargoError as exc:
            return self._embargo(request, slug, exc)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        if plan.problems:
            return self.pages.page(
                request, "send_refused.html", status=409, slug=slug, embargo="",
                groups=verbs.group_problems(plan.problems),
            )  # fmt: skip
        summary, pending = plan.summary, plan.pending
        return self.pages.page(
            request, "send_confirm.html", status=status, slug=slug, summary=summary,
            pending=pending, typed=pending >= self.pages.settings.typed_confirmation, drop=drop,
            error=error, unknown=plan.unknown, encrypted=summary.security != "none",
        )  # fmt: skip

    def _embargo(self, request: Request, slug: str, exc: EmbargoError) -> Response:
        return self.pages.page(
            request, "send_refused.html", status=409, slug=slug, embargo=str(exc), groups=()
        )

    async def start_send(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        async with request.form(max_files=0, max_fields=4) as form:
            typed = str(form.get("confirm", "")).strip()
            drop = form.get("drop_embargo") == "1"
        threshold = self.pages.settings.typed_confirmation

        def refuse(prep: verbs.SendPreparation) -> str:
            if prep.problems:
                return "problems"
            if prep.pending == 0:
                return "Nothing to send: every journalist of this release already has it."
            if prep.pending >= threshold and typed != str(prep.pending):
                return "Type the number of recipients to confirm."
            return ""

        return await self._start(
            request, slug, lambda campaign: verbs.prepare_send(campaign, drop_embargo=drop),
            refuse, drop,
        )  # fmt: skip

    async def _start(
        self,
        request: Request,
        slug: str,
        prepare: Callable[[verbs.Campaign], verbs.SendPreparation],
        refuse: Callable[[verbs.SendPreparation], str],
        drop: bool,
    ) -> Response:
        if self.busy() is not None:
            return RedirectResponse(f"/releases/{slug}/send", status_code=303)
        try:
            campaign = await run_in_threadpool(
                verbs.release_named, self.pages.settings.workspace, slug
            )
        except DistribError as exc:
            return self.pages.problems(request, exc)
        job = SendJob(slug, lambda: prepare(campaign), refuse).start()
        await run_in_threadpool(job.accepted.wait)
        if job.failure is not None or job.refusal:
            return await self._not_sent(request, slug, job, drop)
        self.jobs[slug] = job
        return RedirectResponse(f"/releases/{slug}/send", status_code=303)

    async def _not_sent(self, request: Request, slug: str, job: SendJob, drop: bool) -> Response:
        """Why ``job`` sent nothing: an error preparing it, or the confirmation again."""
        if isinstance(job.failure, EmbargoError):
            return self._embargo(request, slug, job.failure)
        if job.failure is not None:
            return self.pages.problems(request, job.failure)
        problems = job.refusal == "problems"
        error, status = ("", 200) if problems else (job.refusal, 400)
        return await self._confirmation(request, slug, drop=drop, error=error, status=status)

    def _live(self, request: Request, job: SendJob) -> Response:
        unknown = job.result.followup.unknown if job.result is not None else ()
        return self.pages.page(
            request, "send_live.html", slug=job.slug, job=job, state=job.snapshot(),
            unknown=unknown,
        )  # fmt: skip

    async def events(self, request: Request) -> Response:
        job = self.jobs.get(request.path_params["slug"])
        if job is None:
            raise HTTPException(404)
        return event_stream(job.events())

    async def stop(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        job = self.jobs.get(slug)
        if job is not None:
            job.stop()
        return RedirectResponse(f"/releases/{slug}/send", status_code=303)

    async def dismiss(self, request: Request) -> Response:
        """Forget a finished send (the page then offers a new one)."""
        slug = request.path_params["slug"]
        job = self.jobs.get(slug)
        if job is not None and job.finished:
            del self.jobs[slug]
        return RedirectResponse(f"/releases/{slug}/send", status_code=303)

    async def resume(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        async with request.form(max_files=0, max_fields=4) as form:
            run = str(form.get("run", "")).strip() or "latest"
            drop = form.get("drop_embargo") == "1"

        def prepare(campaign: verbs.Campaign) -> verbs.SendPreparation:
            return verbs.prepare_resume(campaign, run, drop_embargo=drop, force=drop)

        return await self._start(request, slug, prepare, lambda prep: "", drop)


@dataclass(frozen=True)
class _Plan:
    """What the confirmation shows (read in one thread: the log's)."""

    summary: verbs.SendSummary
    pending: int
    unknown: int
    problems: tuple[Problem, ...]


def _plan(campaign: verbs.Campaign, drop: bool) -> _Plan:
    with verbs.prepare_send(campaign, drop_embargo=drop) as prep:
        return _Plan(prep.summary, prep.pending, prep.unknown_total, prep.problems)


def _test_send(campaign: verbs.Campaign, to: str, as_contact: str | None) -> verbs.TestSendOutcome:
    with verbs.open_log(log=campaign.log_target, create=True) as log:
        return verbs.test_send(campaign, log, to, as_contact=as_contact)


def _error_text(exc: DistribError) -> str:
    problems = getattr(exc, "problems", ())
    lines = [str(p) for p in problems] or [str(exc)]
    return "\n".join(lines)
