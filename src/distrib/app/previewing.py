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
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.errors import DistribError
from distrib.preview import PreviewEntry, PreviewSet, PreviewWriter

if TYPE_CHECKING:
    from distrib.app.audience import Selection
    from distrib.config import Campaign
    from distrib.contacts.model import Contact, ContactBook
    from distrib.errors import Problem
    from distrib.release import Release
    from distrib.render import RenderedMessage, Renderer

__all__ = [
    "CheckProgress",
    "LivePreview",
    "PreviewMessage",
    "PreviewSession",
    "PreviewWritten",
    "collect_and_write_preview",
    "collect_preview",
    "live_preview",
    "preview_session",
    "run_warnings",
    "write_preview",
]


def run_warnings(renderer: Renderer, accepted: Iterable[Contact]) -> tuple[Problem, ...]:
    """The warnings of a whole send, not of one message: the audience's (a language nobody
    reads …) and a release still holding the starter's text (`distrib.starter.unedited`)."""
    from distrib.starter import unedited

    return (*renderer.check_audience(accepted), *unedited(renderer.release))


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
        warnings=run_warnings(renderer, book.accepted),
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


# -- a preview rendered on demand (the web interface) ------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckProgress:
    """How far the full check of a `PreviewSession` is: ``done`` of ``total`` messages rendered,
    ``problems`` found so far."""

    done: int
    total: int
    problems: int


@dataclass(frozen=True, slots=True)
class PreviewMessage:
    """One recipient's message, rendered when asked: the entry (problems, warnings), and the
    message with its headers when it renders (None when it cannot)."""

    entry: PreviewEntry
    message: RenderedMessage | None
    headers: tuple[tuple[str, str], ...] = ()


