"""Load the release: one Markdown document per language, each opened by YAML front matter.

A release folder holds ``fr.md`` and/or ``en.md``::

    ---
    title: La Pointe-aux-Cèdres lance « Hiver en vitrine »
    subject: "Communiqué : « Hiver en vitrine » à la Pointe-aux-Cèdres"
    dateline: MONTRÉAL, le 4 novembre 2027 –
    summary: optional one-paragraph summary
    embargo: 2027-11-04T09:00:00-05:00      # optional; must carry a UTC offset
    hold_until: 2027-11-04T07:00:00-05:00   # optional: `send` does not start before it
    attachments: [photos/marche.jpg, fiche.pdf]   # optional; files of the release folder
    links:                                  # optional; shown in the message, never rewritten
      - title: Photos haute résolution
        url: https://agapc.example/photos
    about: |                                # optional "About …" boilerplate (Markdown)
      ### À propos de l’AGAPC
      Fondée en 1987, …
    media_contact: |                        # optional media-contact block (Markdown)
      Julien Ostiguy, 514 555-0142
    any_other_key: kept in ReleaseDocument.meta
    ---
    The body, in CommonMark.  It may end with the end mark (-30-, « – 30 – », ###); if it does
    not, the templates add the language's usual one after the "About" section.

The front matter is read with PyYAML's ``BaseLoader`` so every value stays the string the officer
wrote (no surprise dates, booleans or octal numbers).  A one-line value holding ``: `` (French
puts a space before the colon: ``subject: Hiver en vitrine : 485 000 $``) is not valid YAML
unquoted; such a line is read as the whole rest of the line, as the officer meant it (see
`_quote_colon_values`).  Other YAML mistakes are reported with their line and column.

The body becomes HTML with raw HTML disabled (the author is trusted, but a pasted ``<script>``
must not reach 500 inboxes) and a plain-text version for the ``text/plain`` part.  Tables (GFM
pipe tables) become HTML tables with inline styles (borders, padding) in a box that scrolls
sideways on a narrow screen, and aligned columns in the text.  Images (``![caption](photo.jpg)``,
a path relative to the release folder) are read and checked by `distrib.release_images`; the
HTML shows them by ``cid:`` (the message carries them as related parts) and the text part shows
``[Image: caption]``; with ``[press] images = "attachments"`` they are attached instead, and both
parts name the file.  A remote image is a problem: it is never fetched.
`load_release` reports every problem of every document at once, each as
``path:line: key: reason``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

import yaml
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from distrib.config import display_path
from distrib.errors import Location, Problem, ReleaseError
from distrib.headers import find_forbidden
from distrib.markdown_text import markdown_to_text
from distrib.release_extras import (
    DEFAULT_END_MARKS,
    Attachment,
    Link,
    check_total_size,
    has_end_mark,
    parse_link,
    resolve_attachment,
)
from distrib.release_images import InlineImage, is_remote, read_image

if TYPE_CHECKING:
    from markdown_it.token import Token

    from distrib.config import Campaign, PressConfig

__all__ = [
    "LANGUAGES",
    "Language",
    "Release",
    "ReleaseDocument",
    "check_document",
    "load_release",
    "markdown_html",
    "markdown_to_text",
    "read_release",
]

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
REQUIRED_KEYS = ("title", "subject", "dateline")
# These end up in the Subject header or on a line of their own, so they must be one line.
SINGLE_LINE_KEYS = ("title", "subject", "dateline")
# Keys that hold a list (or, for attachments, possibly one path written as plain text).
LIST_KEYS = ("attachments", "links")
_MARKDOWN_KEYS = ("about", "media_contact")
_TIME_KEYS = ("embargo", "hold_until")
_KNOWN_KEYS = frozenset({*REQUIRED_KEYS, *LIST_KEYS, *_MARKDOWN_KEYS, *_TIME_KEYS, "summary"})

# "commonmark" alone would pass raw HTML through: html=False turns it into visible text.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")

# Inline styles for tables: mail clients drop <style> sheets.  The box scrolls sideways rather
# than widen the message on a phone.
_TABLE_BOX = '<div class="table-box" style="overflow-x:auto;max-width:100%;margin:0 0 12px 0">'
_TABLE_STYLE = "border-collapse:collapse;margin:0;font-size:15px;line-height:1.4"
_CELL_STYLE = "border:1px solid #c8c8c0;padding:4px 8px;vertical-align:top"
_HEAD_STYLE = _CELL_STYLE + ";background-color:#f2f2ee"


def _render_table_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    return _TABLE_BOX + "\n" + str(self.renderToken(tokens, idx, options, env))


def _render_table_close(
    self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any
) -> str:
    return str(self.renderToken(tokens, idx, options, env)) + "</div>\n"


def _render_image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An image of the release: ``<img src="cid:…">`` when it is inline, else its caption.

    The author's ``src`` never reaches the HTML: an image that was not read and checked
    (an About block's, a remote one) shows as its caption only.
    """
    token = tokens[idx]
    alt = str(self.renderInlineAsText(token.children or [], options, env))
    image = (env or {}).get("images", {}).get(str(token.attrs.get("src", "")))
    if isinstance(image, InlineImage) and env.get("inline", True):
        return (
            f'<img src="{escape(image.src)}" alt="{escape(alt)}" class="release-image"'
            ' style="display:block;max-width:100%;height:auto;border:0;margin:8px 0">'
        )
    caption = token.meta.get("caption") or alt
    return f"<em>[Image: {escape(caption)}]</em>" if caption.strip() else "<em>[Image]</em>"


