"""Clean HTML (from Word, a web page or plain text) → Markdown blocks that distrib renders.

A small converter over lxml rather than a general HTML-to-Markdown library, because distrib's
renderer is strict CommonMark with raw HTML off: every character the author wrote must come out
as text (``*``, ``_``, ``[``, a leading ``1987.`` or ``#`` are escaped), emphasis must hug its
words (``**Hiver** en`` never ``** Hiver**``), a ``<br>`` is a backslash hard break, tables are
GFM pipe tables, and only ``http(s)``/``mailto`` links survive.  Only ``href``, ``src`` and
``alt`` are ever read: styles, classes and event handlers cannot reach the output.

Each block also carries its plain text, which is what `distrib.importing.parts` reads to find
the title, the dateline, the end mark and the rest.  Stray tag debris in the text (``/em>``,
``</strong>``, ``<br>`` typed as text) is removed here and reported by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import html as lxml_html
from lxml.etree import _Element

from distrib.importing.model import Block, BlockKind

__all__ = [
    "DEBRIS",
    "blocks_from_html",
    "drop_tree",
    "escape_text",
    "parse_fragment",
    "strip_debris",
]

# Tag debris left in the text by a bad copy-paste or a broken CMS: a literal tag (`<em>`,
# `</strong>`, `<br/>`) or a half tag (`/em>`, `em>`-less `</`) of the usual inline elements.
_TAGS = r"(?:em|strong|b|i|u|s|span|p|div|a|br|li|ul|ol|h[1-6]|sup|sub|font|small|strike)"
DEBRIS = re.compile(
    rf"</?{_TAGS}\b[^<>]{{0,80}}?/?>"  # a whole tag typed as text
    rf"|(?<![\w<])/{_TAGS}>"  # "/em>": the "<" was lost
    rf"|</{_TAGS}(?![\w>])",  # "</em": the ">" was lost
    re.IGNORECASE,
)
_SPACES = re.compile(r"[ \t\r\n\f\v]+")  # not NBSP/NNBSP: French typography keeps them
_BLOCK_TAGS = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr",
        "div", "section", "article", "main", "header", "footer", "figure", "figcaption", "dl",
        "dt", "dd", "address", "center", "body", "html", "li", "tr", "td", "th", "thead",
        "tbody", "tfoot", "caption", "aside", "details", "summary",
    }
)  # fmt: skip
_CONTAINERS = frozenset(
    {"div", "section", "article", "main", "header", "footer", "figure", "body", "html",
     "center", "aside", "details", "dl", "tbody", "thead", "tfoot"}
)  # fmt: skip
_SKIP = frozenset({"script", "style", "noscript", "template", "head", "title", "meta", "link"})
_LINK_SCHEMES = ("https://", "http://", "mailto:")


def strip_debris(text: str, found: list[str] | None = None) -> str:
    """Remove tag debris from ``text``, appending each piece removed to ``found``."""

    def drop(match: re.Match[str]) -> str:
        if found is not None:
            found.append(match.group(0))
        return ""

    return DEBRIS.sub(drop, text)


def escape_text(text: str) -> str:
    """Escape what CommonMark would read as syntax inside a line of text."""
    text = re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)
    return re.sub(r"&(?=#?\w+;)", r"\\&", text)


def _escape_line_start(line: str) -> str:
    """Escape a line start that CommonMark would read as a heading, list, quote or rule."""
    stripped = line.lstrip(" ")
    indent = line[: len(line) - len(stripped)]
    match = re.match(r"(\d{1,9})([.)])(?=\s|$)", stripped)
    if match:
        return f"{indent}{match.group(1)}\\{match.group(2)}{stripped[match.end() :]}"
    if re.match(r"(?:#{1,6}|[-+*])(?=\s|$)|=+\s*$|-+\s*$|[-_*](?:\s*[-_*]){2,}\s*$", stripped):
        return f"{indent}\\{stripped}"
    return line


@dataclass
class _Inline:
    """Inline Markdown being built, with the plain text beside it."""

    parts: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def add(self, markdown: str, text: str) -> None:
        self.parts.append(markdown)
        self.text.append(text)


@dataclass
class Converter:
    """Turn an element tree into `Block`s.  ``image`` maps an ``<img>`` to Markdown and text."""

    image: Callable[[_Element], tuple[str, str] | None]
    debris: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    # -- blocks --------------------------------------------------------------------------------
    def convert(self, root: _Element) -> list[Block]:
        """Convert ``root``'s content (the element itself is a container)."""
        self._container(root)
        return self.blocks

    def _container(self, element: _Element) -> None:
        pending = _Inline()
        if element.text:
            self._text(element.text, pending, ())
        for child in element:
            tag = _tag(child)
            if tag in _SKIP:
                pass
            elif tag in _BLOCK_TAGS:
                self._flush(pending)
                pending = _Inline()
                self._block(child, tag)
            else:
                self._inline(child, pending, ())
            if child.tail:
                self._text(child.tail, pending, ())
        self._flush(pending)

    def _flush(self, inline: _Inline, kind: BlockKind = "paragraph", role: str = "") -> None:
        markdown, text = _finish(inline)
        if not text.strip() and "![" not in markdown:
            return
        lines = [_escape_line_start(line) for line in markdown.split("\n")]
        markdown = "\n".join(lines)
        if kind == "paragraph" and re.fullmatch(r"!\[[^\n]*\]\([^)\s]*\)", markdown):
            kind = "image"
        self.blocks.append(Block(kind, markdown, text, role=role))

    def _block(self, element: _Element, tag: str) -> None:
        role = _role(element)
        if tag in _CONTAINERS:
            self._container(element)
        elif re.fullmatch(r"h[1-6]", tag):
            inline = self._inline_of(element)
            markdown, text = _finish(inline)
            if text.strip():
                level = int(tag[1])
                markdown = markdown.replace("\\\n", " ").replace("\n", " ")
                self.blocks.append(
                    Block("heading", f"{'#' * level} {markdown}", text, level, role or "")
                )
        elif tag in ("ul", "ol"):
            lines, text = self._list(element, tag)
            if lines:
                self.blocks.append(Block("list", "\n".join(lines), text))
        elif tag == "table":
            self._table(element)
        elif tag == "blockquote":
            inner = Converter(self.image, self.debris)
            inner.convert(element)
            if inner.blocks:
                body = "\n\n".join(b.markdown for b in inner.blocks)
                quoted = "\n".join(f"> {line}" if line else ">" for line in body.split("\n"))
                text = "\n".join(b.text for b in inner.blocks)
                self.blocks.append(Block("quote", quoted, text))
        elif tag == "pre":
            code = "".join(element.itertext()).strip("\n")
            if code.strip():
                fence = "~~~" if "```" in code else "```"
                self.blocks.append(Block("code", f"{fence}\n{code}\n{fence}", code))
        elif tag == "hr":
            self.blocks.append(Block("rule", "---", ""))
        else:  # p, li/td outside their parents, dt, dd, figcaption, address, caption, summary
            self._flush(self._inline_of(element), role=role)

    def _list(self, element: _Element, tag: str, depth: int = 0) -> tuple[list[str], str]:
        lines: list[str] = []
        texts: list[str] = []
        number = _start(element)
        for item in element:
            if _tag(item) != "li":
                continue
            marker = f"{number}. " if tag == "ol" else "- "
            number += 1
            pad = " " * len(marker)
            inline = _Inline()
            nested: list[str] = []
            if item.text:
                self._text(item.text, inline, ())
            for child in item:
                child_tag = _tag(child)
                if child_tag in ("ul", "ol"):
                    sub, sub_text = self._list(child, child_tag, depth + 1)
                    nested.extend(pad + line for line in sub)
                    texts.append(sub_text)
                elif child_tag in _BLOCK_TAGS:
                    if inline.parts:
                        inline.add("\\\n", "\n")
                    self._inline_children(child, inline, ())
                elif child_tag not in _SKIP:
                    self._inline(child, inline, ())
                if child.tail:
                    self._text(child.tail, inline, ())
            markdown, text = _finish(inline)
            if not text.strip() and not nested:
                continue
            first, *rest = markdown.split("\n") if markdown else [""]
            lines.append(f"{marker}{first}".rstrip())
            lines.extend(pad + line for line in rest)
            lines.extend(nested)
            texts.append(text)
        return lines, "\n".join(texts)

    def _table(self, element: _Element) -> None:
        rows: list[list[str]] = []
        texts: list[str] = []
        for row in element.iter("tr"):
            cells: list[str] = []
            for cell in row:
                if _tag(cell) not in ("td", "th"):
                    continue
                inline = _Inline()
                self._inline_children(cell, inline, (), separator=True)
                markdown, text = _finish(inline)
                cells.append(markdown.replace("\\\n", " ").replace("\n", " ").strip())
                texts.append(text)
            if any(cells):
                rows.append(cells)
        if not rows:
            return
        width = max(len(row) for row in rows)
        rows = [row + [""] * (width - len(row)) for row in rows]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(["---"] * width) + "|"]
        lines.extend("| " + " | ".join(row) + " |" for row in rows[1:])
        self.blocks.append(Block("table", "\n".join(lines), "\n".join(texts)))

    # -- inline --------------------------------------------------------------------------------
    def _inline_of(self, element: _Element) -> _Inline:
        inline = _Inline()
        self._inline_children(element, inline, ())
        return inline

    def _inline_children(
        self, element: _Element, inline: _Inline, marks: tuple[str, ...], *, separator: bool = False
    ) -> None:
        if element.text:
            self._text(element.text, inline, marks)
        for child in element:
            tag = _tag(child)
            if tag in _SKIP:
                pass
            elif tag in _BLOCK_TAGS and tag not in ("td", "th"):
                # A block inside an inline context (a <p> in a table cell or a list item).
                if inline.parts and "".join(inline.text).strip():
                    inline.add(" " if separator else "\\\n", " " if separator else "\n")
                self._inline_children(child, inline, marks, separator=separator)
            else:
                self._inline(child, inline, marks)
            if child.tail:
                self._text(child.tail, inline, marks)

    def _inline(self, element: _Element, inline: _Inline, marks: tuple[str, ...]) -> None:
        tag = _tag(element)
        if tag in _SKIP:
            return
        if tag == "br":
            inline.add("\\\n", "\n")
        elif tag == "img":
            converted = self.image(element)
            if converted is not None:
                inline.add(*converted)
        elif tag in ("strong", "b", "em", "i", "cite", "dfn"):
            mark = "**" if tag in ("strong", "b") else "*"
            if mark in marks:
                self._inline_children(element, inline, marks)
            else:
                self._emphasis(element, inline, marks, mark)
        elif tag == "a":
            self._link(element, inline, marks)
        elif tag == "code":
            code = _SPACES.sub(" ", "".join(element.itertext()))
            if code.strip():
                ticks = "``" if "`" in code else "`"
                inline.add(f"{ticks}{code}{ticks}", code)
        else:  # span, font, u, sup, sub, small, mark, abbr, time, label…: their text only
            self._inline_children(element, inline, marks)

    def _emphasis(
        self, element: _Element, inline: _Inline, marks: tuple[str, ...], mark: str
    ) -> None:
        inner = _Inline()
        self._inline_children(element, inner, (*marks, mark))
        markdown = "".join(inner.parts)
        text = "".join(inner.text)
        core = markdown.strip(" ")
        if not core or not text.strip():
            inline.add(markdown, text)
            return
        lead = markdown[: len(markdown) - len(markdown.lstrip(" "))]
        trail = markdown[len(markdown.rstrip(" ")) :]
        if core.endswith("\\\n") or core.startswith("\\\n"):
            inline.add(markdown, text)  # a hard break at the edge: keep it plain
            return
        inline.add(f"{lead}{mark}{core}{mark}{trail}", text)

    def _link(self, element: _Element, inline: _Inline, marks: tuple[str, ...]) -> None:
        href = (element.get("href") or "").strip()
        inner = _Inline()
        self._inline_children(element, inner, marks)
        markdown, text = "".join(inner.parts), "".join(inner.text)
        if not href.lower().startswith(_LINK_SCHEMES) or re.search(r"[\s<>]", href):
            inline.add(markdown, text)  # an anchor, javascript:, a relative link: text only
            return
        if not text.strip():
            return
        url = href.replace("(", "%28").replace(")", "%29")
        bare = href.removeprefix("mailto:")
        if text.strip() in (href, bare) and "![" not in markdown:
            inline.add(f"<{bare}>" if href.lower().startswith("mailto:") else f"<{href}>", text)
            return
        lead = markdown[: len(markdown) - len(markdown.lstrip(" "))]
        trail = markdown[len(markdown.rstrip(" ")) :]
        inline.add(f"{lead}[{markdown.strip(' ')}]({url}){trail}", text)

    def _text(self, raw: str, inline: _Inline, marks: tuple[str, ...]) -> None:
        del marks
        text = _SPACES.sub(" ", raw)
        text = strip_debris(text, self.debris)
        if text:
            inline.add(escape_text(text), text)