class PreviewSession:
    """A release's preview, rendered on demand: the audience is read at once (`entries`: each
    recipient with the language their message will be in, nothing rendered yet); `render_one`
    renders one message when it is opened; `check_all` renders every message once (for the
    problems, which block the send) and may run in a background thread, reporting progress.

    The list is made without the templates: the `Renderer` (its templates compiled and
    checked) is made on first use (`renderer`: by the first message opened or by the check,
    whichever comes first, once) or when asked (`prepare`: `distrib ui` does it before it
    shows the first page), and each recipient's Message-ID is computed when their message is
    rendered (`entries` hold ``message_id=""`` until then).  A Message-ID is
    derived from the session's token and the recipient's key alone, so a message opened and the
    same message checked carry the same one; rendering is `collect_preview`'s (same Message-IDs
    and Date for the session): a message opened and the same message checked are identical.
    """

    def __init__(
        self,
        campaign: Campaign,
        book: ContactBook,
        release: Release,
        *,
        token: str = "preview",  # noqa: S107
        make_renderer: Callable[[], Renderer] | None = None,
    ) -> None:
        from datetime import UTC

        from distrib.errors import RenderError
        from distrib.render import Renderer, choose_language, release_languages

        self.campaign = campaign
        self.release = release
        self.book = book
        self.token = token
        self._paths = watched_paths(campaign)
        self._seen = _fingerprint(self._paths)
        self.date = datetime.now(UTC).astimezone().replace(microsecond=0)
        self._make_renderer = make_renderer or (lambda: Renderer(campaign, release))
        self._renderer: Renderer | None = None
        self._renderer_error: DistribError | None = None
        self._renderer_lock = threading.Lock()
        available = release_languages(campaign, release)
        entries = []
        for number, contact in enumerate(book.contacts, start=1):
            try:
                language: str = choose_language(campaign, available, contact)[0]
                problems: tuple[Problem, ...] = ()
            except RenderError as exc:
                language, problems = contact.language, exc.problems
            fallback = book.fallbacks.get(contact.key)
            warnings = () if fallback is None else (fallback,)
            entries.append(PreviewEntry(number, contact, language, "", 0, "", problems, warnings))
        #: Every recipient, in audience order (``number`` is 1-based); subjects, sizes and
        #: Message-IDs are known once a message is rendered (`render_one`, `check_all`).
        self.entries: tuple[PreviewEntry, ...] = tuple(entries)
        self._lock = threading.Lock()
        self._checked: PreviewSet | None = None
        self._opening = 0  # messages being opened (`open_message`) right now
        self._quiet = threading.Condition()
        #: Set while the background check waits for a message being opened (`open_message`).
        self.check_waiting = threading.Event()

    def changed(self) -> bool:
        """Tell whether the files this preview was made of changed since (the campaign or
        workspace file, the release, the templates, the lists, the outlets sheet): what
        `LivePreview` watches."""
        return _fingerprint(self._paths) != self._seen

    @property
    def renderer(self) -> Renderer:
        """The release's `Renderer`, made on first use (its templates compiled and checked);
        the `RenderError` that stops it is raised again at each use."""
        with self._renderer_lock:
            if self._renderer is None and self._renderer_error is None:
                try:
                    self._renderer = self._make_renderer()
                except DistribError as exc:
                    self._renderer_error = exc
            if self._renderer_error is not None:
                raise self._renderer_error
            assert self._renderer is not None
            return self._renderer

    def prepare(self) -> None:
        """Make the `Renderer` now rather than on first use: a server calls it before it shows
        the first page, so that the first message opened does not wait for the templates
        while the background check compiles them (it did, a second at 20,000 recipients:
        docs/benchmarks.md).  A problem that stops the renderer is kept for each use, as
        `renderer` does."""
        with suppress(DistribError):
            _ = self.renderer

    def message_id(self, entry: PreviewEntry) -> str:
        """Recipient ``entry``'s Message-ID for this session (from the token and their key)."""
        from distrib.render import make_message_id

        return make_message_id(self.token, entry.contact.key, self.campaign.sender.domain)

    def __len__(self) -> int:
        return len(self.entries)

    def entry(self, number: int) -> PreviewEntry:
        """Recipient ``number`` (1-based); `InvalidRequestError` when there is none."""
        from distrib.errors import InvalidRequestError

        if not 1 <= number <= len(self.entries):
            raise InvalidRequestError(f"no message {number} (1 to {len(self.entries)})")
        return self.entries[number - 1]

    def render_one(self, number: int) -> PreviewMessage:
        """Render recipient ``number``'s message now (unsigned, as the preview shows it)."""
        import email
        import email.policy

        from distrib.errors import RenderError

        entry = self.entry(number)
        entry = replace(entry, message_id=self.message_id(entry))
        renderer = self.renderer
        try:
            rendered = renderer.render(
                entry.contact, message_id=entry.message_id, date=self.date, sign=False
            )
        except RenderError as exc:
            return PreviewMessage(replace(entry, problems=exc.problems), None)
        done = replace(
            entry,
            language=rendered.language,
            subject=rendered.subject,
            size=rendered.size,
            warnings=(*entry.warnings, *rendered.warnings),
        )
        parsed = email.message_from_bytes(rendered.data, policy=email.policy.default)
        headers = tuple((name, str(value)) for name, value in parsed.items())
        return PreviewMessage(done, rendered, headers)

    def open_message(self, number: int) -> PreviewMessage:
        """`render_one` for someone waiting for it (a message opened in `distrib ui`): the
        background check (`check_all`) waits between two messages until it is rendered.
        Both share one interpreter (one GIL): a message opened while the check ran took 80 ms
        at the median and up to 0.7 s at 20,000 recipients, 12 ms once the check had ended
        (docs/benchmarks.md)."""
        with self._quiet:
            self._opening += 1
        try:
            return self.render_one(number)
        finally:
            with self._quiet:
                self._opening -= 1
                self._quiet.notify_all()

    def _let_messages_open(self) -> None:
        """In the check, between two messages: wait while a message is being opened."""
        with self._quiet:
            if self._opening:
                self.check_waiting.set()
                self._quiet.wait_for(lambda: self._opening == 0)
                self.check_waiting.clear()

    def check_all(
        self,
        on_progress: Callable[[CheckProgress], None] | None = None,
        *,
        every: int = 100,
        cancelled: Callable[[], bool] | None = None,
    ) -> PreviewSet | None:
        """Render every message once and keep the outcomes (a `PreviewSet`, as `collect_preview`
        gives); ``on_progress`` hears every ``every`` messages and at the end.  ``cancelled``
        (asked between messages) abandons the check: None is returned.  A second call returns
        the first one's result."""
        if self._checked is not None:
            return self._checked
        total = len(self.entries)
        entries: list[PreviewEntry] = []
        problems = 0
        renderer = self.renderer  # made here, in the check's thread, if no message was opened
        for entry in self.entries:
            self._let_messages_open()
            if cancelled is not None and cancelled():
                return None
            if entry.ok:
                outcome = self.render_one(entry.number).entry
            else:
                outcome = replace(entry, message_id=self.message_id(entry))
            problems += len(outcome.problems)
            entries.append(outcome)
            if on_progress is not None and (len(entries) % every == 0):
                on_progress(CheckProgress(len(entries), total, problems))
        checked = PreviewSet(
            campaign=self.campaign,
            renderer=renderer,
            entries=tuple(entries),
            warnings=run_warnings(renderer, self.book.accepted),
            date=self.date,
            book_problems=self.book.rejected,
            audience=self.book.audience,
        )
        with self._lock:
            self._checked = checked
        if on_progress is not None:
            on_progress(CheckProgress(total, total, problems))
        return checked

    @property
    def checked(self) -> PreviewSet | None:
        """The full check's outcome, once `check_all` has finished (None before)."""
        with self._lock:
            return self._checked


def load_preview_stages() -> None:
    """Import what a preview uses (the contacts stage and its table library, the release, the
    renderer and its CSS inliner, the workspace) now rather than on the first preview: a
    long-running server (`distrib ui`) calls it before it gives its address, so that neither
    the first page nor the first message opened waits for them (about a second here).  The
    contacts stage imports its pieces on first use (`distrib.contacts`), hence the modules
    named here; `tests/test_preview_session.py` checks that a first preview imports nothing
    more."""
    import importlib

    for name in (
        "css_inline",
        "distrib.app.audience",
        "distrib.app.workspace",
        "distrib.contacts.load",
        "distrib.contacts.output",
        "distrib.contacts.read",
        "distrib.contacts.textfile",
        "distrib.contacts.vcard",
        "distrib.contacts.workbook",
        "distrib.deliverylog",
        "distrib.release",
        "distrib.render",
        "distrib.workspace",
        "python_calamine",
    ):
        importlib.import_module(name)


def preview_session(campaign: Campaign, *, selection: Selection | None = None) -> PreviewSession:
    """A `PreviewSession` of ``campaign``'s release: the audience and the release read now (the
    log only read, as `collect_preview` does), the templates on first use, every message
    rendered on demand."""
    from distrib.app.audience import load_audience
    from distrib.release import load_release

    book = load_audience(campaign, selection)
    return PreviewSession(campaign, book, load_release(campaign))