_MARKDOWN.add_render_rule("table_open", _render_table_open)
_MARKDOWN.add_render_rule("table_close", _render_table_close)
_MARKDOWN.add_render_rule("image", _render_image)


@dataclass(frozen=True, slots=True)
class ReleaseDocument:
    """The release in one language: front matter values, and the body as Markdown, HTML and text."""

    language: Language
    title: str
    subject: str
    dateline: str
    body_markdown: str
    body_html: Markup
    body_text: str
    path: Path
    summary: str = ""
    embargo: datetime | None = None
    meta: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    attachments: tuple[Attachment, ...] = ()
    links: tuple[Link, ...] = ()
    about_html: Markup = field(default_factory=Markup)
    about_text: str = ""
    media_contact_html: Markup = field(default_factory=Markup)
    media_contact_text: str = ""
    has_end_mark: bool = False  # the body already holds -30-, « – 30 – », ### …
    hold_until: datetime | None = None  # `send` starts no earlier (a scheduled start)
    # How the release reads in a message ([press] of the campaign file); None: the defaults.
    press: PressConfig | None = None
    # `send --drop-embargo`: the embargo has passed and the messages carry no notice.
    embargo_dropped: bool = False
    # The body's images shown in the HTML part (none when [press] images = "attachments":
    # they are in `attachments` then).
    images: tuple[InlineImage, ...] = ()

    @property
    def end_mark(self) -> str:
        """The end mark this language's journalists expect: « – 30 – » or -30-."""
        return DEFAULT_END_MARKS[self.language]


@dataclass(frozen=True, slots=True)
class Release:
    """Every document of a release, keyed by language (only the languages that have a file)."""

    folder: Path
    documents: Mapping[Language, ReleaseDocument]

    @property
    def embargo(self) -> datetime | None:
        """The embargo: the latest of the documents' (None if there is none)."""
        moments = [d.embargo for d in self.documents.values() if d.embargo is not None]
        return max(moments) if moments else None

    @property
    def hold_until(self) -> datetime | None:
        """The scheduled start: the latest of the documents' ``hold_until`` (None if none)."""
        moments = [d.hold_until for d in self.documents.values() if d.hold_until is not None]
        return max(moments) if moments else None

    @property
    def languages(self) -> tuple[Language, ...]:
        """The languages present, in the canonical order (fr, en)."""
        return tuple(lang for lang in LANGUAGES if lang in self.documents)

    def get(self, language: str) -> ReleaseDocument | None:
        """Return the document for ``language``, or None if the release has none."""
        for lang, document in self.documents.items():
            if lang == language:
                return document
        return None


