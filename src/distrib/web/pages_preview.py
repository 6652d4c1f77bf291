"""The preview of a release in `distrib ui`, rendered on demand.

``/releases/{slug}/preview`` lists the recipients at once (the audience is read, no message is
rendered), with filters (language, outlet, problems only) and a search; the full check for
problems (every message rendered once) runs in a thread, its progress streamed by SSE
(``/releases/{slug}/preview/check``); once it is over the page shows the problems grouped, with
counts.  ``/releases/{slug}/preview/{n}`` renders message ``n`` when it is opened: headers, the
text part, the HTML part in a sandboxed frame.  Handlers parse, call `distrib.app`, render.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from distrib import app as verbs
from distrib.errors import DistribError
from distrib.web.jobs import CheckJob
from distrib.web.sse import event_stream

if TYPE_CHECKING:
    from distrib.web.pages import PageHost

__all__ = ["PAGE_SIZE", "PreviewPages"]

#: Recipients listed per page.
PAGE_SIZE = 100


class PreviewPages:
    """The preview's handlers; one `PreviewSession` and its check per release, kept until the
    officer asks to read the files again."""

    def __init__(self, pages: PageHost) -> None:
        self.pages = pages
        self.checks: dict[str, CheckJob] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/releases/{slug}/preview", self.listing, methods=["GET"]),
            Route("/releases/{slug}/preview", self.reload, methods=["POST"]),
            Route("/releases/{slug}/preview/check", self.check_events, methods=["GET"]),
            Route("/releases/{slug}/preview/{number:int}", self.message, methods=["GET"]),
        ]

    async def check_of(self, slug: str, *, fresh: bool = False, follow: bool = False) -> CheckJob:
        """The release's session and its running (or finished) check; made when first asked,
        made again when ``fresh`` or (``follow``) when its files changed since (the release
        edited in its form, a list added, the settings saved): the old check is abandoned."""
        job = self.checks.get(slug)
        if job is not None and follow and not fresh:
            fresh = await run_in_threadpool(job.session.changed)
        if job is None or fresh:
            campaign = await run_in_threadpool(
                verbs.release_named, self.pages.settings.workspace, slug
            )
            session = await run_in_threadpool(verbs.preview_session, campaign)
            await run_in_threadpool(session.prepare)  # the templates, before the first page
            if job is not None:
                job.cancel()
            job = self.checks[slug] = CheckJob(session).start()
        return job

    async def listing(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        try:
            job = await self.check_of(slug, follow=True)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        session = job.session
        checked = session.checked
        entries = checked.entries if checked is not None else session.entries
        query = request.query_params
        language, outlet = query.get("language", ""), query.get("outlet", "")
        search, only_problems = query.get("q", "").strip().lower(), query.get("problems") == "1"
        shown = [
            e
            for e in entries
            if (not language or e.language == language)
            and (not outlet or (e.contact.outlet or "") == outlet)
            and (not only_problems or e.problems)
            and (not search or _matches(e, search))
        ]
        pages = max(1, -(-len(shown) // PAGE_SIZE))
        number = min(max(1, _int(query.get("page"), 1)), pages)
        keep = {k: v for k, v in query.items() if k != "page" and v}
        return self.pages.page(
            request,
            "preview.html",
            slug=slug,
            campaign=session.campaign,
            total=len(entries),
            shown=shown[(number - 1) * PAGE_SIZE : number * PAGE_SIZE],
            matching=len(shown),
            page_number=number,
            pages=pages,
            keep=keep,
            languages=sorted({e.language for e in entries}),
            outlets=sorted({e.contact.outlet for e in entries if e.contact.outlet}),
            filters={"language": language, "outlet": outlet, "q": query.get("q", "")},
            only_problems=only_problems,
            job=job,
            checked=checked,
            book_problems=session.book.rejected,
        )

    async def reload(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        try:
            await self.check_of(slug, fresh=True)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        return RedirectResponse(f"/releases/{slug}/preview", status_code=303)

    async def check_events(self, request: Request) -> Response:
        job = self.checks.get(request.path_params["slug"])
        if job is None:
            raise HTTPException(404)
        return event_stream(job.events())

    async def message(self, request: Request) -> Response:
        slug, number = request.path_params["slug"], request.path_params["number"]
        try:
            job = await self.check_of(slug)
            shown = await run_in_threadpool(job.session.open_message, number)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        frame = None
        if shown.message is not None and shown.message.html:
            frame = self.pages.frames.add(shown.message.html)
        return self.pages.page(
            request,
            "preview_message.html",
            slug=slug,
            shown=shown,
            frame=frame,
            total=len(job.session),
            size=verbs.format_size(shown.entry.size) if shown.message is not None else "",
        )


def _matches(entry: Any, search: str) -> bool:
    contact = entry.contact
    return any(
        search in (value or "").lower() for value in (contact.name, contact.email, contact.outlet)
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
