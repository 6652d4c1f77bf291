"""The release's images (``![caption](photo.jpg)``) and the workspace's logo, checked and read.

An image is a file of the release folder, named by a path relative to it, exactly like an
attachment (`distrib.release_extras`): not absolute, no ``..``, no symlink leading out.  It is
recognised **by its content**, never by its name: PNG, JPEG, GIF or WebP (the formats every
mail client shows); anything else — an SVG (it can hold scripts), a PDF named ``photo.png`` —
is refused.  A remote image (``http:``, ``https:``, ``data:`` …) is refused too: distrib never
fetches anything, and a remote image in a message is a tracking pixel whether one meant it or
not.

Each image gets a ``Content-ID`` derived from its bytes and the sender's domain
(``<img.<sha256>@domain>``): the same in every message of a release and on every render, so a
resumed run writes the same bytes, and an image used by both languages is one part.  Its file
name is header text (``Content-Disposition: inline; filename=…``), checked as an attachment's
is (`distrib.release_extras.attachment_name_problem`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from distrib.release_extras import (
    Attachment,
    attachment_name_problem,
    format_size,
    resolve_attachment,
)

__all__ = [
    "InlineImage",
    "image_problem",
    "image_type",
    "is_remote",
    "read_image",
    "read_logo",
    "with_data_urls",
]

# RFC 3986 scheme ":" — a Windows drive letter ("C:") is one character and is no scheme here.
_SCHEMES = ("http:", "https:", "data:", "ftp:", "file:", "cid:", "mailto:", "javascript:", "//")


@dataclass(frozen=True, slots=True)
class InlineImage(Attachment):
    """An image shown in the HTML part: an `Attachment` with a Content-ID and a caption."""

    content_id: str = ""  # without the angle brackets: img.<hex>@domain
    alt: str = ""

    @property
    def src(self) -> str:
        """What the HTML's ``<img src>`` says: ``cid:…`` (RFC 2392)."""
        return f"cid:{self.content_id}"

    def data_url(self) -> str:
        """The image as a ``data:`` URL (for a preview in a browser, which knows no cid:)."""
        from base64 import b64encode

        return f"data:{self.content_type};base64,{b64encode(self.data).decode('ascii')}"


def image_type(data: bytes) -> str | None:
    """Return the MIME type the bytes are (PNG, JPEG, GIF, WebP), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def is_remote(src: str) -> bool:
    """Tell whether ``src`` names something other than a file of the release (a URL)."""
    return src.strip().lower().startswith(_SCHEMES)


def content_id(digest: str, domain: str) -> str:
    """Return the Content-ID (without brackets) of an image whose SHA-256 is ``digest``."""
    host = domain.strip().lower() or "distrib.invalid"
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = "distrib.invalid"
    return f"img.{digest[:32]}@{host}"


def image_problem(data: bytes, written: str, max_mb: float, key: str) -> str | None:
    """Say why these bytes cannot be sent as an image, or return None."""
    if image_type(data) is None:
        return (
            f"{written!r} is not a PNG, JPEG, GIF or WebP image (recognised by its content,"
            " not its name); export it as one of those"
        )
    limit = max_mb * 1_000_000
    if len(data) > limit:
        return (
            f"{written!r} is {format_size(len(data))}, over the {format_size(limit)} limit per"
            f" image ([press] {key}); make it smaller (a photo for a message needs about 1,200"
            " pixels across) or link to the full-size file"
        )
    return None


def read_image(
    folder: Path, written: str, *, alt: str, domain: str, max_mb: float
) -> InlineImage | str:
    """Return the image ``written`` names in the release ``folder``, or why it cannot be used."""
    if is_remote(written):
        return (
            f"{written!r} is a remote image: distrib does not fetch images (and a remote image"
            " tells its server who opened the message); save the file in the release folder"
            " and name it by its path"
        )
    found = resolve_attachment(folder, written)
    if isinstance(found, str):
        return found.replace("attachments must be", "images must be")
    problem = image_problem(found.data, written, max_mb, "max_image_mb")
    if problem is not None:
        return problem
    kind = image_type(found.data) or "application/octet-stream"
    return InlineImage(
        name=found.name,
        path=found.path,
        filename=found.filename,
        content_type=kind,
        data=found.data,
        digest=found.digest,
        content_id=content_id(found.digest, domain),
        alt=alt,
    )


def read_logo(path: Path, *, alt: str, domain: str, max_mb: float) -> InlineImage | str:
    """Return the logo at ``path`` (a file of the workspace), or why it cannot be used."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"{str(path)!r}: cannot read: {exc.strerror}"
    name = PurePosixPath(path.as_posix()).name
    problem = attachment_name_problem(name) or image_problem(data, name, max_mb, "max_image_mb")
    if problem is not None:
        return problem
    digest = hashlib.sha256(data).hexdigest()
    return InlineImage(
        name=path.name,
        path=path,
        filename=path.name,
        content_type=image_type(data) or "application/octet-stream",
        data=data,
        digest=digest,
        content_id=content_id(digest, domain),
        alt=alt,
    )


def with_data_urls(html: str, images: tuple[InlineImage, ...]) -> str:
    """Return ``html`` with each image's ``cid:`` source replaced by a ``data:`` URL, so a
    browser (the preview) shows what a mail client shows."""
    for image in images:
        html = html.replace(f'"{image.src}"', f'"{image.data_url()}"')
    return html