def load_release(campaign: Campaign) -> Release:
    """Load the campaign's release folder; raise `ReleaseError` listing every problem found.

    The documents carry the campaign's ``[press]`` settings and, for a run sent with
    ``--drop-embargo``, the fact that their embargo is not to be shown.
    """
    release = read_release(
        campaign.release,
        max_attachments_mb=campaign.max_attachments_mb,
        press=campaign.press,
        domain=campaign.sender.domain,
    )
    documents = {
        lang: replace(document, press=campaign.press, embargo_dropped=campaign.drop_embargo)
        for lang, document in release.documents.items()
    }
    return Release(release.folder, MappingProxyType(documents))


def read_release(
    folder: Path,
    *,
    max_attachments_mb: float = 10.0,
    press: PressConfig | None = None,
    domain: str = "",
) -> Release:
    """Load ``fr.md`` and ``en.md`` from ``folder``; raise `ReleaseError` listing every problem.

    ``press`` says how images are sent and how large they may be; ``domain`` (the sender's)
    goes into their Content-IDs.
    """
    from distrib.config import PressConfig

    press = press or PressConfig()
    where = Location(display_path(folder))
    if not folder.is_dir():
        raise ReleaseError([Problem("release folder not found", where, "release")])
    paths = {lang: folder / f"{lang}.md" for lang in LANGUAGES}
    present = {lang: path for lang, path in paths.items() if path.is_file()}
    if not present:
        message = "no fr.md or en.md in the release folder: write one Markdown file per language"
        raise ReleaseError([Problem(message, where, "release")])
    problems: list[Problem] = []
    documents: dict[Language, ReleaseDocument] = {}
    for lang, path in present.items():
        document = _read_document(
            lang, path, problems, max_attachments_mb, press=press, domain=domain
        )
        if document is not None:
            documents[lang] = document
    if len(documents) == len(LANGUAGES) and not problems:
        # A bilingual message carries the attachments of both documents.
        both = [a for d in documents.values() for a in d.attachments]
        reason = check_total_size(both, max_attachments_mb)
        if reason is not None:
            problems.append(Problem(f"attachments (fr.md and en.md): {reason}", where, "size"))
        images = [i for d in documents.values() for i in d.images]
        reason = _images_size_problem(images, press.max_images_mb)
        if reason is not None:
            problems.append(Problem(f"images (fr.md and en.md): {reason}", where, "size"))
    if problems:
        raise ReleaseError(problems, f"the release in {display_path(folder)} cannot be used")
    return Release(folder, MappingProxyType(documents))


def check_document(
    lang: Language,
    path: Path,
    *,
    max_attachments_mb: float = 10.0,
    press: PressConfig | None = None,
    domain: str = "",
) -> list[Problem]:
    """Every problem of one release document (``fr.md`` or ``en.md``), as a send reads it
    (``press``: how images are sent and how large they may be)."""
    from distrib.config import PressConfig

    problems: list[Problem] = []
    _read_document(
        lang, path, problems, max_attachments_mb, press=press or PressConfig(), domain=domain
    )
    return problems


