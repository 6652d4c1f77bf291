"""Previewing a release: every journalist's message rendered, nothing sent, whatever the embargo.

`collect_preview` renders each contact's message once and keeps the outcome.
`collect_and_write_preview` does the same and writes each message as files (``.eml``, ``.html``)
as soon as it is rendered, then an index: one rendering per message, nothing held
(`write_preview` writes a `PreviewSet` collected earlier, rendering each message again).  The
local preview page (`distrib.web.preview_server`, an interface) serves a `LivePreview`, which
collects the preview again whenever the release, the templates, the contact lists, the outlets
sheet or the campaign (or workspace) file change.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import DistribError
from distrib.preview import PreviewEntry, PreviewSet, PreviewWriter

if TYPE_CHECKING:
    from distrib.app.audience import Selection
    from distrib.config import Campaign
    from distrib.render import RenderedMessage

__all__ = [
    "LivePreview",
    "PreviewWritten",
    "collect_and_write_preview",
    "collect_preview",
    "live_preview",
    "write_preview",
]


@dataclass(frozen=True, slots=True)
class PreviewWritten:
    """Where a preview was written and how many messages it holds."""

    folder: Path
    index: Path
    written: int


def collect_preview(
    campaign: Campaign,
    *,
    token: str = "preview",  # noqa: S107
    selection: Selection | None = None,
    on_message: Callable[[RenderedMessage], object] | None = None,
) -> PreviewSet:
    """Load the release's audience and release, render every contact's message once, and keep
    the outcomes.

    The delivery log's suppression list (opt-outs, hard bounces) sets people aside and the
    audience rules (the release's, and ``selection``: the command's ``--only``/``--exclude``)
    narrow the lists as `send` will; the log is only read.  A contact whose language fell back
    (blank or unknown in the list) has that warning with the message's own.  ``on_message``
    gets each message that renders (unsigned, as `PreviewSet.render` would give it again), in
    audience order, as soon as it is rendered.
    """
    from datetime import UTC

    from distrib.app.audience import load_audience
    from distrib.errors import RenderError
    from distrib.release import load_release
    from distrib.render import Renderer, make_message_id

    book = load_audience(campaign, selection)
    renderer = Renderer(campaign, load_release(campaign))
    date = datetime.now(UTC).astimezone().replace(microsecond=0)
    entries = []
    # The contacts and the renderer live until the end: keep the garbage collector from
    # scanning them again at each full collection (its cost grew faster than the list).
    gc.collect()
    gc.freeze()
    try:
        for number, contact in enumerate(book.contacts, start=1):
            message_id = make_message_id(token, contact.key, campaign.sender.domain)
            try:
                rendered = renderer.render(contact, message_id=message_id, date=date, sign=False)
            except RenderError as exc:
                entries.append(
                    PreviewEntry(number, contact, contact.language, "", 0, message_id, exc.problems)
                )
                continue
            fallback = book.fallbacks.get(contact.key)
            entries.append(
                PreviewEntry(
                    number,
                    contact,
                    rendered.language,
                    rendered.subject,
                    rendered.size,
                    message_id,
                    warnings=(*(() if fallback is None else (fallback,)), *rendered.warnings),
                )
            )
            if on_message is not None:
                on_message(rendered)
    finally:
        gc.unfreeze()
    return PreviewSet(
        campaign=campaign,
        renderer=renderer,
        entries=tuple(entries),
        warnings=tuple(renderer.check_audience(book.accepted)),
        date=date,
        book_problems=book.rejected,
        audience=book.audience,
    )


def write_preview(preview: PreviewSet, out: Path | None = None) -> PreviewWritten:
    """Write every message that renders to ``out`` (default: ``preview/`` beside the campaign,
    ``preview/<release>/`` in a workspace)
    as ``.eml`` and ``.html`` files, with an ``index.html`` listing them and every problem."""
    from distrib.preview import write_preview as write

    folder = out if out is not None else preview.campaign.preview_folder
    write(preview.messages(), folder, problems=preview.problems, title=preview.campaign.name)
    written = sum(entry.ok for entry in preview.entries)
    return PreviewWritten(folder, folder / "index.html", written)


def collect_and_write_preview(
    campaign: Campaign,
    out: Path | None = None,
    *,
    token: str = "preview",  # noqa: S107
    selection: Selection | None = None,
) -> tuple[PreviewSet, PreviewWritten]:
    """`collect_preview`, writing each message that renders to ``out`` (default: ``preview/``
    beside the campaign, ``preview/<release>/`` in a workspace) as ``.eml`` and ``.html`` as
    soon as it is rendered, then an ``index.html`` listing them and every problem."""
    folder = out if out is not None else campaign.preview_folder
    writer = PreviewWriter(folder)
    preview = collect_preview(campaign, token=token, selection=selection, on_message=writer.add)
    written = writer.finish(problems=preview.problems, title=campaign.name)
    return preview, PreviewWritten(folder, written.index, written.messages)


def watched_paths(campaign: Campaign) -> tuple[Path, ...]:
    """What a preview is made of: the campaign (or workspace) file, the release and templates
    folders, the contact lists, suppression lists and outlets sheet."""
    from distrib.render import default_templates_dir

    paths = [campaign.file, campaign.release, campaign.templates or default_templates_dir()]
    paths += [source.path for source in campaign.sources]
    paths += list(campaign.suppression)
    if campaign.outlets is not None:
        paths.append(campaign.outlets)
    return tuple(paths)


def _fingerprint(paths: tuple[Path, ...]) -> tuple[tuple[str, int, int], ...]:
    """Every file under ``paths`` with its modification time and size (cheap: no reading)."""
    found: list[tuple[str, int, int]] = []
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            try:
                stat = file.stat()
            except OSError:
                found.append((str(file), -1, -1))  # gone: a change too
                continue
            found.append((str(file), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class LivePreview:
    """A preview that follows its files: `current` collects it again when the campaign or
    workspace file, the release (with its ``release.toml``), the templates, the contact lists
    or the outlets sheet changed since.

    ``target``: what `distrib.app.open_release` takes to find the release again (a campaign
    file, or a release folder of a workspace); ``selection``: the ``--only``/``--exclude``
    options, applied at every collection.  When the new files cannot be used (a YAML mistake in
    the release, a broken template), the last preview that could be made is kept and `error`
    says why.
    """

    def __init__(
        self,
        target: Path,
        *,
        selection: Selection | None = None,
        load: Callable[[Path], Campaign] | None = None,
        collect: Callable[[Campaign], PreviewSet] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        from distrib.app.workspace import open_release

        self.target = target
        self._load = load or open_release
        self._collect = collect or (lambda c: collect_preview(c, selection=selection))
        self._clock = clock or (lambda: datetime.now().astimezone())
        self._lock = threading.Lock()
        campaign = self._load(target)
        self._paths = watched_paths(campaign)
        self._seen = _fingerprint(self._paths)
        self._preview = self._collect(campaign)
        #: When the preview was last collected, and how many times it has been.
        self.built_at = self._clock()
        self.builds = 1
        #: Why the last change could not be shown ("" when it could).
        self.error = ""

    @property
    def paths(self) -> tuple[Path, ...]:
        """The files and folders watched."""
        return self._paths

    def current(self) -> PreviewSet:
        """The preview of the files as they are now (collected again if they changed)."""
        with self._lock:
            now = _fingerprint(self._paths)
            if now == self._seen:
                return self._preview
            self._seen = now
            try:
                campaign = self._load(self.target)
                self._paths = watched_paths(campaign)
                self._seen = _fingerprint(self._paths)
                self._preview = self._collect(campaign)
            except DistribError as exc:
                self.error = str(exc)
            else:
                self.error = ""
                self.builds += 1
                self.built_at = self._clock()
            return self._preview


def live_preview(campaign: Campaign, *, selection: Selection | None = None) -> LivePreview:
    """A `LivePreview` of ``campaign``'s release (collected now, and again whenever its files
    change): found again by its release folder in a workspace, else by its campaign file."""
    target = campaign.release if campaign.workspace is not None else campaign.file
    return LivePreview(target, selection=selection)
