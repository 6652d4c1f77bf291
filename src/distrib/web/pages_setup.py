"""Creating the workspace from the browser: `distrib ui DIR` on a folder without a workspace
starts anyway, and every page leads to ``/setup`` until the officer has named the organisation,
the sender, the time zone and the language (`distrib.app.start_workspace`); then the home page.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from distrib import app as verbs
from distrib.errors import DistribError, ProblemsError

if TYPE_CHECKING:
    from distrib.web.host import PageHost

__all__ = ["SetupFirst", "setup_routes"]

#: The form's fields, in order: the `WorkspaceIdentity` attribute each fills.
FIELDS = ("organisation", "name", "address", "time_zone", "language")
#: What a server without a workspace still serves.
_OPEN = ("/setup", "/lang", "/logout", "/static/")


class SetupFirst:
    """ASGI middleware: while the workspace does not exist, every page leads to ``/setup``."""

    def __init__(self, app: ASGIApp, host: PageHost) -> None:
        self.app = app
        self.host = host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] == "http"
            and self.host.settings.setup
            and not any(path == p or (p.endswith("/") and path.startswith(p)) for p in _OPEN)
        ):
            await RedirectResponse("/setup", status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Setup:
    def __init__(self, host: PageHost) -> None:
        self.host = host

    @property
    def folder(self) -> Path:
        return Path(self.host.settings.workspace)

    def _show(
        self, request: Request, values: dict[str, str], problems: list[str], status: int = 200
    ) -> Response:
        return self.host.page(
            request,
            "setup.html",
            status,
            folder=str(self.folder),
            values=values,
            problems=problems,
        )

    async def show(self, request: Request) -> Response:
        if not self.host.settings.setup:
            return RedirectResponse("/", status_code=303)
        defaults = {"time_zone": "America/Toronto", "language": "fr"}
        return self._show(request, defaults, [])

    async def create(self, request: Request) -> Response:
        if not self.host.settings.setup:
            return RedirectResponse("/", status_code=303)
        async with request.form(max_files=0, max_fields=16) as form:
            values = {name: str(form.get(name, "")).strip() for name in FIELDS}
        identity = verbs.WorkspaceIdentity(**values)
        try:
            await run_in_threadpool(verbs.start_workspace, self.folder, identity)
            file = await run_in_threadpool(verbs.workspace_file, self.folder)
        except DistribError as exc:
            problems = (
                [str(p) for p in exc.problems] if isinstance(exc, ProblemsError) else [str(exc)]
            )
            return self._show(request, values, problems, 400)
        except FileExistsError as exc:
            return self._show(request, values, [f"{exc}: exists already"], 400)
        self.host.settings = replace(self.host.settings, workspace=file, setup=False)
        return RedirectResponse("/", status_code=303)


def setup_routes(host: PageHost) -> list[Route]:
    """The routes of the new workspace's page."""
    pages = _Setup(host)
    return [
        Route("/setup", pages.show, methods=["GET"]),
        Route("/setup", pages.create, methods=["POST"]),
    ]
