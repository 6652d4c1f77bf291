"""The workspace settings page of `distrib ui`: organisation, sender, footer, time zone, logo,
relay (with presets) and limits, saved into ``distrib.toml`` by `distrib.app.
update_workspace_settings`.  No password is shown or asked for: it stays in the environment or
the keyring."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from distrib import app as verbs
from distrib.errors import DistribError, ProblemsError
from distrib.web.uploads import UploadRefused, receive_upload

if TYPE_CHECKING:
    from distrib.web.host import PageHost

__all__ = ["settings_routes"]

_IMAGES = ("png", "jpeg", "gif", "webp")


def _current(file: Path) -> tuple[dict[str, str], bool]:
    """Each editable setting's value as the form shows it, and whether the relay signs in with
    OAuth2 (then the page offers "Sign in to the relay"): one read of the file."""
    workspace = verbs.open_workspace(file)
    values: dict[str, str] = {}
    for key in verbs.EDITABLE_SETTINGS:
        found: Any = workspace.raw
        for part in key.split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if found is None:  # not in the file: the default
            model: Any = workspace.settings
            for part in key.split("."):
                model = getattr(model, part, None)
            found = model
        values[key] = "" if found is None else str(found)
    smtp = workspace.settings.smtp
    return values, smtp.auth == "oauth2" and smtp.oauth_provider is not None


class SignIn:
    """The relay's OAuth2 sign-in (`distrib.app.sign_in_relay`), in a thread of its own: the
    address to open (and the code to type) once the sign-in service gave them, then how it
    ended.  The sign-in is kept where a send looks for it; no token is ever shown."""

    def __init__(self, file: Path) -> None:
        self.user = ""
        self.prompt: verbs.SignInPrompt | None = None
        self.kept = ""  # where the sign-in is kept ("" for a service account)
        self.error = ""
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(file,), name="distrib-relay-sign-in",
                         daemon=True).start()  # fmt: skip

    def _run(self, file: Path) -> None:
        try:
            smtp = verbs.load_campaign(file).smtp
            self.user = smtp.username or ""
            self.kept = verbs.sign_in_relay(smtp, self._show).cached_in
        except DistribError as exc:
            self.error = str(exc)
        finally:
            self.done.set()

    def _show(self, prompt: verbs.SignInPrompt) -> None:
        self.prompt = prompt

    @property
    def link(self) -> str:
        """The address to open, when it is one a browser may be sent to (https)."""
        url = self.prompt.url if self.prompt is not None else ""
        return url if url.startswith("https://") else ""


class _Settings:
    def __init__(self, host: PageHost) -> None:
        self.host = host
        self.sign_in: SignIn | None = None

    @property
    def file(self) -> Path:
        return verbs.workspace_file(self.host.settings.workspace)

    async def show(
        self,
        request: Request,
        values: dict[str, str] | None = None,
        problems: list[str] | None = None,
        check: verbs.Preflight | None = None,
    ) -> Response:
        try:
            current, oauth = await run_in_threadpool(_current, self.file)
        except DistribError as exc:
            return self.host.problems(request, exc)
        notice = request.query_params.get("saved")
        return self.host.page(
            request,
            "settings.html",
            400 if problems else 200,
            values=values or current,
            problems=problems or [],
            presets=verbs.relay_presets(),
            notice=notice,
            logo=request.query_params.get("logo"),
            logo_removed=request.query_params.get("logo-removed") == "1",
            check=check,
            oauth=oauth,
        )

    async def save(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=64) as form:
            # Only the fields the form holds: the logo's keys are the logo form's.
            values = {key: str(form[key]) for key in verbs.EDITABLE_SETTINGS if key in form}
        try:
            await run_in_threadpool(verbs.update_workspace_settings, self.file, values)
        except DistribError as exc:
            return await self.show(request, values, _problems(exc))
        return RedirectResponse("/settings?saved=1", status_code=303)

    async def logo(self, request: Request) -> Response:
        """Store the image, then point ``[press] logo`` at it (with its text and width)."""
        async with request.form(max_files=1, max_fields=4, max_part_size=64 * 1024) as form:
            alt, width = str(form.get("logo_alt", "")), str(form.get("logo_width", ""))
            try:
                stored = await receive_upload(
                    form,
                    lambda: verbs.uploads_folder(verbs.load_campaign(self.file)),
                    limit=self.host.settings.max_upload,
                    kinds=_IMAGES,
                )
            except UploadRefused as refused:
                return self.host.refused(request, refused)
            except DistribError as exc:
                return self.host.problems(request, exc)
        where = stored.path.relative_to(self.file.parent).as_posix()
        changes = {"press.logo": where, "press.logo_alt": alt, "press.logo_width": width}
        try:
            await run_in_threadpool(verbs.update_workspace_settings, self.file, changes)
        except DistribError as exc:
            stored.path.unlink(missing_ok=True)
            return await self.show(request, problems=_problems(exc))
        self.host.uploads[stored.name] = stored
        return RedirectResponse(f"/settings?logo={stored.name}", status_code=303)

    async def remove_logo(self, request: Request) -> Response:
        """Take ``[press] logo`` and its text and width away: messages go without a logo (the
        stored image stays among the uploads)."""
        async with request.form(max_files=0, max_fields=4):
            pass  # the CSRF token is the guard's
        changes = {"press.logo": "", "press.logo_alt": "", "press.logo_width": ""}
        try:
            await run_in_threadpool(verbs.update_workspace_settings, self.file, changes)
        except DistribError as exc:
            return await self.show(request, problems=_problems(exc))
        return RedirectResponse("/settings?logo-removed=1", status_code=303)

    async def relay_check(self, request: Request) -> Response:
        """ "Test the connection": the relay check with the saved settings (no DNS, no
        release's messages), each step shown."""
        async with request.form(max_files=0, max_fields=4):
            pass  # the CSRF token is the guard's

        def check() -> verbs.Preflight:
            campaign = verbs.load_campaign(self.file)
            return verbs.relay_check(campaign, dns=False, messages=False)

        try:
            found = await run_in_threadpool(check)
        except DistribError as exc:
            return await self.show(request, problems=_problems(exc))
        return await self.show(request, check=found)

    async def start_sign_in(self, request: Request) -> Response:
        """ "Sign in to the relay": start the sign-in (unless one is under way), then show it."""
        async with request.form(max_files=0, max_fields=4):
            pass  # the CSRF token is the guard's
        if self.sign_in is None or self.sign_in.done.is_set():
            self.sign_in = SignIn(self.file)
        return RedirectResponse("/settings/relay-login", status_code=303)

    async def sign_in_page(self, request: Request) -> Response:
        """The sign-in under way (the address to open, the code), or how it ended; the page
        reloads itself every two seconds until it ends."""
        return self.host.page(request, "relay_login.html", sign_in=self.sign_in)


def _problems(exc: DistribError) -> list[str]:
    return [str(p) for p in exc.problems] if isinstance(exc, ProblemsError) else [str(exc)]


def settings_routes(host: PageHost) -> list[Route]:
    """The routes of the settings page."""
    pages = _Settings(host)
    return [
        Route("/settings", pages.show, methods=["GET"]),
        Route("/settings", pages.save, methods=["POST"]),
        Route("/settings/logo", pages.logo, methods=["POST"]),
        Route("/settings/logo/remove", pages.remove_logo, methods=["POST"]),
        Route("/settings/relay-check", pages.relay_check, methods=["POST"]),
        Route("/settings/relay-login", pages.start_sign_in, methods=["POST"]),
        Route("/settings/relay-login", pages.sign_in_page, methods=["GET"]),
    ]
