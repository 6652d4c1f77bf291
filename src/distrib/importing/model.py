"""The values the import stage passes around and returns (frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "Block",
    "BlockKind",
    "Converted",
    "ImageFile",
    "ImportReport",
    "ImportedDocument",
    "InputFile",
    "Note",
    "WrittenFile",
]

BlockKind = Literal["heading", "paragraph", "list", "table", "quote", "image", "rule", "code"]


@dataclass(frozen=True, slots=True)
class InputFile:
    """A document to import: its name as shown to the officer, its bytes and its format.

    ``kind`` is ``docx``, ``odt``, ``html``, ``markdown`` or ``text``; `import_release` derives it
    from the file name for paths.  Standard input is ``InputFile("<stdin>", data, "text")``.
    """

    name: str
    data: bytes
    kind: str


@dataclass(frozen=True, slots=True)
class Block:
    """One block of the document, as Markdown and as plain text (what recognition reads).

    ``role`` is ``title`` or ``subtitle`` when Word's Title/Subtitle style said so.
    """

    kind: BlockKind
    markdown: str
    text: str
    level: int = 0
    role: str = ""


@dataclass(frozen=True, slots=True)
class ImageFile:
    """An image taken from a document, to be written in the release folder under ``name``."""

    name: str  # relative to the release folder, e.g. images/fr-1.png (always generated)
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Note:
    """One thing the import understood, dropped or warns about: ``what`` and a short ``detail``."""

    what: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}" if self.detail else self.what


@dataclass(frozen=True, slots=True)
class Converted:
    """A reader's output: the blocks in reading order, images, and what it dropped.

    Image blocks point at ``distrib-image:N`` (1-based index into ``images``) until the
    document's language gives the images their file names.
    """

    blocks: tuple[Block, ...]
    images: tuple[tuple[str, bytes], ...] = ()  # (content type, bytes)
    notes: tuple[Block, ...] = ()  # footnotes/endnotes, placed at the end of the body
    dropped: tuple[Note, ...] = ()
    warnings: tuple[str, ...] = ()
    declared_language: str | None = None
    page_title: str = ""


@dataclass(frozen=True, slots=True)
class ImportedDocument:
    """One imported file: the release document it became and what the import made of it."""

    source: str
    language: Literal["fr", "en"]
    language_reason: str
    front_matter: Mapping[str, str | tuple[str, ...]]
    body: str
    text: str  # the whole fr.md/en.md: front matter + body
    images: tuple[ImageFile, ...] = ()
    understood: tuple[Note, ...] = ()
    dropped: tuple[Note, ...] = ()
    warnings: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # the body's headings

    @property
    def filename(self) -> str:
        """``fr.md`` or ``en.md``."""
        return f"{self.language}.md"


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """A file of the release folder and what the import did to it."""

    path: Path
    action: Literal["created", "replaced", "unchanged"]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What `import_release` did: the documents, the files written, the languages missing."""

    target: Path
    documents: tuple[ImportedDocument, ...]
    written: tuple[WrittenFile, ...]
    missing_languages: tuple[str, ...]
