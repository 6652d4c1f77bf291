"""What a release carries besides its text: attachments, links, and the end-mark convention.

Attachments are files of the release folder, named in the front matter by a relative path.  A
path may not be absolute, may not contain ``..``, and may not resolve (through a symlink) to
anything outside the release folder: a release shared by a colleague cannot make distrib attach
``~/.ssh/id_rsa`` to 500 messages.  The MIME type comes from the file name (the standard
``mimetypes`` table); the total size of a message's attachments is limited by the campaign's
``max_attachments_mb`` (journalists' mail servers refuse or strip large messages: link big
files instead).

The file name goes into the ``Content-Disposition`` header of the attachment's MIME part, so it
is header text: `attachment_name_problem` refuses control characters and also anything shaped
like an RFC 2047 encoded word (``=?utf-8?q?evil=0D=0AX-Injected:_yes?=.pdf`` is a legal file
name on Linux): Python's email package decodes such a word inside a parameter and, in 3.11.7
(CVE-2024-6923), writes the line break it hides as a real one, adding a header to the part.
The MIME writers check every name again (`distrib.render.mime`, `distrib.render.fastmime`).

Links are ``{title, url}`` pairs (photos, documents) shown in the message, never rewritten.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from distrib.headers import find_forbidden

__all__ = [
    "DEFAULT_END_MARKS",
    "Attachment",
    "Link",
    "attachment_name_problem",
    "check_total_size",
    "format_size",
    "has_end_mark",
    "parse_link",
    "resolve_attachment",
]

#: The end mark a language's journalists expect (OQLF: « – 30 – »; North America: -30-).
DEFAULT_END_MARKS = {"fr": "– 30 –", "en": "-30-"}
# -30-, - 30 -, – 30 –, —30—, ###, -fin-, -ENDS- on a line of their own.
_END_MARK = re.compile(
    r"^[ \t]*(?:[-–—][ \t]*30[ \t]*[-–—]"  # -30-, « – 30 – »
    r"|\\?#[ \t]*\\?#[ \t]*\\?#"  # ###, possibly escaped in Markdown
    r"|-[ \t]*(?:fin|ends?)[ \t]*-)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


# "=?" then, later, "?=": the shape of an RFC 2047 encoded word, which readers (and Python's
# own header parser) decode even inside a MIME parameter or a quoted string.
_ENCODED_WORD = re.compile(r"=\?.*\?=", re.DOTALL)


def attachment_name_problem(filename: str) -> str | None:
    """Say why ``filename`` cannot be written as an attachment's file name, or return None.

    The name must be non-blank Unicode text (no lone surrogates from an undecodable file
    name), hold no control character (`distrib.headers.find_forbidden`), and hold nothing a
    mail reader would decode as an RFC 2047 encoded word (``=?charset?q?…?=``): decoded, such
    a word can hide a line break that the standard library then writes into the header.
    """
    if not filename.strip():
        return "the file name is blank"
    try:
        filename.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid text (undecodable bytes); rename the file"
    reason = find_forbidden(filename)
    if reason is not None:
        return f"the file name holds a {reason}; rename the file"
    if _ENCODED_WORD.search(filename):
        return (
            "the file name looks like an RFC 2047 encoded word (=?…?=), which mail programs"
            " decode (it can hide a line break, a header or another name); rename the file"
        )
    return None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file of the release folder attached to the message, read once."""

    name: str  # as written in the front matter (a relative path)
    path: Path  # resolved, inside the release folder
    filename: str  # what the recipient sees
    content_type: str  # e.g. "image/jpeg"
    data: bytes
    digest: str  # SHA-256 of data, for the content hash

    @property
    def size(self) -> int:
        """The size of the file in bytes."""
        return len(self.data)

    @property
    def maintype(self) -> str:
        """The MIME main type, e.g. ``image``."""
        return self.content_type.partition("/")[0]

    @property
    def subtype(self) -> str:
        """The MIME subtype, e.g. ``jpeg``."""
        return self.content_type.partition("/")[2]


