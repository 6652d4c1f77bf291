"""`distrib unsubscribe-server`: the page behind each message's one-click unsubscribe link.

Deployed behind an HTTPS reverse proxy at the campaign's ``unsubscribe_url``
(``https://presse.example/u/{token}``), sharing the workspace's delivery log:

``GET /u/TOKEN``   a page in French and English with one button (a form that POSTs back);
                   nothing is recorded by looking (mail scanners follow links)
``POST /u/TOKEN``  RFC 8058 one-click (body ``List-Unsubscribe=One-Click``, sent by the mail
                   client or by the button): the token is checked
                   (`distrib.app.unsubscribe_by_token`), the opt-out recorded in the log, and
                   the answer is 200 with the confirmation, also when the address was already
                   unsubscribed
anything else      404

An unknown, forged or foreign token (another secret, another workspace) gets 404 and the same
page whatever the reason; a body without ``List-Unsubscribe=One-Click`` gets 400.  No page
shows the address.  There is no CSRF token by design (a mail client posts from nowhere); the
token in the URL is the capability, and all a POST can do is take its own recipient off the
list.  No request is logged (the URL holds the token).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from distrib import app as verbs
from distrib.errors import DistribError
from distrib.web.pages import STATIC, make_templates
from distrib.web.security import (
    TOO_LARGE,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    plain,
    read_limited,
    replay,
    security_headers,
)

if TYPE_CHECKING:
    from distrib.app import TokenIndex

__all__ = ["MAX_BODY", "UNSUBSCRIBE_CSP", "create_unsubscribe_app"]

UNSUBSCRIBE_CSP = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none';"
    " base-uri 'none'"
)
#: A one-click body is one short field; anything longer is not one.
MAX_BODY = 4096


def create_unsubscribe_app(workspace: Path, index: TokenIndex) -> ASGIApp:
    """The unsubscribe server of ``workspace`` (its file), finding tokens with ``index``."""
    templates = make_templates()
    location = verbs.locate_log(workspace)

    def known(token: str) -> bool:
        with verbs.open_log(log=location) as log:
            return verbs.token_known(log, token, index)

    def record(token: str) -> bool:
        with verbs.open_log(log=location) as log:
            return verbs.unsubscribe_by_token(log, token, index).accepted

    def page(request: Request, state: str, status: int) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "unsubscribe.html", {"state": state}, status_code=status
        )

    async def show(request: Request) -> Response:
        try:
            found = await run_in_threadpool(known, request.path_params["token"])
        except DistribError:  # the log cannot be read: say so, never show why
            return page(request, "unavailable", 503)
        return page(request, "ask", 200) if found else page(request, "unknown", 404)

    async def unsubscribe(request: Request) -> Response:
        async with request.form(max_files=0, max_fields=4) as form:
            one_click = form.get("List-Unsubscribe") == "One-Click"
        if not one_click:
            return page(request, "bad", 400)
        try:
            recorded = await run_in_threadpool(record, request.path_params["token"])
        except DistribError:
            return page(request, "unavailable", 503)
        return page(request, "done", 200) if recorded else page(request, "unknown", 404)

    async def nowhere(request: Request, exc: Exception | None = None) -> Response:
        return page(request, "unknown", 404)

    application = Starlette(
        routes=[
            Route("/u/{token}", show, methods=["GET"]),
            Route("/u/{token}", unsubscribe, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        exception_handlers={404: nowhere, 405: nowhere},
    )
    return _Guard(application)


class _Guard:
    """Headers on every answer; a body over `MAX_BODY` is refused (413), never read past it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        inner = send

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(security_headers(UNSUBSCRIBE_CSP))
                message["headers"] = headers
            await inner(message)

        if scope.get("method") == "POST":
            body = await read_limited(scope, receive, MAX_BODY)
            if body is None:
                return
            if body is TOO_LARGE:
                await plain(sending, 413, "Too large")
                return
            receive = replay(body, receive)
        await self.app(scope, receive, sending)