def _finish(inline: _Inline) -> tuple[str, str]:
    """Join the parts, collapse spaces, trim each line; return (markdown, text)."""
    markdown = "".join(inline.parts)
    text = "".join(inline.text)
    markdown = re.sub(r" {2,}", " ", markdown)
    text = re.sub(r" {2,}", " ", text)
    lines = [line.strip(" ") for line in markdown.split("\n")]
    # Hard breaks at the very start or end of a block mean nothing.
    while lines and lines[0] in ("", "\\"):
        lines.pop(0)
    while lines and lines[-1] in ("", "\\"):
        lines.pop()
    if lines and lines[-1].endswith("\\") and not lines[-1].endswith("\\\\"):
        lines[-1] = lines[-1][:-1].rstrip(" ")
    markdown = "\n".join(line for line in lines)
    markdown = re.sub(r" +\\\n", "\\\n", markdown)
    text = "\n".join(line.strip(" ") for line in text.split("\n")).strip("\n")
    return markdown, text


def _tag(element: _Element) -> str:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else ""


def _role(element: _Element) -> str:
    classes = (element.get("class") or "").split()
    for role in ("title", "subtitle"):
        if f"distrib-{role}" in classes:
            return role
    return ""


def _start(element: _Element) -> int:
    try:
        return max(0, int(element.get("start") or "1"))
    except ValueError:
        return 1


def blocks_from_html(
    root: _Element,
    image: Callable[[_Element], tuple[str, str] | None],
    debris: list[str] | None = None,
) -> list[Block]:
    """Convert ``root`` (a clean fragment) into blocks; tag debris found goes to ``debris``."""
    converter = Converter(image, debris if debris is not None else [])
    return converter.convert(root)


def drop_tree(element: _Element) -> None:
    """Remove ``element`` and its content, keeping the text that follows it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail or ""
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def parse_fragment(markup: str) -> _Element:
    """Parse an HTML fragment (several top-level elements) into one container element."""
    return lxml_html.fragment_fromstring(markup, create_parent="div")


def iter_text(blocks: list[Block]) -> Iterator[str]:
    """Every block's text, for language detection."""
    for block in blocks:
        yield block.text
