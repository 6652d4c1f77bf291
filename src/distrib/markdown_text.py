"""Markdown as plain text that reads well in mail: the text/plain part of every message.

Paragraphs stay paragraphs with the author's line breaks, emphasis marks go, links become
``text (url)``, headings become lines of their own, list items start with ``- `` or ``1. ``,
images read ``[Image: caption]``, and a table becomes aligned columns (widths measured as a
terminal or a fixed-width mail reader shows them: an accent takes no room of its own, a CJK
character two) or, when it would be wider than 78 columns, one ``header: value`` line per cell
with a blank line between rows.  Written by hand over markdown-it's token stream because no
maintained library renders CommonMark to plain text with these conventions;
`tests/test_release.py` checks it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt

if TYPE_CHECKING:
    from markdown_it.token import Token

__all__ = ["markdown_to_text"]

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
#: The widest a table's text may be before it is written as "header: value" lines.
TABLE_WIDTH = 78


def markdown_to_text(source: str | Sequence[Token]) -> str:
    """Render Markdown (source or markdown-it tokens) as plain text that reads well in mail.

    Paragraphs stay paragraphs with the author's line breaks, emphasis marks go, links become
    ``text (url)``, headings become lines of their own, list items start with ``- `` or ``1. ``.
    """
    tokens = _MARKDOWN.parse(source) if isinstance(source, str) else source
    writer = _TextWriter()
    for index, token in enumerate(tokens):
        writer.block(token, tokens[index + 1] if index + 1 < len(tokens) else None)
    return "\n".join(writer.lines).strip("\n")


# Blocks that start on a new paragraph (a hidden paragraph is the text of a tight list item).
_BLOCK_STARTS = frozenset(
    {"paragraph_open", "heading_open", "blockquote_open", "hr", "fence", "code_block"}
)


class _TextWriter:
    """Turn a markdown-it block token stream into lines of plain text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lists: list[list[int]] = []  # one [next number] per open list; -1 for bullets
        self.indents: list[str] = []  # continuation indent of each open list item
        self.marker: str | None = None  # the list marker waiting for the item's first line
        self.quote = 0
        self.table: list[list[tuple[str, str]]] | None = None  # rows of (text, alignment)
        self.align = ""

    def block(self, token: Token, following: Token | None) -> None:
        """Handle one block-level token."""
        kind = token.type
        if self.table is not None or kind == "table_open":
            self._table_token(token)
            return
        if kind in _BLOCK_STARTS and not token.hidden:
            self._gap()
        if kind in ("bullet_list_open", "ordered_list_open"):
            if not self.lists:
                self._gap()
            start = int(token.attrs.get("start", 1)) if kind == "ordered_list_open" else -1
            self.lists.append([start])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
        elif kind == "list_item_open":
            self._open_item(following)
        elif kind == "list_item_close":
            self.indents.pop()
            self.marker = None
        elif kind == "blockquote_open":
            self.quote += 1
        elif kind == "blockquote_close":
            self.quote -= 1
        elif kind == "inline":
            self._emit(_inline_text(token.children or []))
        elif kind in ("fence", "code_block"):
            self._emit(token.content.rstrip("\n"))
        elif kind == "hr":
            self._emit("----")

    def _open_item(self, following: Token | None) -> None:
        counter = self.lists[-1]
        if counter[0] < 0:
            marker = "- "
        else:
            marker = f"{counter[0]}. "
            counter[0] += 1
        # A loose list (items separated by blank lines in the source) keeps its blank lines.
        if following is not None and following.type == "paragraph_open" and not following.hidden:
            self._gap()
        outer = self.indents[-1] if self.indents else ""
        self.marker = outer + marker
        self.indents.append(outer + " " * len(marker))

    def _table_token(self, token: Token) -> None:
        """Collect a table's cells; write it at its end."""
        kind = token.type
        if kind == "table_open" or self.table is None:
            self._gap()
            self.table = []
        elif kind == "tr_open":
            self.table.append([])
        elif kind in ("th_open", "td_open"):
            found = re.search(r"text-align:\s*(\w+)", str(token.attrs.get("style", "")))
            self.align = found.group(1) if found else ""
        elif kind == "inline" and self.table:
            # One line per cell; non-breaking spaces stay (485 000 $ must not break).
            text = re.sub(r"[ \t\r\n]+", " ", _inline_text(token.children or [])).strip(" ")
            self.table[-1].append((text, self.align))
        elif kind == "table_close":
            rows, self.table = self.table, None
            self._emit("\n".join(table_lines(rows, TABLE_WIDTH - len(self._prefix()))))

    def _prefix(self) -> str:
        return "> " * self.quote + (self.indents[-1] if self.indents else "")

    def _gap(self) -> None:
        if self.lines and self.lines[-1].strip(" >") and self.marker is None:
            self.lines.append(("> " * self.quote).rstrip())

    def _emit(self, text: str) -> None:
        prefix = "> " * self.quote
        indent = self.indents[-1] if self.indents else ""
        for number, line in enumerate(text.split("\n")):
            if number == 0 and self.marker is not None:
                self.lines.append((prefix + self.marker + line).rstrip())
                self.marker = None
            else:
                self.lines.append((prefix + indent + line).rstrip() if line else prefix.rstrip())