@dataclass(frozen=True, slots=True)
class Link:
    """A link shown in the message (a photo gallery, a document)."""

    title: str
    url: str


def has_end_mark(markdown: str) -> bool:
    """Tell whether the body already ends its text with -30-, « – 30 – », ### or the like."""
    return _END_MARK.search(markdown) is not None


def _path_problem(written: str) -> str | None:
    """Say why ``written`` is not a relative path inside the folder, or return None."""
    if not written:
        return "an attachment path is empty"
    if "\\" in written or PureWindowsPath(written).drive:
        return f"{written!r}: write paths with '/', relative to the release folder"
    pure = PurePosixPath(written)
    if pure.is_absolute():
        return f"{written!r}: absolute paths are not allowed; give a path inside the release folder"
    if ".." in pure.parts:
        return f"{written!r}: '..' is not allowed; attachments must be inside the release folder"
    name_problem = attachment_name_problem(pure.name)
    if name_problem is not None:
        return f"{written!r}: {name_problem}"
    return None


def _file_problem(written: str, candidate: Path, root: Path) -> str | None:
    """Say why ``candidate`` cannot be attached (absent, outside ``root``, not a file)."""
    if not candidate.exists():
        return f"{written!r}: file not found in the release folder"
    if not candidate.resolve().is_relative_to(root):
        return f"{written!r}: leads outside the release folder (a symlink); copy the file in"
    if not candidate.resolve().is_file():
        return f"{written!r}: not a file"
    return None


def resolve_attachment(folder: Path, written: str) -> Attachment | str:
    """Return the attachment ``written`` names in ``folder``, or the reason it cannot be used."""
    problem = _path_problem(written)
    root = folder.resolve()
    candidate = root.joinpath(*PurePosixPath(written).parts)
    problem = problem or _file_problem(written, candidate, root)
    if problem is not None:
        return problem
    real = candidate.resolve()
    try:
        data = real.read_bytes()
    except OSError as exc:
        return f"{written!r}: cannot read: {exc.strerror}"
    filename = PurePosixPath(written).name
    guessed, encoding = mimetypes.guess_type(filename, strict=False)
    # A compressed file (.svgz, .tar.gz) is sent as what it is, not what it expands to.
    content_type = "application/octet-stream" if guessed is None or encoding else guessed
    return Attachment(
        name=written,
        path=real,
        filename=filename,
        content_type=content_type,
        data=data,
        digest=hashlib.sha256(data).hexdigest(),
    )


def format_size(size: float) -> str:
    """Return a size the way people read it: ``840 KB``, ``12.5 MB``."""
    if size < 1000:
        return f"{int(size)} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


def check_total_size(attachments: Iterable[Attachment], limit_mb: float) -> str | None:
    """Return why ``attachments`` are too big together, or None if they fit the limit."""
    unique = {a.path: a for a in attachments}
    total = sum(a.size for a in unique.values())
    limit = limit_mb * 1_000_000
    if total <= limit:
        return None
    return (
        f"the attachments add up to {format_size(total)}, over the {format_size(limit)} limit"
        " (campaign key max_attachments_mb); link large files instead (front matter 'links')"
    )


def parse_link(item: str | Sequence[tuple[str, str]]) -> Link | str:
    """Return a `Link` from a URL or ``{title, url}`` pairs, or the reason it cannot be used."""
    if isinstance(item, str):
        title, url = item, item
    else:
        values = dict(item)
        unknown = sorted(set(values) - {"title", "url"})
        if unknown or "url" not in values:
            return "a link is a URL, or 'title' and 'url' (e.g. - title: Photos / url: https://…)"
        url = values["url"]
        title = values.get("title") or url
    if not url.startswith(("https://", "http://")):
        return f"{url!r}: a link must start with https:// (or http://)"
    if re.search(r"[\s<>\"]", url) or find_forbidden(title):
        return f"{url!r}: a link must have no spaces, quotes or <>, and a one-line title"
    return Link(title=title, url=url)