def _read_document(
    lang: Language,
    path: Path,
    problems: list[Problem],
    max_attachments_mb: float,
    *,
    press: PressConfig,
    domain: str,
) -> ReleaseDocument | None:
    """Parse one document, appending its problems; return None if it had any."""
    shown = display_path(path)
    found: list[Problem] = []
    text = _read_text(path, shown, found)
    split = _split_front_matter(text, shown, found) if text is not None else None
    if split is None:
        problems.extend(found)
        return None
    front, body, body_row = split
    lists: dict[str, tuple[list[Any], int]] = {}
    values = _parse_front_matter(front, shown, found, lists)
    if values is not None:
        _check_values(values, shown, found)
    extras = _extras(path.parent, lists, shown, found, max_attachments_mb)
    # The body starts after the front matter and any blank lines (stripped below).
    first_row = body_row + len(body) - len(body.lstrip("\n"))
    tokens = _MARKDOWN.parse(body.strip("\n") + "\n")
    images = _read_images(
        tokens,
        path.parent,
        where=(shown, first_row),
        problems=found,
        press=press,
        domain=domain,
    )
    if not body.strip():
        found.append(
            Problem(
                "the document has no body after the front matter",
                Location(shown, body_row),
                "empty",
            )
        )
    problems.extend(found)
    if found or values is None:
        return None
    if press.images == "attachments":
        _caption_files(tokens, images, lang)
        attached = {a.path: a for a in extras[0]}
        for image in images.values():
            attached.setdefault(image.path, image)
        extras = (tuple(attached.values()), extras[1])
        return _build_document(
            lang, path, values, body, extras, parsed=tokens, images=images, inline=False
        )
    return _build_document(lang, path, values, body, extras, parsed=tokens, images=images)


def _read_images(
    tokens: Sequence[Token],
    folder: Path,
    *,
    where: tuple[str, int],
    problems: list[Problem],
    press: PressConfig,
    domain: str,
) -> dict[str, InlineImage]:
    """Read every image the body shows, by its ``src``; report each one that cannot be sent
    with its line (a remote one, a missing file, one outside the folder, not an image by its
    content, too large), and the images that are too large together."""
    shown, first_row = where
    images: dict[str, InlineImage] = {}
    for block in tokens:
        if block.type != "inline" or not block.children:
            continue
        line = first_row + (block.map[0] if block.map else 0)
        for child in _walk(block.children):
            if child.type in {"softbreak", "hardbreak"}:
                line += 1
            if child.type != "image":
                continue
            src = str(child.attrs.get("src", ""))
            if src in images:
                continue
            alt = "".join(c.content for c in _walk(child.children or []) if c.type == "text")
            # markdown-it percent-encodes the destination (``<photo été.png>``): the file's
            # name is the decoded text.
            written = src if is_remote(src) else unquote(src)
            found = read_image(folder, written, alt=alt, domain=domain, max_mb=press.max_image_mb)
            if isinstance(found, str):
                problems.append(Problem(f"image: {found}", Location(shown, line), "image"))
            else:
                images[src] = found
    reason = _images_size_problem(list(images.values()), press.max_images_mb)
    if reason is not None:
        problems.append(Problem(f"images: {reason}", Location(shown), "size"))
    return images


def _walk(tokens: Sequence[Token]) -> list[Token]:
    """The inline tokens in order, an image's caption tokens after the image."""
    found: list[Token] = []
    for token in tokens:
        found.append(token)
        if token.type != "image" and token.children:
            found.extend(_walk(token.children))
    return found


def _images_size_problem(images: Sequence[InlineImage], limit_mb: float) -> str | None:
    """Say why ``images`` are too large together (each counted once), or return None."""
    from distrib.release_extras import format_size

    total = sum(i.size for i in {i.content_id: i for i in images}.values())
    limit = limit_mb * 1_000_000
    if total <= limit:
        return None
    return (
        f"the images add up to {format_size(total)}, over the {format_size(limit)} limit"
        " ([press] max_images_mb); use fewer or smaller images, or link to a gallery"
    )


def _caption_files(tokens: Sequence[Token], images: Mapping[str, InlineImage], lang: str) -> None:
    """With images sent as attachments, each image reads ``caption (photo.jpg, attached)``."""
    attached = "pièce jointe" if lang == "fr" else "attached"
    for block in tokens:
        for child in _walk(block.children or []):
            image = images.get(str(child.attrs.get("src", ""))) if child.type == "image" else None
            if image is not None:
                caption = image.alt or "Image"
                child.meta["caption"] = f"{caption} ({image.filename}, {attached})"


