"""The media lists pages of `distrib ui`: adding a list (drag and drop, or choose a file), how
each list was read, mapping its columns, the accounting of every row and every row set aside,
conflicts, the suppression list (add, and remove with a reason), and a journalist's history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from distrib import app as verbs
from distrib.errors import DistribError, Problem, ProblemsError
from distrib.web.uploads import UploadRefused, receive_upload

if TYPE_CHECKING:
    from distrib.web.host import PageHost

__all__ = ["list_routes"]

_LIST_KINDS = ("csv", "xlsx", "ods", "vcf")


def _problems(exc: DistribError, names: Mapping[str, str] | None = None) -> list[str]:
    if isinstance(exc, ProblemsError):
        return [_named(problem, names or {}) for problem in exc.problems]
    return [str(exc)]


def _named(problem: Problem, names: Mapping[str, str]) -> str:
    """``problem`` as text, its list named as the officer named it (never the stored path)."""
    where, message = problem.where, problem.message
    if where is not None and where.path in names:
        where = where._replace(path=names[where.path])
    for path, name in names.items():  # a duplicate names the row it duplicates
        message = message.replace(f"{path}:", f"{name}:")
    return str(replace(problem, where=where, message=message))


class _Lists:
    def __init__(self, host: PageHost) -> None:
        self.host = host

    @property
    def file(self) -> Path:
        return verbs.workspace_file(self.host.settings.workspace)

    def _read(self) -> dict[str, object]:
        campaign = verbs.load_campaign(self.file)
        names = verbs.list_names(campaign)
        found: dict[str, object] = {"columns": verbs.list_columns(campaign), "names": names}
        try:
            book = verbs.check_contacts(campaign)
        except DistribError as exc:
            return {**found, "book": None, "reading": _problems(exc, names)}
        aside = (*book.rejected, *book.duplicates, *book.suppressed)
        return {
            **found,
            "book": book,
            "reading": [],
            "aside": [_named(problem, names) for problem in aside],
            "conflicts": [_named(problem, names) for problem in book.conflicts],
        }

    async def index(self, request: Request, problems: list[str] | None = None) -> Response:
        try:
            read = await run_in_threadpool(self._read)
        except DistribError as exc:
            return self.host.problems(request, exc)
        return self.host.page(
            request,
            "lists.html",
            400 if problems else 200,
            **read,
            fields=verbs.LIST_FIELDS,
            problems=problems or [],
            notice=request.query_params.get("done"),
        )

    async def add(self, request: Request) -> Response:
        async with request.form(max_files=1, max_fields=4, max_part_size=64 * 1024) as form:
            try:
                stored = await receive_upload(
                    form,
                    lambda: verbs.uploads_folder(verbs.load_campaign(self.file)),
                    limit=self.host.settings.max_upload,
                    kinds=_LIST_KINDS,
                )
            except UploadRefused as refused:
                return self.host.refused(request, refused)
            except DistribError as exc:
                return self.host.problems(request, exc)
        try:
            await run_in_threadpool(verbs.add_media_list, self.file, stored.path, stored.given_name)
        except DistribError as exc:
            stored.path.unlink(missing_ok=True)
            return await self.index(request, _problems(exc))
        return RedirectResponse("/lists?done=added", status_code=303)

    async def map_columns(self, request: Request) -> Response:
        index = request.path_params["index"]
        async with request.form(max_files=0, max_fields=2000) as form:
            headers = [str(h) for h in form.getlist("header")]
            targets = [str(t) for t in form.getlist("field")]
        mapping = dict(zip(headers, targets, strict=False))
        try:
            await run_in_threadpool(verbs.map_list_columns, self.file, index, mapping)
        except DistribError as exc:
            return await self.index(request, _problems(exc))
        return RedirectResponse("/lists?done=mapped", status_code=303)

    async def suppression(self, request: Request) -> Response:
        try:
            overview = await run_in_threadpool(verbs.workspace_overview, self.file, latest=10**9)
        except DistribError as exc:
            return self.host.problems(request, exc)
        return self.host.page(
            request,
            "suppression.html",
            overview=overview,
            notice=request.query_params.get("done"),
            problems=[],
        )

    async def suppress(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=4) as form:
            address = str(form.get("address", "")).strip()
            note = str(form.get("note", "")).strip() or None

        def record() -> None:
            campaign = verbs.load_campaign(self.file)
            with verbs.open_log(campaign.file, create=True) as log:
                verbs.unsubscribe(log, [address], note=note)

        try:
            await run_in_threadpool(record)
        except DistribError as exc:
            overview = await run_in_threadpool(verbs.workspace_overview, self.file)
            return self.host.page(
                request,
                "suppression.html",
                400,
                overview=overview,
                notice=None,
                problems=_problems(exc),
            )
        return RedirectResponse("/suppression?done=added", status_code=303)

    async def unsuppress(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=4) as form:
            address = str(form.get("address", "")).strip()
            why = str(form.get("reason", "")).strip()
        user = getattr(request.state.session, "user", None)
        by = None if user in (None, "local") else str(user)  # local: this system's user

        def record() -> object:
            campaign = verbs.load_campaign(self.file)
            with verbs.open_log(campaign.file, create=True) as log:
                return verbs.remove_suppression(log, address, why=why, by=by)

        try:
            removed = await run_in_threadpool(record)
        except DistribError as exc:
            overview = await run_in_threadpool(verbs.workspace_overview, self.file)
            return self.host.page(
                request,
                "suppression.html",
                400,
                overview=overview,
                notice=None,
                problems=_problems(exc),
            )
        done = "removed-opt-out" if getattr(removed, "opt_out", False) else "removed"
        return RedirectResponse(f"/suppression?done={done}", status_code=303)

    async def journalist(self, request: Request) -> Response:
        address = request.path_params["address"]

        def read() -> verbs.History:
            campaign = verbs.load_campaign(self.file)
            with verbs.open_log(campaign.file, read_only=True) as log:
                return verbs.contact_history(log, address)

        try:
            history = await run_in_threadpool(read)
        except DistribError as exc:
            return self.host.problems(request, exc)
        releases = {e.id: e.campaign for e in history.entries}  # each reply's release
        return self.host.page(
            request, "journalist.html", history=history, address=address, releases=releases
        )


def list_routes(host: PageHost) -> list[Route]:
    """The routes of the media lists pages."""
    pages = _Lists(host)
    return [
        Route("/lists", pages.index, methods=["GET"]),
        Route("/lists", pages.add, methods=["POST"]),
        Route("/lists/{index:int}/columns", pages.map_columns, methods=["POST"]),
        Route("/suppression", pages.suppression, methods=["GET"]),
        Route("/suppression", pages.suppress, methods=["POST"]),
        Route("/suppression/remove", pages.unsuppress, methods=["POST"]),
        Route("/journalists/{address}", pages.journalist, methods=["GET"]),
    ]
