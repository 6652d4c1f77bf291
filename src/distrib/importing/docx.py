"""Word (.docx) → blocks, through mammoth (Word styles → semantic HTML) and `markdown`.

Before mammoth sees a byte, the file is checked as the untrusted zip it is: an encrypted
document (an OLE compound file, ``D0 CF 11 E0``, which is also what an old ``.doc`` is), a
macro-enabled ``.docm`` (its content type), too many members, a member or a total over the size
limits, or a compression ratio no document has (a zip bomb) are refused with the file's name.
Every XML part is parsed with defusedxml first, so a DTD or an entity (billion laughs, external
entities) is refused too.

Tracked changes: the text sent is the **accepted** text, the document as it reads when no
pending change is applied — a pending insertion is left out, a pending deletion stays, a pending
move stays where it was — and the import warns with the number of pending changes so the officer
accepts or rejects them in Word first.  (mammoth on its own would apply every pending change:
unreviewed text would reach journalists.)  Comments are never read.  Footnotes and endnotes
become ``[1] text`` paragraphs at the end of the body.

Images are taken out of the document and named by the caller (never a name from the document);
only PNG, JPEG, GIF and WebP are kept (what mail readers show), each checked by its first bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import defusedxml.ElementTree as SafeET
import mammoth  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException
from lxml import etree
from lxml.etree import _Element

from distrib.errors import Location, Problem
from distrib.importing.errors import ReleaseImportError
from distrib.importing.markdown import blocks_from_html, drop_tree, parse_fragment
from distrib.importing.model import Block, Converted, Note

__all__ = ["ZipLimits", "check_zip", "read_docx"]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MACRO_TYPES = ("macroenabled", "vbaproject", "vnd.ms-office.activex")
_DOCUMENT_PARTS = ("word/document.xml", "word/footnotes.xml", "word/endnotes.xml")
_IMAGE_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
# Word styles that carry meaning mammoth's default map does not know.
_STYLE_MAP = """
p[style-name='Title'] => h1.distrib-title:fresh
p[style-name='Subtitle'] => p.distrib-subtitle:fresh
p[style-name='Quote'] => blockquote > p:fresh
p[style-name='Intense Quote'] => blockquote > p:fresh
"""


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Limits a .docx must stay within before it is opened (its members' declared sizes)."""

    max_members: int = 2000
    max_member_bytes: int = 100_000_000
    max_total_bytes: int = 250_000_000
    max_ratio: float = 200.0  # uncompressed / compressed, for members over 1 MB


def _refuse(name: str, message: str, code: str) -> ReleaseImportError:
    return ReleaseImportError([Problem(message, Location(name), code)], f"cannot import {name}")


