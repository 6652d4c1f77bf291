"""A web page (.html, a saved news page) → blocks: the release, without the page around it.

Three steps, each reporting what it removed:

1. **Page furniture out**, by element and by the names pages give it: scripts, styles,
   iframes, forms, embedded objects, hidden elements; cookie/consent banners, navigation and
   breadcrumbs, share and social widgets, comments, newsletter boxes, advertising, related
   links; the page's own header and footer (not an article's); tracking pixels (1×1 images,
   known tracker hosts).
2. **Main content**: readability-lxml picks the article among what is left; paragraphs it set
   aside are reported (``outside the main content``).
3. **Markdown** through `distrib.importing.markdown`, which keeps headings, lists, links,
   quotes and tables, reads only ``href``/``src``/``alt`` (no style, class or event handler
   survives) and removes tag debris such as ``/em>``.

Nothing is fetched: an image of the page is not downloaded (no network); its alt text and URL
are kept as a link and reported.
"""

from __future__ import annotations

import re
import warnings
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html
from lxml.etree import _Element

from distrib.errors import Location, Problem
from distrib.importing.errors import ReleaseImportError
from distrib.importing.markdown import blocks_from_html, drop_tree, escape_text, parse_fragment
from distrib.importing.model import Converted, Note

__all__ = ["read_html"]

_REMOVE_TAGS = {
    "script": "script",
    "noscript": "script",
    "style": "style sheet",
    "template": "script",
    "iframe": "iframe",
    "frame": "iframe",
    "frameset": "iframe",
    "object": "embedded object",
    "embed": "embedded object",
    "applet": "embedded object",
    "form": "form",
    "button": "form",
    "input": "form",
    "select": "form",
    "textarea": "form",
    "svg": "embedded object",
    "canvas": "embedded object",
    "video": "embedded object",
    "audio": "embedded object",
    "nav": "navigation",
    "dialog": "pop-up",
    "link": "style sheet",
    "meta": "",
}
# Words in class/id/role names, and what they mean (checked as whole words of the name).
_NAMED = (
    ("cookie banner", r"cookies?|consent|gdpr|rgpd|cmp|onetrust|didomi|tarteaucitron|axeptio"
     r"|cookiebot|cookielaw|privacy-banner|temoins?"),
    ("navigation", r"nav|navbar|navigation|menu|menubar|breadcrumbs?|fil-ariane|skip-link|skip"
     r"|pagination|pager|toolbar|sitemap"),
    ("share links", r"share|sharing|partage|partager|social|socials|addthis|sharethis|a2a"
     r"|addtoany|sociable"),
    ("comments", r"comments?|commentaires?|disqus|respond|replies"),
    ("newsletter box", r"newsletter|infolettre|subscribe|subscription|abonnement|signup"),
    ("advertising", r"ads?|advert|advertisement|publicite|sponsor|sponsored|promo"),
    ("related links", r"related|recommended|similar|a-lire-aussi|read-more|more-news"),
    ("pop-up", r"modal|popup|pop-up|overlay|lightbox"),
    ("sidebar", r"sidebar|widget|widgets"),
)  # fmt: skip
_NAMED_RE = [(what, re.compile(rf"^(?:{words})$", re.IGNORECASE)) for what, words in _NAMED]
_ROLES = {
    "navigation": "navigation",
    "banner": "page header",
    "contentinfo": "page footer",
    "complementary": "sidebar",
    "search": "form",
    "dialog": "pop-up",
    "alertdialog": "pop-up",
}
_SHARE_HOSTS = re.compile(
    r"(?:facebook\.com/sharer|facebook\.com/share|twitter\.com/(?:intent|share)|x\.com/intent"
    r"|linkedin\.com/share|linkedin\.com/cws/share|pinterest\.[a-z.]+/pin/create|reddit\.com/submit"
    r"|api\.whatsapp\.com/send|wa\.me/\?|t\.me/share|bsky\.app/intent)",
    re.IGNORECASE,
)
_TRACKER_HOSTS = re.compile(
    r"(?:^|\.)(?:google-analytics\.com|googletagmanager\.com|doubleclick\.net|facebook\.com"
    r"|facebook\.net|bat\.bing\.com|mc\.yandex\.ru|scorecardresearch\.com|quantserve\.com"
    r"|hotjar\.com|pixel\.[\w.-]+|analytics\.[\w.-]+|stats\.[\w.-]+|list-manage\.com"
    r"|mailchimp\.com|hubspot\.com|hs-analytics\.net|linkedin\.com|ads\.[\w.-]+|t\.co)$",
    re.IGNORECASE,
)
_MIN_WORDS = 15


def _refuse(name: str, message: str, code: str) -> ReleaseImportError:
    return ReleaseImportError([Problem(message, Location(name), code)], f"cannot import {name}")


def decode_html(data: bytes) -> str:
    """Decode a page: its BOM, else its declared charset, else UTF-8, else Windows-1252."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", "replace")
    declared = re.search(
        rb"""<meta[^>]{0,200}charset\s*=\s*["']?([\w-]{1,40})""", data[:4096], re.I
    )
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"), "replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _excerpt(element: _Element) -> str:
    text = re.sub(r"\s+", " ", " ".join(element.itertext())).strip()
    return text if len(text) <= 60 else text[:57].rstrip() + "…"


def _name_words(element: _Element) -> list[str]:
    """The element's class and id names, whole and split at ``-``/``_`` (``main-nav`` → nav)."""
    names = f"{element.get('class') or ''} {element.get('id') or ''}".lower().split()
    words = list(names)
    for name in names:
        words.extend(part for part in re.split(r"[-_]+", name) if part)
    return words