def _read_text(path: Path, shown: str, problems: list[Problem]) -> str | None:
    """Read ``path`` as UTF-8 with LF line endings and NFC-normalised text."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(f"cannot read: {exc.strerror}", Location(shown), "io"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem("not UTF-8 text; save the file as UTF-8", Location(shown, row), "encoding")
        )
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


def _split_front_matter(
    text: str, shown: str, problems: list[Problem]
) -> tuple[str, str, int] | None:
    """Return (front matter, body, 1-based line where the body starts), or None with a problem."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        message = "must start with YAML front matter between '---' lines (title, subject, dateline)"
        problems.append(Problem(message, Location(shown, 1), "front-matter"))
        return None
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1 :]), index + 2
    message = "the front matter is not closed: add a '---' line after it"
    problems.append(Problem(message, Location(shown, 1), "front-matter"))
    return None


def _parse_front_matter(
    front: str, shown: str, problems: list[Problem], lists: dict[str, tuple[list[Any], int]]
) -> dict[str, tuple[str, int]] | None:
    """Return ``{key: (value, line)}`` from the front matter, every value a string."""
    try:
        # BaseLoader resolves every scalar to a plain string; composing keeps line numbers.
        node = yaml.compose(_quote_colon_values(front), Loader=yaml.BaseLoader)
    except yaml.MarkedYAMLError as exc:
        reason = ", ".join(part for part in (exc.context, exc.problem) if part)
        unclosed = "quoted scalar" in reason
        # An unclosed quote is found at the end of the text: point at where it opened.
        mark = exc.context_mark if unclosed and exc.context_mark else exc.problem_mark
        where = Location(shown)
        if mark is not None:  # +1: lines count from 1, +1: the opening '---'; columns from 1
            where = Location(shown, mark.line + 2, None, str(mark.column + 1))
        hint = _QUOTE_HINT if unclosed else _YAML_HINT
        problems.append(Problem(f"front matter is not valid YAML: {reason}{hint}", where, "yaml"))
        return None
    except yaml.YAMLError as exc:
        problems.append(Problem(f"front matter is not valid YAML: {exc}", Location(shown), "yaml"))
        return None
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        message = "front matter must be 'key: value' lines"
        problems.append(Problem(message, Location(shown, node.start_mark.line + 2), "yaml"))
        return None
    return _mapping_values(node, shown, problems, lists)


_QUOTE_HINT = "; a value that opens a quote must close it with the same quote, on its line"
_YAML_HINT = (
    "; a value that starts with \" ' [ { & * ! | > % @ ` or holds ' #' must be in quotes"
    ' (subject: "…"), and a key starts at the beginning of its line'
)
# A top-level "key: value" line whose value is plain text (not quoted, not a list or block).
_PLAIN_LINE = re.compile(
    r"(?P<key>[A-Za-z_][A-Za-z0-9_-]*):[ \t]+(?P<value>[^\s\"'\[{|>&*!%@`#].*)"
)
_COMMENT = re.compile(r"[ \t]#")


def _quote_colon_values(front: str) -> str:
    """Quote the plain one-line values that hold ``: `` so YAML reads them whole.

    ``subject: Hiver en vitrine : 485 000 $`` is what a French officer writes (OQLF puts a space
    before the colon), and YAML refuses it ("mapping values are not allowed here").  No other
    reading of such a line is possible, so it is taken as the officer meant it: the value is
    the rest of the line (less a `` # comment``, as YAML would read it).  Values already quoted,
    lists, blocks and indented lines are left alone.
    """
    if ": " not in front and ":\t" not in front:
        return front
    lines = front.split("\n")
    for index, line in enumerate(lines):
        match = _PLAIN_LINE.fullmatch(line.rstrip())
        if match is None:
            continue
        value = _COMMENT.split(match["value"], maxsplit=1)[0].rstrip()
        if re.search(r":(\s|$)", value):
            lines[index] = f"{match['key']}: {json.dumps(value, ensure_ascii=False)}"
    return "\n".join(lines)