def _inline_text(children: Sequence[Token]) -> str:
    """Flatten inline tokens: drop emphasis marks, write links as ``text (url)``."""
    parts: list[str] = []
    links: list[tuple[str, int]] = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline"):
            parts.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif kind == "image":
            # The caption (its Markdown as written); with images attached, also the file name.
            caption = child.meta.get("caption") or _inline_text(child.children or [])
            parts.append(f"[Image: {caption}]" if caption.strip() else "[Image]")
        elif kind == "link_open":
            links.append((str(child.attrs.get("href", "")), len(parts)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            label = "".join(parts[start:])
            # An autolink or a link whose text is its address needs no repetition.
            if href and _bare(href) != _bare(label):
                parts.append(f" ({href.removeprefix('mailto:')})")
    return "".join(parts)


def _bare(link: str) -> str:
    """Strip the scheme and trailing slash, so ``agapc.example`` matches ``https://agapc.example/``."""
    for scheme in ("mailto:", "https://", "http://"):
        link = link.removeprefix(scheme)
    return link.rstrip("/").lower()


def display_width(text: str) -> int:
    """The columns ``text`` takes in a fixed-width font: combining marks none, wide
    (CJK, emoji) characters two, the rest one."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, align: str) -> str:
    room = width - display_width(text)
    if align == "right":
        return " " * room + text
    if align == "center":
        return " " * (room // 2) + text + " " * (room - room // 2)
    return text + " " * room


def table_lines(rows: Sequence[Sequence[tuple[str, str]]], limit: int = TABLE_WIDTH) -> list[str]:
    """Write a table's rows (the header first) as aligned columns, two spaces apart, a line of
    dashes under the header; or, wider than ``limit``, as ``header: value`` lines per row."""
    if not rows:
        return []
    columns = max(len(row) for row in rows)
    cells = [[*row, *[("", "")] * (columns - len(row))] for row in rows]
    widths = [max(display_width(row[c][0]) for row in cells) for c in range(columns)]
    if sum(widths) + 2 * (columns - 1) <= limit:
        lines = []
        for index, row in enumerate(cells):
            text = "  ".join(_pad(t, w, a) for (t, a), w in zip(row, widths, strict=True))
            lines.append(text.rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        return lines
    header = [text for text, _ in cells[0]]
    lines = []
    for row in cells[1:]:
        if lines:
            lines.append("")
        for name, (text, _) in zip(header, row, strict=True):
            lines.append(f"{name}: {text}" if name else text)
    return lines