def _by_element(element: _Element, tag: str, in_article: bool) -> str | None:
    """Furniture by tag, ARIA role or hidden state."""
    if tag in _REMOVE_TAGS:
        return _REMOVE_TAGS[tag] or "metadata"
    has_title = tag == "header" and next(element.iter("h1"), None) is not None
    if tag in ("header", "footer", "aside") and not in_article and not has_title:
        return {"header": "page header", "footer": "page footer", "aside": "sidebar"}[tag]
    role = (element.get("role") or "").lower()
    if role in _ROLES and not (in_article and role in ("banner", "contentinfo")):
        return _ROLES[role]
    style = (element.get("style") or "").replace(" ", "").lower()
    hidden = element.get("hidden") is not None or (element.get("aria-hidden") or "") == "true"
    if hidden or "display:none" in style or "visibility:hidden" in style:
        return "hidden element"
    return None


def _furniture(element: _Element, *, in_article: bool) -> str | None:
    """Say what page furniture ``element`` is, or None for content."""
    tag = element.tag.lower() if isinstance(element.tag, str) else ""
    what = _by_element(element, tag, in_article)
    if what is not None or tag in ("article", "main", "body", "html"):
        return what
    for word in _name_words(element):
        what = next((what for what, pattern in _NAMED_RE if pattern.match(word)), None)
        if what is not None:
            return what
    if tag == "a" and _SHARE_HOSTS.search(element.get("href") or ""):
        return "share links"
    if tag == "img" and _is_pixel(element):
        return "tracking pixel"
    return None


def _is_pixel(image: _Element) -> bool:
    sizes = [image.get("width") or "", image.get("height") or ""]
    style = (image.get("style") or "").replace(" ", "").lower()
    tiny = all(re.fullmatch(r"[01](?:px)?", size.strip()) for size in sizes) or bool(
        re.search(r"width:[01]px", style) and re.search(r"height:[01]px", style)
    )
    host = urlsplit(image.get("src") or "").hostname or ""
    return tiny or bool(_TRACKER_HOSTS.search(host))


def _strip_furniture(root: _Element, dropped: list[Note]) -> None:
    """Remove page furniture from ``root`` in place, noting each piece."""
    for comment in list(root.iter(etree.Comment)):
        drop_tree(comment)

    def walk(element: _Element, in_article: bool) -> None:
        for child in list(element):
            if not isinstance(child.tag, str):
                continue
            what = _furniture(child, in_article=in_article)
            if what is not None:
                if what != "metadata":
                    dropped.append(Note(what, _excerpt(child) or f"<{child.tag}>"))
                drop_tree(child)
                continue
            walk(child, in_article or child.tag in ("article", "main"))

    walk(root, False)


def _text_keys(root: _Element) -> list[tuple[str, str]]:
    """(normalised text, excerpt) of each paragraph-like element, to report what was left out."""
    keys: list[tuple[str, str]] = []
    for element in root.iter("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "td"):
        text = re.sub(r"\s+", " ", " ".join(element.itertext())).strip()
        if len(text) >= 3:
            keys.append((text, _excerpt(element)))
    return keys


def _main_content(page: str) -> tuple[str, str]:
    """readability-lxml's main content (an HTML fragment) and the page's short title."""
    from readability import Document  # type: ignore[import-untyped]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = Document(page)
        return str(document.summary(html_partial=True)), str(document.short_title() or "")


def read_html(name: str, data: bytes) -> Converted:
    """Convert a web page to blocks; raise `ReleaseImportError` when it has no main content."""
    page = decode_html(data)
    page = re.sub(r"^\s*<\?xml[^>]*\?>", "", page)
    try:
        root = lxml_html.document_fromstring(page or "<html></html>")
    except (etree.ParserError, ValueError) as exc:
        raise _refuse(name, f"not an HTML page ({exc})", "html") from None
    declared = (root.get("lang") or "").strip().lower()[:2] or None
    dropped: list[Note] = []
    _strip_furniture(root, dropped)
    before = _text_keys(root)
    cleaned = lxml_html.tostring(root, encoding="unicode")
    try:
        summary, page_title = _main_content(cleaned)
    except Exception:
        summary, page_title = "", ""
    fragment = parse_fragment(summary or "<p></p>")
    kept = {text for text, _ in _text_keys(fragment)}
    kept_all = " ".join(kept)
    for text, excerpt in before:
        if text not in kept and text not in kept_all:
            dropped.append(Note("outside the main content", excerpt))
    not_fetched: list[Note] = []

    def image(element: _Element) -> tuple[str, str] | None:
        src = (element.get("src") or "").strip()
        alt = re.sub(r"\s+", " ", element.get("alt") or "").strip()
        if _is_pixel(element):
            dropped.append(Note("tracking pixel", src[:80]))
            return None
        not_fetched.append(Note("image not fetched (no network)", src[:120] or "(no address)"))
        label = alt or "image"
        if src.startswith(("https://", "http://")) and not re.search(r"[\s<>()]", src):
            return f"[{escape_text(label)}]({src})", label
        return (escape_text(alt), alt) if alt else None

    debris: list[str] = []
    blocks = blocks_from_html(fragment, image, debris)
    dropped.extend(Note("tag debris", piece) for piece in debris)
    words = sum(len(block.text.split()) for block in blocks)
    if words < _MIN_WORDS:
        raise _refuse(
            name,
            "no main content found in the page (only navigation, banners or scripts): save the"
            " article's own page, or copy its text into a .txt file",
            "no-content",
        )
    return Converted(
        blocks=tuple(blocks),
        dropped=tuple(dropped),
        warnings=tuple(str(n) for n in not_fetched),
        declared_language=declared if declared in ("fr", "en") else None,
        page_title=page_title,
    )