def _mapping_values(
    node: yaml.MappingNode,
    shown: str,
    problems: list[Problem],
    lists: dict[str, tuple[list[Any], int]],
) -> dict[str, tuple[str, int]]:
    """Collect scalar ``key: value`` pairs (lists into ``lists``), reporting repeated keys."""
    values: dict[str, tuple[str, int]] = {}
    for key_node, value_node in node.value:
        row = key_node.start_mark.line + 2  # +1 for 1-based lines, +1 for the opening '---'
        where = Location(shown, row)
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(Problem("front matter keys must be plain words", where, "yaml"))
            continue
        key = key_node.value
        earlier = values.get(key) or lists.get(key)
        if earlier is not None:
            problems.append(
                Problem(f"{key}: given twice (first on line {earlier[1]})", where, "yaml")
            )
        elif key in LIST_KEYS:
            items = _list_items(key, value_node, where, problems)
            if items is not None:
                lists[key] = (items, row)
        elif not isinstance(value_node, yaml.ScalarNode):
            problems.append(
                Problem(f"{key}: must be a single text value, not a list or mapping", where, "yaml")
            )
        else:
            values[key] = (value_node.value.strip(), row)
    return values


def _list_items(
    key: str, node: yaml.Node, where: Location, problems: list[Problem]
) -> list[Any] | None:
    """Return a list key's items: strings, or lists of (key, value) pairs for mappings."""
    if isinstance(node, yaml.ScalarNode):
        return [node.value.strip()] if node.value.strip() else []
    if not isinstance(node, yaml.SequenceNode):
        problems.append(Problem(f"{key}: must be a list ('- item' lines)", where, "yaml"))
        return None
    items: list[Any] = []
    for item in node.value:
        if isinstance(item, yaml.ScalarNode):
            items.append(item.value.strip())
        elif isinstance(item, yaml.MappingNode) and all(
            isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode) for k, v in item.value
        ):
            items.append([(k.value, v.value.strip()) for k, v in item.value])
        else:
            problems.append(Problem(f"{key}: an item is neither text nor pairs", where, "yaml"))
            return None
    return items


def _extras(
    folder: Path,
    lists: Mapping[str, tuple[list[Any], int]],
    shown: str,
    problems: list[Problem],
    max_attachments_mb: float,
) -> tuple[tuple[Attachment, ...], tuple[Link, ...]]:
    """Resolve the attachments and parse the links, reporting every problem with its line."""
    attachments: list[Attachment] = []
    written, row = lists.get("attachments", ([], 0))
    for item in written:
        found = resolve_attachment(folder, item) if isinstance(item, str) else "not a path"
        if isinstance(found, str):
            problems.append(Problem(f"attachments: {found}", Location(shown, row), "attachment"))
        elif any(a.path == found.path for a in attachments):
            message = f"attachments: {item!r} is listed twice"
            problems.append(Problem(message, Location(shown, row), "attachment"))
        else:
            attachments.append(found)
    reason = check_total_size(attachments, max_attachments_mb)
    if reason is not None:
        problems.append(Problem(f"attachments: {reason}", Location(shown, row), "size"))
    links: list[Link] = []
    items, row = lists.get("links", ([], 0))
    for item in items:
        link = parse_link(item)
        if isinstance(link, str):
            problems.append(Problem(f"links: {link}", Location(shown, row), "link"))
        else:
            links.append(link)
    return tuple(attachments), tuple(links)


def _check_values(
    values: Mapping[str, tuple[str, int]], shown: str, problems: list[Problem]
) -> None:
    """Report missing required keys, multi-line header text and a bad embargo."""
    for key in REQUIRED_KEYS:
        if key not in values:
            problems.append(
                Problem(f"{key}: required key is missing", Location(shown), "missing-key")
            )
        elif not values[key][0]:
            problems.append(
                Problem(f"{key}: must not be empty", Location(shown, values[key][1]), "missing-key")
            )
    for key in SINGLE_LINE_KEYS:
        value, row = values.get(key, ("", 0))
        reason = find_forbidden(value)
        if reason is not None:
            message = f"{key}: contains a {reason}; it must be a single line"
            problems.append(Problem(message, Location(shown, row), "header"))
    for key in _TIME_KEYS:
        if key in values:
            value, row = values[key]
            time_problem = _embargo_problem(value)
            if time_problem is not None:
                where = Location(shown, row)
                problems.append(Problem(f"{key}: {time_problem}", where, "embargo"))


