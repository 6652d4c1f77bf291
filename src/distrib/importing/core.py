"""`import_release`: documents (Word, web page, text) → the release folder's fr.md / en.md.

Every file is read, converted, recognised and checked (the result must load with
`distrib.release.read_release`) before anything is written: a problem in any file — bad input,
a missing dateline, an embargo without a time, an unclear language — stops the import with
every problem listed, each naming its file, and leaves the folder as it was.
"""

from __future__ import annotations

import re
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from distrib.config import display_path
from distrib.errors import Location, Problem, ReleaseError
from distrib.headers import find_forbidden
from distrib.importing.docx import ZipLimits, read_docx
from distrib.importing.errors import ReleaseImportError
from distrib.importing.html import read_html
from distrib.importing.model import (
    Block,
    Converted,
    ImageFile,
    ImportedDocument,
    ImportReport,
    InputFile,
    Note,
)
from distrib.importing.parts import Recognised, detect_language, recognise
from distrib.importing.text import read_markdown, read_text
from distrib.importing.write import planned_files, render_document, write_documents
from distrib.release import LANGUAGES, read_release

__all__ = ["DEFAULT_MAX_MB", "campaign_release_folder", "import_release", "input_file"]

DEFAULT_MAX_MB = 50.0
_KINDS = {
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".text": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".docm": "docm",
    ".dotm": "docm",
    ".doc": "doc",
    ".odt": "odt",
    ".ott": "odt",
    ".fodt": "odt",
}
_REFUSED = {
    "docm": "a macro-enabled Word document (.docm): distrib never opens macros; save it as a"
    " plain .docx (Word Document) and import that",
    "doc": "an old Word .doc file: save it as .docx (File › Save As › Word Document) and"
    " import that",
    "odt": "OpenDocument (.odt) is not imported: in LibreOffice, File › Save As › Word 2007-365"
    " (.docx), then import the .docx",
}
_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
Language = Literal["fr", "en"]


def input_file(path: Path, *, max_mb: float = DEFAULT_MAX_MB) -> InputFile:
    """Read ``path`` (size-checked before reading); raise `ReleaseImportError` naming it."""
    shown = display_path(path)
    kind = _KINDS.get(path.suffix.lower())
    where = Location(shown)
    if kind is None:
        known = ", ".join(sorted(k for k, v in _KINDS.items() if v not in _REFUSED))
        message = f"unknown kind of file {path.suffix or '(no extension)'!r}: import {known}"
        raise ReleaseImportError([Problem(message, where, "format")], f"cannot import {shown}")
    if kind in _REFUSED:
        raise ReleaseImportError([Problem(_REFUSED[kind], where, kind)], f"cannot import {shown}")
    try:
        size = path.stat().st_size
        if size > max_mb * 1_000_000:
            message = f"{size / 1_000_000:.1f} MB, over the {max_mb:g} MB import limit"
            raise ReleaseImportError([Problem(message, where, "size")], f"cannot import {shown}")
        data = path.read_bytes()
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
        raise ReleaseImportError(
            [Problem(message, where, "io")], f"cannot import {shown}"
        ) from None
    return InputFile(shown, data, kind)


