"""Files sent from a browser: size-limited, recognised by their content, stored under a name of
our own.

A browser says a file is ``liste.xlsx``; nothing says it is.  `check_upload` looks at the
bytes: a ZIP whose parts are a workbook's (XLSX), a word processor's (DOCX) or an OpenDocument
spreadsheet's (ODS); text without binary bytes (CSV, TXT), text that opens a vCard (VCF) or an
HTML document; the signatures of PNG, JPEG, GIF and WebP.  The kind the content shows must be
the kind the name claims: a script named ``.xlsx``, a ``.csv`` holding NUL bytes or a ZIP, an
HTML page named ``.png`` are refused, whatever type the browser sent.

`store_upload` writes the accepted bytes under a random name (``9f3c….xlsx``, the extension
of the kind found) in the workspace's uploads folder, created 0700, the file 0600, never
replacing one.  The name the browser gave is only ever shown, never a path: no ``../``, no
absolute path, no NUL, no ``CON`` or ``NUL`` of Windows reaches the file system.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

__all__ = [
    "KINDS",
    "N_",
    "StoredUpload",
    "UploadRefused",
    "check_upload",
    "display_name",
    "receive_upload",
    "sniff",
    "store_upload",
]


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated when shown."""
    return message


#: Each kind: the extensions that name it, the extension it is stored with, how to call it.
KINDS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "csv": ((".csv", ".tsv"), ".csv", N_("CSV text")),
    "txt": ((".txt", ".md"), ".txt", N_("text")),
    "vcf": ((".vcf", ".vcard"), ".vcf", N_("a vCard file")),
    "html": ((".html", ".htm"), ".html", N_("an HTML page")),
    "xlsx": ((".xlsx",), ".xlsx", N_("an Excel workbook")),
    "ods": ((".ods",), ".ods", N_("an OpenDocument spreadsheet")),
    "docx": ((".docx",), ".docx", N_("a Word document")),
    "png": ((".png",), ".png", N_("a PNG image")),
    "jpeg": ((".jpg", ".jpeg"), ".jpg", N_("a JPEG image")),
    "gif": ((".gif",), ".gif", N_("a GIF image")),
    "webp": ((".webp",), ".webp", N_("a WebP image")),
    "pdf": ((".pdf",), ".pdf", N_("a PDF document")),
}
_BY_EXTENSION = {ext: kind for kind, (exts, _, _) in KINDS.items() for ext in exts}
_TEXT_KINDS = ("csv", "txt", "vcf", "html")
#: Control characters that plain text never holds (tab, LF, FF and CR are fine).
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_HTML_START = re.compile(
    rb"<(!doctype\s+html|html|head|body|meta|title|p|div|h[1-6]|table|article|section)\b",
    re.IGNORECASE,
)
_ODS = b"application/vnd.oasis.opendocument.spreadsheet"


class UploadRefused(Exception):
    """Why an upload is not kept: ``message`` (English, with ``values`` to translate) and the
    HTTP status to answer (413 too large, 415 not what it claims, 400 otherwise)."""

    def __init__(self, status: int, message: str, **values: str) -> None:
        self.status = status
        self.message = message
        self.values = values
        super().__init__(message.format(**values))


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """A file kept: where, what it is, and the name the browser gave (for showing only)."""

    path: Path
    kind: str
    given_name: str
    size: int

    @property
    def name(self) -> str:
        """The generated file name."""
        return self.path.name


def display_name(given: str) -> str:
    """The browser's file name made fit to show: its last part, without control characters."""
    last = re.split(r"[/\\]", given)[-1]
    kept = "".join(c for c in last if unicodedata.category(c)[0] != "C")
    return kept.strip()[:200] or "(no name)"


def _text(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its BOM
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            return False
        return not _BINARY.search(text.encode("utf-8"))
    return not _BINARY.search(data)


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "[Content_Types].xml" in names:
                if any(n.startswith("xl/") for n in names):
                    return "xlsx"
                if "word/document.xml" in names:
                    return "docx"
            if (
                "mimetype" in names
                and archive.getinfo("mimetype").file_size < 200
                and archive.read("mimetype").strip() == _ODS
            ):
                return "ods"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError):
        return "zip?"
    return "zip"