def _embargo_problem(value: str) -> str | None:
    """Say what is wrong with an embargo value, or return None if it is a zoned date-time."""
    example = "e.g. 2027-03-10T09:00:00-05:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not an ISO 8601 date-time ({example})"
    if "T" not in value.upper() and " " not in value:
        return f"{value!r} is a date without a time ({example})"
    if moment.tzinfo is None or moment.utcoffset() is None:
        return f"{value!r} has no UTC offset, so the moment is ambiguous ({example}, or Z for UTC)"
    return None


def markdown_html(markdown: str) -> Markup:
    """Render a release's Markdown as HTML, as messages show it (raw HTML is not kept)."""
    return _html(markdown)


def _html(markdown: str) -> Markup:
    """Render Markdown as HTML (safe: see `_build_document`)."""
    tokens = _style_tables(_MARKDOWN.parse(markdown))
    return Markup(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))  # noqa: S704


def _style_tables(tokens: Sequence[Token]) -> Sequence[Token]:
    """Give tables and their cells inline styles (kept with a column's alignment)."""
    for token in tokens:
        if token.type == "table_open":
            token.attrSet("style", _TABLE_STYLE)
            token.attrSet("class", "release-table")
        elif token.type in ("th_open", "td_open"):
            align = str(token.attrs.get("style", ""))
            cell = _HEAD_STYLE if token.type == "th_open" else _CELL_STYLE
            token.attrSet("style", f"{cell};{align}" if align else cell)
    return tokens


def _build_document(
    lang: Language,
    path: Path,
    values: Mapping[str, tuple[str, int]],
    body: str,
    extras: tuple[tuple[Attachment, ...], tuple[Link, ...]] = ((), ()),
    *,
    parsed: Sequence[Token] | None = None,
    images: Mapping[str, InlineImage] | None = None,
    inline: bool = True,
) -> ReleaseDocument:
    """Assemble a checked document and render its body (``parsed``: its tokens, if the caller
    has them; ``images``: the images read, by ``src``)."""
    plain = {key: value for key, (value, _row) in values.items()}
    body_markdown = body.strip("\n") + "\n"
    tokens = _style_tables(parsed if parsed is not None else _MARKDOWN.parse(body_markdown))
    env = {"images": dict(images or {}), "inline": inline}
    shown_images = tuple({i.content_id: i for i in (images or {}).values()}.values())
    embargo, hold_until = plain.get("embargo"), plain.get("hold_until")
    about, contact = plain.get("about", ""), plain.get("media_contact", "")
    return ReleaseDocument(
        attachments=extras[0],
        links=extras[1],
        about_html=_html(about) if about else Markup(""),
        about_text=markdown_to_text(about) if about else "",
        media_contact_html=_html(contact) if contact else Markup(""),
        media_contact_text=markdown_to_text(contact) if contact else "",
        has_end_mark=has_end_mark(body_markdown),
        language=lang,
        title=plain["title"],
        subject=plain["subject"],
        dateline=plain["dateline"],
        body_markdown=body_markdown,
        # Safe: html=False makes markdown-it escape every tag and markdown-it refuses
        # javascript:/vbscript:/file: links, so the output is ours, not the author's HTML.
        body_html=Markup(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, env)),  # noqa: S704
        body_text=markdown_to_text(tokens),
        path=path,
        summary=plain.get("summary", ""),
        embargo=datetime.fromisoformat(embargo) if embargo else None,
        hold_until=datetime.fromisoformat(hold_until) if hold_until else None,
        meta=MappingProxyType({k: v for k, v in plain.items() if k not in _KNOWN_KEYS}),
        images=shown_images if inline else (),
    )
