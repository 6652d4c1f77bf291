"""Previewing a release: every journalist's message rendered, nothing sent, whatever the embargo.

`collect_preview` renders each contact's message once and keeps the outcome; `write_preview`
writes it as files (``.eml``, ``.html`` and an index); the local preview page
(`distrib.web.preview_server`, an interface) serves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.preview import PreviewEntry, PreviewSet

if TYPE_CHECKING:
    from distrib.app.audience import Selection
    from distrib.config import Campaign

__all__ = ["PreviewWritten", "collect_preview", "write_preview"]


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
) -> PreviewSet:
    """Load the release's audience and release, render every contact's message once, and keep
    the outcomes.

    The delivery log's suppression list (opt-outs, hard bounces) sets people aside and the
    audience rules (the release's, and ``selection``: the command's ``--only``/``--exclude``)
    narrow the lists as `send` will; the log is only read.  A contact whose language fell back
    (blank or unknown in the list) has that warning with the message's own.
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