#: Signatures of the binary kinds: (offset, bytes) that must all be there.
_MAGIC: tuple[tuple[str, tuple[tuple[int, bytes], ...]], ...] = (
    ("png", ((0, b"\x89PNG\r\n\x1a\n"),)),
    ("jpeg", ((0, b"\xff\xd8\xff"),)),
    ("gif", ((0, b"GIF8"), (5, b"a"))),
    ("webp", ((0, b"RIFF"), (8, b"WEBP"))),
    ("pdf", ((0, b"%PDF-"),)),
)


def _text_kind(data: bytes, claimed: str | None) -> str:
    head = data[:4096]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").lower().startswith(b"begin:vcard"):
        shown = "vcf"
    elif _HTML_START.search(head):
        shown = "html"
    else:
        shown = "text"
    if claimed in ("csv", "txt"):  # plain text may quote anything
        return claimed
    if claimed is None:
        return shown
    return claimed if shown == claimed else "text"


def sniff(data: bytes, claimed: str | None = None) -> str:
    """The kind ``data`` shows (a `KINDS` key), or a word for what else it is (``zip``,
    ``binary``, ``text``…).  ``claimed`` picks among the text kinds, which share their bytes."""
    for kind, marks in _MAGIC:
        if all(data[at : at + len(mark)] == mark for at, mark in marks):
            return kind
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if not _text(data):
        return "binary"
    return _text_kind(data, claimed)


_FOUND = {"zip": N_("a ZIP archive"), "zip?": N_("a damaged ZIP archive"),
          "binary": N_("binary data"), "text": N_("plain text")}  # fmt: skip


def check_upload(given_name: str, data: bytes, *, limit: int, kinds: tuple[str, ...]) -> str:
    """Return the kind of an upload, or raise `UploadRefused` saying why it is not kept."""
    if len(data) > limit:
        raise UploadRefused(413, "The file is larger than {size}.", size=_size(limit))
    if not data:
        raise UploadRefused(400, "The file is empty.")
    extension = os.path.splitext(display_name(given_name))[1].lower()  # noqa: PTH122 (a name)
    if not extension:
        raise UploadRefused(415, "The file has no extension: name it .csv, .xlsx, .docx…")
    claimed = _BY_EXTENSION.get(extension)
    if claimed is None or claimed not in kinds:
        raise UploadRefused(415, "A file named {ext} is not accepted here.", ext=extension)
    found = sniff(data, claimed)
    if found != claimed:
        expected = KINDS[claimed][2]
        if found in KINDS:
            raise UploadRefused(
                415,
                "The file's content is not {expected}: it looks like {found}.",
                expected=expected,
                found=KINDS[found][2],
            )
        if found in _FOUND:
            raise UploadRefused(
                415,
                "The file's content is not {expected}: it looks like {found}.",
                expected=expected,
                found=_FOUND[found],
            )
        raise UploadRefused(415, "The file's content is not {expected}.", expected=expected)
    return claimed


def store_upload(
    folder: Path, given_name: str, data: bytes, *, limit: int, kinds: tuple[str, ...]
) -> StoredUpload:
    """Check the upload (`check_upload`) and write it under a generated name in ``folder``."""
    kind = check_upload(given_name, data, limit=limit, kinds=kinds)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{secrets.token_hex(16)}{KINDS[kind][1]}"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return StoredUpload(path, kind, display_name(given_name), len(data))


def _size(limit: int) -> str:
    return f"{limit / 1_048_576:g} MB" if limit >= 1_048_576 else f"{limit / 1024:g} KB"


async def receive_upload(
    form: FormData, folder: Callable[[], Path], *, limit: int, kinds: tuple[str, ...]
) -> StoredUpload:
    """The form's ``file`` field, checked and stored (`store_upload`) in the folder ``folder``
    returns (asked only once a file was chosen); `UploadRefused` when none was."""
    sent = form.get("file")
    if not isinstance(sent, UploadFile) or not sent.filename:
        raise UploadRefused(400, "Choose a file to upload.")
    data = await sent.read(limit + 1)
    where = await run_in_threadpool(folder)
    return await run_in_threadpool(
        store_upload, where, sent.filename, data, limit=limit, kinds=kinds
    )
