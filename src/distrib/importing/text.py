"""Plain text (.txt, pasted from an email) and Markdown (.md) → blocks.

Plain text: paragraphs are separated by blank lines; inside a paragraph, the lines of a hard
wrap (an email client's 72 columns) are joined, while short lines — an address, a contact
block, a signature — keep their line breaks.  A line is a wrapped one when it is at least
60 % of the longest line of the text (and that is at least 40 characters).  Lines starting with
``-``, ``*``, ``•``, ``–`` or ``1.`` / ``1)`` are list items; ``> `` quoting from a forwarded
email is removed.  Everything else is text: a ``*`` or a leading ``1987.`` is escaped, never read
as Markdown.

Markdown: read by markdown-it (CommonMark, raw HTML shown as text) and written back through
`distrib.importing.markdown`, so hard-wrapped lines are joined and the output is the same
clean Markdown as from Word.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata

from lxml.etree import _Element
from markdown_it import MarkdownIt

from distrib.importing.markdown import blocks_from_html, parse_fragment, strip_debris
from distrib.importing.model import Converted, Note
from distrib.release_extras import has_end_mark

__all__ = ["decode_text", "read_markdown", "read_text"]

_BULLET = re.compile(r"^\s*(?:[-*•–·▪◦]|\d{1,3}[.)])\s+")
_ORDERED = re.compile(r"^\s*\d{1,3}[.)]\s+")
_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{1,6}|#x[0-9a-fA-F]{1,5});")


def decode_text(data: bytes) -> tuple[str, str | None]:
    """Decode text: UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252.

    Returns the text (LF line ends, NFC) and a note when it was not UTF-8.
    """
    note = None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", "replace")
            note = "not UTF-8: read as Windows-1252"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text), note


def _paragraphs(text: str) -> list[list[str]]:
    chunks: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


def _unquote(text: str) -> str:
    """Remove the ``> `` of a forwarded email when every non-blank line has it."""
    lines = [line for line in text.split("\n") if line.strip()]
    if lines and all(line.lstrip().startswith(">") for line in lines):
        return "\n".join(re.sub(r"^\s*>+ ?", "", line) for line in text.split("\n"))
    return text


def _is_item(line: str) -> bool:
    """A list item line (but "- 30 -", the end mark, is not one)."""
    return bool(_BULLET.match(line)) and not has_end_mark(line)


def _html_list(lines: list[str]) -> str:
    items: list[list[str]] = []
    for line in lines:
        if _is_item(line) or not items:
            items.append([_BULLET.sub("", line, count=1).strip()])
        else:
            items[-1].append(line.strip())
    tag = "ol" if _ORDERED.match(lines[0]) else "ul"
    body = "".join(f"<li>{html.escape(' '.join(item))}</li>" for item in items)
    return f"<{tag}>{body}</{tag}>"


def _html_lines(lines: list[str], width: int) -> str:
    """Lines of one paragraph → HTML paragraphs, hard wraps joined, short lines kept."""
    wrapped = 40 <= width <= 120  # an email client's hard wrap; longer lines were never wrapped
    out = [html.escape(lines[0].strip())]
    for previous, line in itertools.pairwise(lines):
        length = len(previous.rstrip())
        if wrapped and length >= 0.6 * width:
            out[-1] += " " + html.escape(line.strip())
        elif not wrapped and length >= 80:
            out.append(html.escape(line.strip()))  # one long line per paragraph
        else:
            out[-1] += "<br>" + html.escape(line.strip())
    return "".join(f"<p>{paragraph}</p>" for paragraph in out)


def _html_chunk(lines: list[str], width: int) -> str:
    """One chunk of lines (between blank lines) → HTML: paragraphs and lists, in order."""
    markup = ""
    start = 0
    while start < len(lines):
        is_item = _is_item(lines[start])
        end = start + 1
        while end < len(lines):
            item = _is_item(lines[end])
            # A list goes on over its items' wrapped lines (indented, or not a new item).
            if (is_item and (item or lines[end].startswith((" ", "\t")))) or (
                not is_item and not item
            ):
                end += 1
            else:
                break
        part = lines[start:end]
        markup += _html_list(part) if is_item else _html_lines(part, width)
        start = end
    return markup


def read_text(name: str, data: bytes) -> Converted:
    """Convert plain text to blocks."""
    del name
    text, note = decode_text(data)
    text = _unquote(text)
    debris: list[str] = []
    text = strip_debris(text, debris)
    entities = _ENTITY.findall(text)
    text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    text = text.replace("\t", " ")
    chunks = _paragraphs(text)
    width = max((len(line) for chunk in chunks for line in chunk), default=0)
    markup = "".join(_html_chunk(chunk, width) for chunk in chunks)
    blocks = blocks_from_html(parse_fragment(markup or "<p></p>"), lambda _e: None, debris)
    dropped = [Note("tag debris", piece) for piece in debris]
    dropped.extend(Note("HTML entity decoded", entity) for entity in sorted(set(entities)))
    return Converted(blocks=tuple(blocks), dropped=tuple(dropped), warnings=(note,) if note else ())


_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def read_markdown(name: str, data: bytes) -> Converted:
    """Convert Markdown to blocks (an image path of the file is kept as a link, not copied)."""
    del name
    text, note = decode_text(data)
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            text = text[end + 4 :].lstrip("\n")  # front matter of another tool: not ours
    markup = _MARKDOWN.render(text)
    debris: list[str] = []
    kept_images: list[Note] = []

    def image(element: _Element) -> tuple[str, str] | None:
        src = element.get("src") or ""
        alt = element.get("alt") or ""
        kept_images.append(Note("image not copied", src))
        return (f"[{alt or 'image'}]({src})", alt) if src.startswith("http") else None

    blocks = blocks_from_html(parse_fragment(markup or "<p></p>"), image, debris)
    dropped = [Note("tag debris", piece) for piece in debris]
    warnings = [note] if note else []
    warnings.extend(str(n) for n in kept_images)
    return Converted(blocks=tuple(blocks), dropped=tuple(dropped), warnings=tuple(warnings))
