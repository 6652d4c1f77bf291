"""The pages' Jinja2 environment: autoescaped, strict, with ``_`` in the visitor's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from distrib.web.i18n import LANGUAGES, negotiate, translator

__all__ = ["HERE", "STATIC", "PageHost", "language_of", "make_templates", "render_page"]

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


class PageHost(Protocol):
    """What the pages of `distrib.web.pages_preview`, `pages_sending` and `pages_runs` use of
    the application's shared handlers (`distrib.web.workspace`)."""

    settings: Any  # UiSettings
    frames: Any  # FrameStore

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        """Render page ``name`` in the visitor's language."""

    def problems(self, request: Request, exc: Any) -> Response:
        """The page of a `DistribError`."""

    async def not_found(self, request: Request, exc: Exception) -> Response:
        """The 404 page."""


def make_templates() -> Jinja2Templates:
    """The templates of ``web/templates``; every value is escaped unless marked safe."""
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(("html",), default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["LANGUAGES"] = LANGUAGES
    environment.globals["LANGUAGE_NAMES"] = LANGUAGE_NAMES
    return Jinja2Templates(env=environment)


def warm_templates(templates: Jinja2Templates) -> list[str]:
    """Compile every page of ``templates`` and read the interface's catalogues now (a server
    does it before it gives its address: the first page opened, a preview's among them, does
    not wait for them).  Return the pages compiled."""
    names = templates.env.list_templates(extensions=["html"])
    for name in names:
        templates.get_template(name)
    for language in LANGUAGES:
        translator(language)
    return names


def language_of(request: Request) -> str:
    """The session's chosen language, else the browser's preference."""
    session = request.scope.get("state", {}).get("session")
    chosen = getattr(session, "lang", None)
    if chosen in LANGUAGES:
        return str(chosen)
    return negotiate(request.headers.get("accept-language"))


def render_page(
    templates: Jinja2Templates,
    request: Request,
    name: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render page ``name`` with what every page needs (language, ``_``, CSRF token, user)."""
    lang = language_of(request)
    session = request.scope.get("state", {}).get("session")
    context = {
        "lang": lang,
        "_": translator(lang),
        "csrf": getattr(session, "csrf", ""),
        "user": getattr(session, "user", None),
        "path": request.url.path,
        **values,
    }
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["content-language"] = lang
    return response