def check_zip(name: str, data: bytes, limits: ZipLimits) -> zipfile.ZipFile:
    """Open ``data`` as a .docx zip after the safety checks; raise `ReleaseImportError` if not."""
    if data.startswith(_OLE_MAGIC):
        raise _refuse(
            name,
            "the document is encrypted (password-protected) or is an old .doc: remove the"
            " password in Word (File › Info › Protect Document), or save it as .docx, and import"
            " it again",
            "encrypted",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refuse(
            name,
            f"not a Word .docx file (not a valid zip: {exc}); save it again as .docx",
            "corrupt",
        ) from None
    if len(members) > limits.max_members:
        raise _refuse(name, f"{len(members)} parts in the zip: not a document", "zip-bomb")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        too_big = member.file_size > limits.max_member_bytes or total > limits.max_total_bytes
        if too_big or (member.file_size > 1_000_000 and ratio > limits.max_ratio):
            raise _refuse(
                name,
                f"{member.filename!r} would expand to {member.file_size:,} bytes"
                f" ({ratio:.0f}× its compressed size): refusing what looks like a zip bomb",
                "zip-bomb",
            )
    names = {m.filename for m in members}
    if "[Content_Types].xml" not in names or "word/document.xml" not in names:
        raise _refuse(
            name, "not a Word .docx file (no word/document.xml); save it as .docx", "corrupt"
        )
    content_types = archive.read("[Content_Types].xml").decode("utf-8", "replace").lower()
    if any(marker in content_types for marker in _MACRO_TYPES) or "word/vbaproject.bin" in {
        n.lower() for n in names
    }:
        raise _refuse(
            name,
            "a macro-enabled Word document (.docm): distrib never opens macros; save it as a"
            " plain .docx (Word Document) and import that",
            "macro",
        )
    return archive


def _check_xml(name: str, archive: zipfile.ZipFile) -> None:
    """Parse every XML part with defusedxml: no DTD, no entity, well-formed."""
    for member in archive.infolist():
        if not member.filename.lower().endswith((".xml", ".rels")):
            continue
        try:
            SafeET.fromstring(archive.read(member), forbid_dtd=True)
        except DefusedXmlException:
            raise _refuse(
                name, f"{member.filename}: holds a DTD or entities, which Word never writes", "xml"
            ) from None
        except (SafeET.ParseError, zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise _refuse(
                name, f"{member.filename}: damaged ({exc}); save it again", "corrupt"
            ) from None


# -- tracked changes -------------------------------------------------------------------------
def _q(tag: str) -> str:
    return f"{{{W}}}{tag}"


def _unwrap(element: _Element) -> None:
    """Replace ``element`` by its children."""
    parent = element.getparent()
    if parent is None:
        return
    index = parent.index(element)
    for offset, child in enumerate(list(element)):
        parent.insert(index + offset, child)
    parent.remove(element)


def _remove_inserted_rows(root: _Element) -> int:
    """Remove table rows whose insertion is pending (``w:trPr/w:ins``)."""
    count = 0
    for marker in list(root.iter(_q("ins"))):
        parent = marker.getparent()
        row = parent.getparent() if parent is not None and parent.tag == _q("trPr") else None
        table = row.getparent() if row is not None else None
        if row is not None and table is not None:
            count += 1
            table.remove(row)
    return count


def _drop_formatting_changes(root: _Element) -> int:
    """Remove the records of pending formatting changes (the formatting shown stays)."""
    count = 0
    for tag in ("rPrChange", "pPrChange", "sectPrChange", "tblPrChange", "trPrChange"):
        for element in list(root.iter(_q(tag))):
            parent = element.getparent()
            if parent is not None:
                count += 1
                parent.remove(element)
    return count


def _reject_pending(xml: bytes) -> tuple[bytes, int]:
    """Return the part with every pending change undone, and how many changes there were."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(xml, parser)
    count = _remove_inserted_rows(root)
    for tag in ("ins", "moveTo"):
        for element in list(root.iter(_q(tag))):
            parent = element.getparent()
            if parent is not None:
                count += 1
                parent.remove(element)  # inserted runs, or a marker in w:rPr: both go
    for tag in ("del", "moveFrom"):
        for element in list(root.iter(_q(tag))):
            parent = element.getparent()
            if parent is None:
                continue
            count += 1
            if parent.tag in (_q("rPr"), _q("trPr")):
                parent.remove(element)  # a deleted paragraph mark or row: keep it
            else:
                _unwrap(element)
    for old, new in (("delText", "t"), ("delInstrText", "instrText")):
        for element in root.iter(_q(old)):
            element.tag = _q(new)
    count += _drop_formatting_changes(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), count


def _without_pending_changes(archive: zipfile.ZipFile) -> tuple[bytes, int]:
    """Rewrite the zip with pending changes undone in the text parts; return (zip, count)."""
    out = io.BytesIO()
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as rewritten:
        for member in archive.infolist():
            data = archive.read(member)
            if member.filename in _DOCUMENT_PARTS:
                data, changed = _reject_pending(data)
                count += changed
            rewritten.writestr(member.filename, data)
    return out.getvalue(), count


# -- conversion ------------------------------------------------------------------------------
@dataclass
class _Images:
    images: list[tuple[str, bytes]] = field(default_factory=list)
    dropped: list[Note] = field(default_factory=list)

    def __call__(self, image: Any) -> dict[str, str]:
        content_type = str(image.content_type or "").lower()
        with image.open() as stream:
            data = stream.read()
        alt = str(image.alt_text or "").strip()
        magic = _IMAGE_TYPES.get(content_type)
        if magic is None or not data.startswith(magic):
            self.dropped.append(
                Note("image", f"{content_type or 'unknown type'} is not shown by mail readers:"
                     " save it as PNG or JPEG and attach it")
            )  # fmt: skip
            return {"src": "distrib-dropped:", "alt": alt}
        self.images.append((content_type, data))
        return {"src": f"distrib-image:{len(self.images)}", "alt": alt}


def _image_markdown(element: _Element) -> tuple[str, str] | None:
    src = element.get("src") or ""
    if not src.startswith("distrib-image:"):
        return None
    alt = re.sub(r"[\[\]\\\n]", " ", element.get("alt") or "").strip()
    return f"![{alt}]({src})", alt


def _split_notes(root: _Element) -> list[_Element]:
    """Take mammoth's footnote/endnote list items out of ``root``; return them."""
    notes: list[_Element] = []
    for item in list(root.iter("li")):
        if re.match(r"(?:foot|end)note-\d+$", item.get("id") or ""):
            notes.append(item)
    for item in notes:
        parent = item.getparent()
        if parent is not None:
            parent.remove(item)
            grandparent = parent.getparent()
            if len(parent) == 0 and grandparent is not None:
                grandparent.remove(parent)
    return notes


def _note_blocks(notes: list[_Element]) -> list[Block]:
    blocks: list[Block] = []
    for number, item in enumerate(notes, 1):
        for anchor in list(item.iter("a")):
            if (anchor.get("href") or "").startswith("#"):
                drop_tree(anchor)  # the "↑" back link
        converted = blocks_from_html(item, _image_markdown)
        text = " ".join(b.text for b in converted).strip()
        markdown = " ".join(b.markdown for b in converted).strip()
        if text:
            blocks.append(Block("paragraph", f"\\[{number}\\] {markdown}", f"[{number}] {text}"))
    return blocks


def read_docx(name: str, data: bytes, limits: ZipLimits | None = None) -> Converted:
    """Convert a .docx to blocks; raise `ReleaseImportError` (naming ``name``) if it is unsafe."""
    archive = check_zip(name, data, limits or ZipLimits())
    with archive:
        _check_xml(name, archive)
        try:
            rewritten, pending = _without_pending_changes(archive)
        except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, ValueError) as exc:
            raise _refuse(name, f"damaged document ({exc}); save it again", "corrupt") from None
        declared = _declared_language(archive)
    images = _Images()
    try:
        result = mammoth.convert_to_html(
            io.BytesIO(rewritten),
            style_map=_STYLE_MAP,
            convert_image=mammoth.images.img_element(images),
        )
    except Exception as exc:
        raise _refuse(
            name, f"Word document cannot be read ({exc}); save it again", "corrupt"
        ) from None
    root = parse_fragment(str(result.value) or "<p></p>")
    notes = _split_notes(root)
    debris: list[str] = []
    blocks = blocks_from_html(root, _image_markdown, debris)
    warnings: list[str] = []
    if pending:
        warnings.append(
            f"{pending} unaccepted tracked change(s): the text imported is the text without"
            " them (insertions left out, deletions kept); accept or reject them in Word, then"
            " import again"
        )
    dropped = list(images.dropped)
    dropped.extend(Note("tag debris", piece) for piece in debris)
    return Converted(
        blocks=tuple(blocks),
        images=tuple(images.images),
        notes=tuple(_note_blocks(notes)),
        dropped=tuple(dropped),
        warnings=tuple(warnings),
        declared_language=declared,
    )


def _declared_language(archive: zipfile.ZipFile) -> str | None:
    """The document's default language from its styles (``w:lang w:val="fr-CA"``), if any."""
    try:
        styles = archive.read("word/styles.xml")
    except KeyError:
        return None
    match = re.search(rb'<w:lang\b[^>]*\bw:val="([A-Za-z]{2})', styles)
    return match.group(1).decode("ascii").lower() if match else None
