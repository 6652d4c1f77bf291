"""`distrib ui`: the workspace in a browser (Starlette).  This module is its foundation: the
application, its guard (`distrib.web.security`), the layout, the home page, uploads, the
sandboxed frame and the language switch; the workspace's own pages are added here as routes.

Every handler parses the request, calls `distrib.app`, and renders a template; nothing here
decides anything about contacts, releases or sending.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from distrib import app as verbs
from distrib.errors import DistribError, ProblemsError
from distrib.web.frames import FRAME_CSP, FrameStore
from distrib.web.i18n import LANGUAGES, negotiate, translator
from distrib.web.pages import STATIC, language_of, make_templates, render_page, warm_templates
from distrib.web.pages_lists import list_routes
from distrib.web.pages_preview import PreviewPages
from distrib.web.pages_releases import release_routes
from distrib.web.pages_runs import RunsPages
from distrib.web.pages_sending import SendingPages
from distrib.web.pages_settings import settings_routes
from distrib.web.pages_setup import SetupFirst, setup_routes
from distrib.web.security import (
    LOOPBACK_HOSTS,
    GuardSettings,
    Scope,
    Session,
    SessionStore,
    WorkspaceGuard,
    session_cookie,
)
from distrib.web.uploads import KINDS, N_, StoredUpload, UploadRefused, receive_upload

__all__ = ["MAX_UPLOAD", "UiSettings", "create_app", "new_access_token"]

#: The largest file a browser may send (20 MB: a big media list, a Word release with images).
MAX_UPLOAD = 20 * 1024 * 1024
#: What a multipart body may add around the file (boundaries, headers, the CSRF field).
_FORM_OVERHEAD = 64 * 1024


def new_access_token() -> str:
    """A random access key for a local server (256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class UiSettings:
    """How `distrib ui` serves one workspace.

    ``workspace``: the workspace's file (with ``setup``: the folder to create it in).
    ``access_token``: the key of a local server; None on a team server (``team``), which signs
    officers in with the accounts of ``users.toml``.  ``allowed_hosts``: the names the Host
    header may hold.  ``secure_cookies``: only over HTTPS (a team server behind its proxy).
    """

    workspace: Path
    access_token: str | None
    team: bool = False
    allowed_hosts: frozenset[str] = LOOPBACK_HOSTS
    max_upload: int = MAX_UPLOAD
    secure_cookies: bool = False
    typed_confirmation: int = 50  # from this many recipients on, the count is typed to send
    setup: bool = False  # ``workspace`` is a folder with no workspace yet: offer to create it


class _Pages:
    """The handlers of `create_app`, sharing the templates, the sessions and the state."""

    def __init__(self, settings: UiSettings) -> None:
        self.settings = settings
        self.templates = make_templates()
        self.sessions = SessionStore()
        self.frames = FrameStore()
        self.uploads: dict[str, StoredUpload] = {}

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        return render_page(
            self.templates,
            request,
            name,
            status,
            team=self.settings.team,
            setup=self.settings.setup,
            **values,
        )

    def denied(self, scope: Scope, status: int, reason: str) -> bytes:
        """The page of a request the guard refuses, in the browser's language."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        lang = negotiate(headers.get("accept-language"))
        _ = translator(lang)
        if status == 401:
            title = _("Access denied")
            text = _(
                "Open the address that `distrib ui` printed in its terminal (it holds the"
                " access key)."
            )
        elif reason == "wrong token":
            title, text = _("Access denied"), _("This access key is not the one of this server.")
        elif status == 413:
            title = _("The file was refused")
            text = _("The file is larger than {size}.", size=_megabytes(self.settings.max_upload))
        else:
            title = _("Request refused")
            text = _(
                "This form has expired or did not come from this page. Go back, reload the"
                " page and try again."
            )
        template = self.templates.get_template("denied.html")
        return template.render(lang=lang, _=_, title=title, text=text).encode("utf-8")

    async def home(self, request: Request) -> Response:
        try:
            overview = await run_in_threadpool(verbs.workspace_overview, self.settings.workspace)
        except DistribError as exc:
            return self.problems(request, exc)
        return self.page(request, "home.html", overview=overview)

    async def uploads_page(self, request: Request) -> Response:
        session: Session = request.state.session
        notices, session.notices = list(session.notices), []
        return self.page(
            request,
            "uploads.html",
            uploads=list(self.uploads.values()),
            notices=notices,
            limit=_megabytes(self.settings.max_upload),
            accept=",".join(ext for exts, _, _ in KINDS.values() for ext in exts),
        )

    async def upload(self, request: Request) -> Response:
        def folder() -> Path:
            return verbs.uploads_folder(verbs.load_campaign(self.settings.workspace))

        async with request.form(max_files=1, max_fields=4, max_part_size=64 * 1024) as form:
            try:
                stored = await receive_upload(
                    form, folder, limit=self.settings.max_upload, kinds=tuple(KINDS)
                )
            except UploadRefused as refused:
                return self.refused(request, refused)
            except DistribError as exc:
                return self.problems(request, exc)
        self.uploads[stored.name] = stored
        session: Session = request.state.session
        session.notices.append(stored.given_name)
        return RedirectResponse("/uploads", status_code=303)

    async def view_upload(self, request: Request) -> Response:
        stored = self.uploads.get(request.path_params["name"])
        if stored is None or stored.kind != "html":
            raise HTTPException(404)
        data = await run_in_threadpool(stored.path.read_bytes)
        frame = self.frames.add(data.decode("utf-8", "replace"))
        return self.page(request, "upload_view.html", stored=stored, frame=frame)

    async def frame(self, request: Request) -> Response:
        html = self.frames.get(request.path_params["frame_id"])
        if html is None:
            raise HTTPException(404)
        return HTMLResponse(html, headers={"content-security-policy": FRAME_CSP})

    async def language(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=4) as form:
            chosen, going = form.get("lang"), form.get("next")
        session: Session = request.state.session
        if chosen in LANGUAGES:
            session.lang = str(chosen)
        return RedirectResponse(_local(going), status_code=303)

    async def login(self, request: Request) -> Response:
        if not self.settings.team:
            raise HTTPException(404)
        if request.method == "GET":
            return self.page(request, "login.html", failed=False)
        async with request.form(max_files=0, max_fields=4) as form:
            name, password = str(form.get("name", "")), str(form.get("password", ""))
        file = verbs.accounts_file(self.settings.workspace)
        accounts = await run_in_threadpool(verbs.load_accounts, file)
        account = await run_in_threadpool(verbs.check_login, accounts, name, password)
        if account is None:
            return self.page(request, "login.html", status=401, failed=True)
        old: Session = request.state.session
        self.sessions.drop(old)  # a new session id on sign-in: a planted cookie is worth nothing
        fresh = self.sessions.new(account.name)
        fresh.lang = old.lang
        response = RedirectResponse("/", status_code=303)
        response.headers.append("set-cookie", session_cookie(fresh, self.settings.secure_cookies))
        return response

    async def logout(self, request: Request) -> Response:
        self.sessions.drop(request.state.session)
        return RedirectResponse("/login" if self.settings.team else "/", status_code=303)

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return self.page(
            request,
            "message.html",
            status,
            title=N_("Not found"),
            text=N_("There is no such page."),
        )

    def refused(self, request: Request, refused: UploadRefused) -> Response:
        _ = translator(language_of(request))
        values = {name: _(value) for name, value in refused.values.items()}
        text = _(refused.message, **values)
        return self.page(request, "refused.html", status=refused.status, text=text)

    def problems(self, request: Request, exc: DistribError) -> Response:
        problems = [str(p) for p in exc.problems] if isinstance(exc, ProblemsError) else []
        summary = (exc.summary or "") if isinstance(exc, ProblemsError) else str(exc)
        return self.page(request, "problems.html", summary=summary, problems=problems)


def create_app(settings: UiSettings, *, warm: bool = False) -> Starlette:
    """The ASGI application of `distrib ui` for ``settings``; ``warm``: its pages compiled and
    its catalogues read now rather than by the first requests (`warm_templates`)."""
    pages = _Pages(settings)
    if warm:
        warm_templates(pages.templates)
    guard = GuardSettings(
        access_token=settings.access_token,
        team=settings.team,
        allowed_hosts=settings.allowed_hosts,
        max_body=settings.max_upload + _FORM_OVERHEAD,
        secure_cookies=settings.secure_cookies,
    )
    routes = [
        Route("/", pages.home),
        Route("/uploads", pages.uploads_page, methods=["GET"]),
        Route("/uploads", pages.upload, methods=["POST"]),
        Route("/uploads/{name}/view", pages.view_upload),
        Route("/frame/{frame_id}", pages.frame),
        Route("/lang", pages.language, methods=["POST"]),
        Route("/login", pages.login, methods=["GET", "POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        *PreviewPages(pages).routes(),
        *SendingPages(pages).routes(),
        *RunsPages(pages).routes(),
        *setup_routes(pages),
        *settings_routes(pages),
        *list_routes(pages),
        *release_routes(pages),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    checks = Middleware(
        WorkspaceGuard, settings=guard, sessions=pages.sessions, render_denied=pages.denied
    )
    return Starlette(
        routes=routes,
        middleware=[checks, Middleware(SetupFirst, host=pages)],
        exception_handlers={404: pages.not_found, 405: pages.not_found},
    )


def _local(target: object) -> str:
    """``target`` if it is a path on this server, else ``/`` (no open redirect)."""
    if (
        isinstance(target, str)
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not any(ord(c) < 32 for c in target)
    ):
        return target
    return "/"


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:g} MB" if size >= 1_048_576 else f"{size / 1024:g} KB"
