"""The releases pages of `distrib ui`: the list, a new release, editing one language's text
(with a live preview of the body in a sandboxed frame), importing a Word file / web page / text,
attachments by upload, and the release's audience with a live count.

Handlers parse the form, call `distrib.app`, and render; the rules live in the verbs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from distrib import app as verbs
from distrib.errors import DistribError, ProblemsError
from distrib.web.uploads import StoredUpload, UploadRefused, receive_upload

if TYPE_CHECKING:
    from distrib.web.host import PageHost

__all__ = ["release_routes"]

_TEXT_FIELDS = ("title", "subject", "dateline", "summary", "embargo", "hold_until", "body")
_IMPORT_KINDS = ("docx", "html", "txt")
_ATTACHMENT_KINDS = ("pdf", "png", "jpeg", "gif", "webp")
#: How the body's preview is framed: the message's own fonts, nothing fetched.
_PREVIEW = (
    '<!doctype html><html><head><meta charset="utf-8"><style>body{{font-family:Georgia,serif;'
    "max-width:40rem;margin:1rem auto;padding:0 1rem;color:#1b1f24;line-height:1.5}}</style>"
    "</head><body>{body}</body></html>"
)


def _problems(exc: DistribError) -> list[str]:
    if isinstance(exc, ProblemsError):
        return [str(problem) for problem in exc.problems]
    return [str(exc)]


class _Releases:
    def __init__(self, host: PageHost) -> None:
        self.host = host

    @property
    def file(self) -> Path:
        return verbs.workspace_file(self.host.settings.workspace)

    def _frame(self, markdown: str) -> str:
        return self.host.frames.add(_PREVIEW.format(body=verbs.markdown_html(markdown)))

    async def index(self, request: Request, problems: list[str] | None = None) -> Response:
        try:
            releases = await run_in_threadpool(verbs.list_releases, self.file)
        except DistribError as exc:
            return self.host.problems(request, exc)
        status = 400 if problems else 200
        return self.host.page(
            request, "releases.html", status, releases=releases, problems=problems or []
        )

    async def create(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=4) as form:
            slug = str(form.get("slug", "")).strip()
        try:
            await run_in_threadpool(verbs.create_release, slug, self.file)
        except DistribError as exc:
            return await self.index(request, _problems(exc))
        return RedirectResponse(f"/releases/{slug}", status_code=303)

    async def edit(
        self,
        request: Request,
        *,
        text: Any = None,
        problems: list[str] | None = None,
        notice: str | None = None,
    ) -> Response:
        slug = request.path_params["slug"]
        lang = request.path_params.get("lang") or request.query_params.get("lang", "fr")
        if lang not in ("fr", "en"):
            lang = "fr"
        try:
            if text is None:
                text = await run_in_threadpool(verbs.read_release_text, self.file, slug, lang)
            frame = await run_in_threadpool(self._frame, text.body)
        except DistribError as exc:
            return self.host.problems(request, exc)
        return self.host.page(
            request,
            "release.html",
            400 if problems else 200,
            slug=slug,
            release_slug=slug,
            text=text,
            frame=frame,
            problems=problems or [],
            notice=notice,
        )

    async def save(self, request: Request) -> Response:
        slug, lang = request.path_params["slug"], request.path_params["lang"]
        async with request.form(max_files=0, max_fields=16) as form:
            values = {key: str(form.get(key, "")) for key in _TEXT_FIELDS}
        try:
            current = await run_in_threadpool(verbs.read_release_text, self.file, slug, lang)
        except DistribError as exc:
            return self.host.problems(request, exc)
        text = verbs.ReleaseText(
            lang,
            title=values["title"],
            subject=values["subject"],
            dateline=values["dateline"],
            summary=values["summary"],
            embargo=values["embargo"],
            hold_until=values["hold_until"],
            body=values["body"],
            zone=current.zone,
            attachments=current.attachments,
            others=current.others,
        )
        try:
            await run_in_threadpool(verbs.save_release_text, self.file, slug, text)
        except DistribError as exc:
            return await self.edit(request, text=text, problems=_problems(exc))
        return RedirectResponse(f"/releases/{slug}/text/{lang}?saved=1", status_code=303)

    async def show(self, request: Request) -> Response:
        saved = request.query_params.get("saved") == "1"
        return await self.edit(request, notice="saved" if saved else None)

    async def preview(self, request: Request) -> Response:
        async with request.form(max_files=0, max_fields=4) as form:
            body = str(form.get("body", ""))
        frame = await run_in_threadpool(self._frame, body)
        return JSONResponse({"frame": frame})

    async def _upload(self, form: FormData, kinds: tuple[str, ...], folder: Path) -> StoredUpload:
        return await receive_upload(
            form, lambda: folder, limit=self.host.settings.max_upload, kinds=kinds
        )

    async def import_text(self, request: Request) -> Response:
        slug, lang = request.path_params["slug"], request.path_params["lang"]
        async with request.form(max_files=1, max_fields=4, max_part_size=64 * 1024) as form:
            replace = form.get("replace") == "1"
            try:
                campaign = await run_in_threadpool(verbs.load_campaign, self.file)
                stored = await self._upload(form, _IMPORT_KINDS, verbs.uploads_folder(campaign))
            except UploadRefused as refused:
                return self.host.refused(request, refused)
            except DistribError as exc:
                return self.host.problems(request, exc)
        try:
            current = await run_in_threadpool(verbs.read_release_text, self.file, slug, lang)
            folder = await run_in_threadpool(verbs.release_path, self.file, slug)
            await run_in_threadpool(
                lambda: verbs.import_release(
                    [stored.path], release=folder, lang=lang, tz=current.zone, force=replace
                )
            )
        except DistribError as exc:
            return await self.edit(request, problems=_problems(exc))
        return RedirectResponse(f"/releases/{slug}/text/{lang}?saved=1", status_code=303)

    async def attach(self, request: Request) -> Response:
        slug, lang = request.path_params["slug"], request.path_params["lang"]
        async with request.form(max_files=1, max_fields=4, max_part_size=64 * 1024) as form:
            try:
                folder = await run_in_threadpool(verbs.release_path, self.file, slug)
                stored = await self._upload(form, _ATTACHMENT_KINDS, folder)
            except UploadRefused as refused:
                return self.host.refused(request, refused)
            except DistribError as exc:
                return self.host.problems(request, exc)
        try:
            await run_in_threadpool(verbs.attach_to_release, self.file, slug, lang, stored.path)
        except DistribError as exc:
            stored.path.unlink(missing_ok=True)
            return await self.edit(request, problems=_problems(exc))
        return RedirectResponse(f"/releases/{slug}/text/{lang}?saved=1", status_code=303)

    # -- audience ---------------------------------------------------------------------------

    def _choice(self, form: FormData, options: Any) -> Any:
        include: dict[str, tuple[str, ...]] = {}
        exclude: dict[str, tuple[str, ...]] = {}
        for column in options.values:
            include[column] = tuple(str(v) for v in form.getlist(f"only.{column}"))
            exclude[column] = tuple(str(v) for v in form.getlist(f"never.{column}"))
        segments = tuple(str(v) for v in form.getlist("segment") if v in options.segments)
        return verbs.AudienceChoice(include, exclude, segments)

    async def audience(
        self, request: Request, *, choice: Any = None, problems: list[str] | None = None
    ) -> Response:
        slug = request.path_params["slug"]
        try:
            options = await run_in_threadpool(verbs.audience_options, self.file, slug)
            choice = choice or options.current
            summary = await run_in_threadpool(verbs.count_audience, self.file, slug, choice)
        except DistribError as exc:
            if choice is None:
                return self.host.problems(request, exc)
            summary, problems = None, [*(problems or []), *_problems(exc)]
        saved = request.query_params.get("saved") == "1"
        return self.host.page(
            request,
            "audience.html",
            400 if problems else 200,
            slug=slug,
            release_slug=slug,
            options=options,
            choice=choice,
            summary=summary,
            problems=problems or [],
            notice="saved" if saved else None,
        )

    async def audience_save(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        try:
            options = await run_in_threadpool(verbs.audience_options, self.file, slug)
        except DistribError as exc:
            return self.host.problems(request, exc)
        async with request.form(max_files=0, max_fields=2000) as form:
            choice = self._choice(form, options)
        try:
            await run_in_threadpool(verbs.save_audience, self.file, slug, choice)
        except DistribError as exc:
            return await self.audience(request, choice=choice, problems=_problems(exc))
        return RedirectResponse(f"/releases/{slug}/audience?saved=1", status_code=303)

    async def audience_count(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        try:
            options = await run_in_threadpool(verbs.audience_options, self.file, slug)
            async with request.form(max_files=0, max_fields=2000) as form:
                choice = self._choice(form, options)
            summary = await run_in_threadpool(verbs.count_audience, self.file, slug, choice)
        except DistribError as exc:
            return JSONResponse({"problems": _problems(exc)}, status_code=400)
        return JSONResponse(
            {
                "merged": summary.merged,
                "kept": summary.kept,
                "left_out": [[rule, summary.left_out.get(rule, 0)] for rule in summary.rules],
            }
        )


def release_routes(host: PageHost) -> list[Route]:
    """The routes of the releases pages."""
    pages = _Releases(host)
    return [
        Route("/releases", pages.index, methods=["GET"]),
        Route("/releases/new", pages.create, methods=["POST"]),
        Route("/releases/{slug}", pages.show, methods=["GET"]),
        Route("/releases/{slug}/audience", pages.audience, methods=["GET"]),
        Route("/releases/{slug}/audience", pages.audience_save, methods=["POST"]),
        Route("/releases/{slug}/audience/count", pages.audience_count, methods=["POST"]),
        Route("/releases/{slug}/body-preview", pages.preview, methods=["POST"]),
        Route("/releases/{slug}/text/{lang:str}", pages.show, methods=["GET"]),
        Route("/releases/{slug}/text/{lang:str}", pages.save, methods=["POST"]),
        Route("/releases/{slug}/text/{lang:str}/import", pages.import_text, methods=["POST"]),
        Route("/releases/{slug}/text/{lang:str}/attach", pages.attach, methods=["POST"]),
    ]