def campaign_release_folder(campaign: Path) -> Path | None:
    """The ``release`` folder a campaign file names (read without validating the rest)."""
    try:
        values = tomllib.loads(campaign.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    release = values.get("release")
    return campaign.parent / release if isinstance(release, str) and release else None


def _convert(source: InputFile, max_mb: float) -> Converted:
    if len(source.data) > max_mb * 1_000_000:
        message = f"{len(source.data) / 1_000_000:.1f} MB, over the {max_mb:g} MB import limit"
        raise ReleaseImportError(
            [Problem(message, Location(source.name), "size")], f"cannot import {source.name}"
        )
    if source.kind in _REFUSED:
        raise ReleaseImportError(
            [Problem(_REFUSED[source.kind], Location(source.name), source.kind)],
            f"cannot import {source.name}",
        )
    if source.kind == "docx":
        return read_docx(source.name, source.data, ZipLimits())
    if source.kind == "html":
        return read_html(source.name, source.data)
    if source.kind == "markdown":
        return read_markdown(source.name, source.data)
    return read_text(source.name, source.data)


def _name_images(
    converted: Converted, lang: str, blocks: list[Block]
) -> tuple[list[Block], tuple[ImageFile, ...]]:
    """Give the images their file names (``images/fr-1.png``) and point the blocks at them."""
    images = tuple(
        ImageFile(f"images/{lang}-{n}.{_EXTENSIONS[kind]}", kind, data)
        for n, (kind, data) in enumerate(converted.images, 1)
    )

    def rename(block: Block) -> Block:
        if "distrib-image:" not in block.markdown:
            return block
        markdown = re.sub(
            r"\]\(distrib-image:(\d+)\)",
            lambda m: f"]({images[int(m.group(1)) - 1].name})",
            block.markdown,
        )
        return Block(block.kind, markdown, block.text, block.level, block.role)

    return [rename(b) for b in blocks], images


def _contact_markdown(groups: list[list[Block]]) -> str:
    """Each contact group as one paragraph, its lines joined by hard breaks."""
    paragraphs = []
    for group in groups:
        lines: list[str] = []
        for block in group:
            lines.extend(line.rstrip("\\") for line in block.markdown.split("\n") if line.strip())
        paragraphs.append("\\\n".join(lines))
    return "\n\n".join(paragraphs)


@dataclass
class _Parts:
    """The front matter values of one document, once checked, and what was understood."""

    title: str = ""
    dateline: str = ""
    embargo: datetime | None = None
    understood: list[Note] = field(default_factory=list)


def _embargo(
    found: Recognised, given: datetime | None, parts: _Parts, where: Location
) -> Problem | None:
    """Settle the embargo: the line's moment, or the one given; a problem if it is unclear."""
    line = found.embargo
    if given is not None:
        parts.embargo = given
        parts.understood.append(Note("embargo", f"{given.isoformat()} (given)"))
        return None
    if line is None:
        return None
    if line.moment is None:
        message = (
            f"embargo line {line.line!r}: {line.problem}; give the moment with --embargo"
            " (e.g. '2027-11-04 09:00')"
        )
        return Problem(message, where, "embargo")
    parts.embargo = line.moment
    zone = "named in the line" if line.zone_named else "assumed: the line names none"
    parts.understood.append(Note("embargo", f"{line.moment.isoformat()} ({line.zone}, {zone})"))
    return None


def _check(
    source: InputFile,
    converted: Converted,
    found: Recognised,
    lang: Language,
    given: tuple[str | None, datetime | None],
) -> tuple[_Parts, list[Problem]]:
    """Check that the document has what a release needs; list what was understood."""
    where = Location(source.name)
    problems: list[Problem] = []
    parts = _Parts(title=found.title or converted.page_title.strip())
    if not parts.title:
        problems.append(Problem("no title found (a first heading or Word's Title style)", where))
    elif find_forbidden(parts.title):
        problems.append(Problem(f"the title holds {find_forbidden(parts.title)}", where))
    parts.understood.append(Note("title", parts.title))
    parts.understood.append(Note("subject", "the title (change 'subject' to taste)"))
    if found.summary:
        parts.understood.append(Note("subtitle → summary", found.summary))
    parts.dateline = found.dateline or (given[0] or "")
    if not parts.dateline:
        example = "MONTRÉAL, le 11 avril 2013 –" if lang == "fr" else "MONTRÉAL, April 11, 2013 –"
        message = (
            f"no dateline found ({example!r} at the start of the first paragraph):"
            " add it to the document, or give it with --dateline"
        )
        problems.append(Problem(message, where, "dateline"))
    else:
        shown = parts.dateline + ("" if found.dateline else " (given)")
        parts.understood.append(Note("dateline", shown))
    problem = _embargo(found, given[1], parts, where)
    if problem is not None:
        problems.append(problem)
    if found.end_mark:
        parts.understood.append(Note("end mark", found.end_mark))
    if found.about:
        parts.understood.append(Note("about", found.about[0].text.split("\n")[0]))
    if found.contact:
        parts.understood.append(Note("media contact", found.contact[0][0].text.split("\n")[0]))
    return parts, problems


def _document(
    source: InputFile,
    converted: Converted,
    found: Recognised,
    language: tuple[Language, str],
    parts: _Parts,
) -> ImportedDocument:
    """Assemble the checked parts into fr.md/en.md and its images."""
    lang, reason = language
    all_blocks = [*found.body, *found.about, *(b for g in found.contact for b in g)]
    renamed, images = _name_images(converted, lang, all_blocks)
    body = renamed[: len(found.body)]
    about = renamed[len(found.body) : len(found.body) + len(found.about)]
    contact_blocks = iter(renamed[len(found.body) + len(found.about) :])
    contact = [[next(contact_blocks) for _ in group] for group in found.contact]
    understood = [Note("language", f"{lang} ({reason})"), *parts.understood]
    front: dict[str, str | tuple[str, ...]] = {
        "title": parts.title,
        "subject": parts.title,
        "dateline": parts.dateline,
    }
    if found.summary:
        front["summary"] = found.summary
    if parts.embargo is not None:
        front["embargo"] = parts.embargo.isoformat()
    if images:
        # An image of the text is shown in place (an inline part of the message); one that only
        # the About or contact block shows is attached (those blocks show no images).
        shown = [i for i in images if any(f"]({i.name})" in b.markdown for b in body)]
        attached = tuple(i.name for i in images if i not in shown)
        if attached:
            front["attachments"] = attached
        understood.append(Note("images", ", ".join(image.name for image in images)))
    if about:
        front["about"] = "\n\n".join(b.markdown for b in about)
    if contact:
        front["media_contact"] = _contact_markdown(contact)
    body_markdown = "\n\n".join(b.markdown for b in body)
    sections = tuple(b.text for b in body if b.kind == "heading")
    if sections:
        understood.append(Note("sections", " | ".join(sections)))
    return ImportedDocument(
        source=source.name,
        language=lang,
        language_reason=reason,
        front_matter=front,
        body=body_markdown + "\n",
        text=render_document(front, body_markdown),
        images=images,
        understood=tuple(understood),
        dropped=(*converted.dropped, *found.dropped),
        warnings=(*converted.warnings, *found.warnings),
        sections=sections,
    )


def _one(
    item: Path | InputFile,
    lang: Language | None,
    timezone: ZoneInfo,
    given: tuple[str | None, datetime | None],
    max_mb: float,
) -> ImportedDocument:
    """Import one file (nothing written); raise `ReleaseImportError` with its problems."""
    source = item if isinstance(item, InputFile) else input_file(item, max_mb=max_mb)
    converted = _convert(source, max_mb)
    if lang is not None:
        language, reason = lang, "given with --lang"
    else:
        texts = [b.text for b in (*converted.blocks, *converted.notes)]
        detected, reason = detect_language(texts, converted.declared_language)
        if detected not in ("fr", "en"):
            message = f"cannot tell French from English ({reason}): give --lang fr or --lang en"
            raise ReleaseImportError([Problem(message, Location(source.name), "language")])
        language = "fr" if detected == "fr" else "en"
    found = recognise(list(converted.blocks), list(converted.notes), timezone)
    parts, problems = _check(source, converted, found, language, given)
    if problems:
        raise ReleaseImportError(problems)
    return _document(source, converted, found, (language, reason), parts)


def _check_loads(documents: Sequence[ImportedDocument]) -> None:
    """Write the documents to a scratch folder and load them as `send` would."""
    with tempfile.TemporaryDirectory(prefix="distrib-import-") as scratch:
        folder = Path(scratch)
        for name, data in planned_files(documents).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        try:
            read_release(folder, max_attachments_mb=float("inf"))
        except ReleaseError as exc:
            sources = {d.filename: d.source for d in documents}
            problems = []
            for problem in exc.problems:
                shown = str(problem.where.path) if problem.where else ""
                origin = next((s for f, s in sources.items() if shown.endswith(f)), "import")
                problems.append(Problem(problem.message, Location(origin), problem.code))
            raise ReleaseImportError(problems, "the imported release would not load") from None


def import_release(
    files: Sequence[Path | InputFile],
    *,
    target: Path,
    timezone: ZoneInfo,
    lang: Language | None = None,
    force: bool = False,
    dateline: str | None = None,
    embargo: datetime | None = None,
    max_mb: float = DEFAULT_MAX_MB,
) -> ImportReport:
    """Import ``files`` into the release folder ``target``; nothing is written on any problem.

    ``lang`` forces the language (else it is detected from the text); ``timezone`` is the zone of
    an embargo line that names none; ``dateline`` and ``embargo`` are used when a document has
    none (or, for the embargo, when its line lacks the time).
    """
    if embargo is not None and embargo.utcoffset() is None:
        raise ValueError("embargo must be an aware datetime")
    problems: list[Problem] = []
    documents: list[ImportedDocument] = []
    for item in files:
        try:
            documents.append(_one(item, lang, timezone, (dateline, embargo), max_mb))
        except ReleaseImportError as exc:
            problems.extend(exc.problems)
    seen: dict[str, str] = {}
    for document in documents:
        if document.language in seen:
            message = (
                f"{seen[document.language]} and {document.source} are both {document.language}:"
                " import one file per language (or give --lang)"
            )
            problems.append(Problem(message, Location(document.source), "language"))
        seen[document.language] = document.source
    if problems:
        raise ReleaseImportError(problems, "nothing was imported")
    _check_loads(documents)
    written = write_documents(target, documents, force=force)
    present = {lang for lang in LANGUAGES if (target / f"{lang}.md").is_file()}
    missing = tuple(lang for lang in LANGUAGES if lang not in present)
    return ImportReport(target, tuple(documents), written, missing)
