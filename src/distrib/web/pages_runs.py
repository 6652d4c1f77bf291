"""Runs and their reports in `distrib ui`.

``/runs``                  every run of the workspace's log, filtered by state, or by an address
                           (the runs that wrote to it)
``/runs/{id}``             the run's report (`distrib.app.run_report`; the HTML report of
                           `distrib report --html`, in a sandboxed frame), its messages filtered
                           by state and address, its unknown messages with the form that settles
                           them (`distrib.app.resolve_unknown`), bounces and replies as the log
                           has them once read
``/runs/{id}/export.csv``  the messages shown, as `distrib log --format csv|xlsx` exports them
``/runs/{id}/export.xlsx`` (formula-like cells neutralised)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from distrib import app as verbs
from distrib.errors import DistribError, NoLogError

if TYPE_CHECKING:
    from distrib.web.pages import PageHost

__all__ = ["RunsPages"]

#: Messages listed on a run's page (the exports hold them all).
SHOWN = 500
_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class RunsPages:
    """The handlers of the runs list, a run's page, its exports and the unknown messages."""

    def __init__(self, pages: PageHost) -> None:
        self.pages = pages

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/runs", self.runs, methods=["GET"]),
            Route("/runs/{run:int}", self.run, methods=["GET"]),
            Route("/runs/{run:int}/export.{fmt:str}", self.export, methods=["GET"]),
            Route("/runs/{run:int}/resolve", self.resolve, methods=["POST"]),
        ]

    async def runs(self, request: Request) -> Response:
        state = request.query_params.get("state", "")
        address = request.query_params.get("q", "").strip()
        try:
            listed = await run_in_threadpool(self._runs, state, address)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        return self.pages.page(
            request, "runs.html", runs=listed, state=state, q=address,
            states=sorted({s.run.status for s in listed} | {state} - {""}),
        )  # fmt: skip

    def _runs(self, state: str, address: str) -> list[Any]:
        try:
            log = verbs.open_log(self.pages.settings.workspace, read_only=True)
        except NoLogError:
            return []
        with log:
            summaries = list(reversed(verbs.list_runs(log)))
            if address:
                where = verbs.make_filter(address=address)
                wrote = {e.run for e in verbs.log_entries(log, None, where)}
                summaries = [s for s in summaries if s.run.id in wrote]
        return [s for s in summaries if not state or s.run.status == state]

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run"]
        state = request.query_params.get("state", "")
        address = request.query_params.get("q", "").strip()
        lang = _lang(request)
        try:
            shown = await run_in_threadpool(self._run, run_id, state, address, lang)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        frame = self.pages.frames.add(shown.pop("html"))
        return self.pages.page(
            request, "run.html", frame=frame, state=state, q=address, shown_max=SHOWN, **shown
        )

    def _run(self, run_id: int, state: str, address: str, lang: str) -> dict[str, Any]:
        with verbs.open_log(self.pages.settings.workspace, read_only=True) as log:
            report = verbs.run_report(log, run_id)
            where = verbs.make_filter(states=(state,) if state else (), address=address or None)
            entries = verbs.log_entries(log, run_id, where)
            unknown = verbs.unknown_messages(log, report.run)
            html = verbs.html_report(report, zone=None, source=verbs.log_name(log), language=lang)
        return {
            "report": report,
            "entries": entries[:SHOWN],
            "matching": len(entries),
            "unknown": unknown,
            "html": html,
            "states": list(verbs.STATE_ORDER),
            "actions": verbs.ACTIONS,
        }

    async def export(self, request: Request) -> Response:
        run_id, fmt = request.path_params["run"], request.path_params["fmt"]
        if fmt not in _MEDIA:
            return await self.pages.not_found(request, Exception())
        state = request.query_params.get("state", "")
        address = request.query_params.get("q", "").strip()

        def build() -> bytes:
            with verbs.open_log(self.pages.settings.workspace, read_only=True) as log:
                run = verbs.find_run(log, run_id)
                where = verbs.make_filter(states=(state,) if state else (), address=address or None)
                return verbs.export_run(log, run, fmt, where)

        try:
            data = await run_in_threadpool(build)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        name = f"run-{run_id}.{fmt}"
        return Response(
            data,
            media_type=_MEDIA[fmt],
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    async def resolve(self, request: Request) -> Response:
        run_id = request.path_params["run"]
        async with request.form(max_files=0, max_fields=6) as form:
            address = str(form.get("address", "")).strip()
            action = str(form.get("action", ""))
            note = str(form.get("note", "")).strip()

        def settle() -> None:
            if action not in verbs.ACTIONS:
                raise verbs_error(f"unknown action {action!r}")
            with verbs.open_log(self.pages.settings.workspace) as log:
                run = verbs.find_run(log, run_id)
                verbs.resolve_unknown(
                    log, run, [address], action,
                    note=note or "settled from the web interface",
                )  # fmt: skip

        try:
            await run_in_threadpool(settle)
        except DistribError as exc:
            return self.pages.problems(request, exc)
        return RedirectResponse(f"/runs/{run_id}", status_code=303)


def verbs_error(text: str) -> DistribError:
    from distrib.errors import InvalidRequestError

    return InvalidRequestError(text)


def _lang(request: Request) -> str:
    from distrib.web.pages import language_of

    return language_of(request)
