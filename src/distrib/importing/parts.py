"""Recognise the parts of a press release, in French and in English, in a list of blocks.

Read from the top: label lines (« Pour diffusion immédiate », "For immediate release",
« Communiqué de presse »: dropped, distrib's templates say what they need), an embargo line
(« Sous embargo jusqu’au 11 avril 2013, 10 h », "Embargoed until April 11, 2013, 10 a.m. ET":
turned into an aware date-time), the **title** (Word's Title style, else the first heading,
else the first short paragraph), a **subtitle** (Word's Subtitle style, a heading or an italic
line right after the title: it becomes ``summary``), the **dateline** at the start of the first
paragraph (``MONTRÉAL, le 11 avril 2013 –``, ``Montréal, April 11, 2013 —``, a wire's
``/CNW/`` included), then the body.

From the first end mark (``- 30 -``, ``-30-``, ``– 30 –``, ``###``), "À propos de …"/"About …"
section or media-contact label (« Renseignements », « Source », "Media contact",
"Information"…) on, the blocks go to ``about`` and ``media_contact``; the end mark itself is
dropped (distrib adds the language's own).  Nothing is silently lost: a block that fits none of
these stays in the body and is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from distrib.importing.model import Block, Note
from distrib.release_extras import has_end_mark

__all__ = ["Embargo", "Recognised", "detect_language", "parse_embargo", "recognise"]

_FR_MONTHS = {
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
}  # fmt: skip
_EN_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1,
    "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
    "nov": 11, "dec": 12,
}  # fmt: skip
_FR_DAYS = r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)"
_EN_DAYS = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_FR_MONTH = "|".join(sorted(_FR_MONTHS, key=len, reverse=True))
_EN_MONTH = "|".join(sorted(_EN_MONTHS, key=len, reverse=True))
_SP = r"[\s\u00a0\u202f]"
_FR_DATE = (
    rf"(?:le{_SP}+)?(?:{_FR_DAYS}{_SP}+)?(?P<fd>\d{{1,2}}|1er){_SP}+(?P<fm>{_FR_MONTH})"
    rf"{_SP}+(?P<fy>\d{{4}})"
)
_EN_DATE = (
    rf"(?:{_EN_DAYS},?{_SP}+)?(?:(?P<em>{_EN_MONTH})\.?{_SP}+(?P<ed>\d{{1,2}})(?:st|nd|rd|th)?,?"
    rf"{_SP}+(?P<ey>\d{{4}})|(?P<bd>\d{{1,2}}){_SP}+(?P<bm>{_EN_MONTH})\.?,?{_SP}+(?P<by>\d{{4}}))"
)
_ISO_DATE = r"(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})"
_DATE = rf"(?:{_FR_DATE}|{_EN_DATE}|{_ISO_DATE})"
_DATELINE = re.compile(
    rf"^(?P<place>[A-ZÀ-ÖØ-Þ][^,\n]{{0,40}}?(?:,{_SP}*[^,\n\d]{{1,30}}?)?),{_SP}*(?P<date>{_DATE})"
    rf"(?:{_SP}*/[^/\n]{{1,50}}/)?(?P<end>{_SP}*(?:[–—]|-{{1,2}})(?={_SP})|{_SP}*$)",
    re.IGNORECASE,
)
_LABEL_WORDS = re.compile(
    r"^(?:pour (?:diffusion|publication) imm[ée]diate|diffusion imm[ée]diate"
    r"|for immediate (?:release|distribution)|immediate release|release immediately"
    r"|communiqu[ée](?: de presse)?|(?:news|press|media) release)$",
    re.IGNORECASE,
)
_IMMEDIATE = re.compile(r"imm[ée]diate", re.IGNORECASE)
_EMBARGO = re.compile(
    r"^(?:sous |under )?embargo(?:ed)?\b[\s:,–—-]*(?:jusqu[’']?(?:au|à|a)\b|until\b|till\b|to\b)?"
    r"|^(?:not for (?:release|publication)|hold for release|ne pas (?:diffuser|publier))"
    r"(?: before| until| avant)?\b",
    re.IGNORECASE,
)
_END = re.compile(r"^[\s*_]*(.{1,14}?)[\s*_]*$")
_ABOUT = re.compile(r"^(?:[àa] propos (?:de |du |des |d[’'])|about )\S", re.IGNORECASE)
_CONTACT_LABEL = (
    r"(?:renseignements?|informations?|sources?|contacts?|pour (?:plus d[’']|de plus amples )?"
    r"(?:informations?|renseignements?)|pour (?:nous )?joindre|relations? (?:avec les )?(?:médias"
    r"|medias|presse)|demandes? (?:d[’']entrevues?|des médias|médias)|media (?:contacts?|inquiries"
    r"|enquiries|relations)|press (?:contacts?|inquiries)|for (?:more|further) information"
    r"|contacts? (?:médias?|presse|de presse|media))"
)
_CONTACT = re.compile(rf"^{_CONTACT_LABEL}\b(?:[^:\n]{{0,60}}?{_SP}*[:：]|[^\n.]{{0,40}}$)", re.I)
_PHONE = re.compile(r"\d{3}[\s.\u00a0-]\d{3}[\s.\u00a0-]\d{4}|\+\d[\d\s().-]{7,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Zone abbreviations count only right after the time ("10 a.m. ET", "10 h (HNE)"); the names
# written out count anywhere in the line.
_NAMED_ZONE = r"heure (?:normale |avancée )?"
_ZONES = {
    "America/Toronto": (r"ET|EST|EDT|HNE|HAE", rf"{_NAMED_ZONE}de l[’']Est|Eastern"),
    "America/Vancouver": (r"PT|PST|PDT|HNP|HAP", rf"{_NAMED_ZONE}du Pacifique|Pacific"),
    "America/Winnipeg": (r"CT|CST|CDT|HNC|HAC", rf"{_NAMED_ZONE}du Centre|Central"),
    "America/Edmonton": (r"MT|MST|MDT|HNR|HAR", rf"{_NAMED_ZONE}des Rocheuses|Mountain"),
    "America/Halifax": (r"AT|AST|ADT|HNA|HAA", rf"{_NAMED_ZONE}de l[’']Atlantique|Atlantic"),
    "America/St_Johns": (r"NT|NST|NDT|HNT|HAT", rf"{_NAMED_ZONE}de Terre-Neuve|Newfoundland"),
    "UTC": (r"UTC|GMT|TU", r"temps universel"),
}  # fmt: skip
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?")
_TIME_FR = re.compile(rf"(?<!\d)(?P<h>\d{{1,2}}){_SP}*h{_SP}*(?P<m>\d{{2}})?(?![\w])", re.I)
_TIME_EN = re.compile(
    rf"(?<!\d)(?P<h>\d{{1,2}})(?::(?P<m>\d{{2}}))?{_SP}*(?P<ap>[ap])\.?{_SP}*m\b\.?", re.I
)
_TIME_24 = re.compile(r"(?<![\d:])(?P<h>\d{1,2}):(?P<m>\d{2})(?![\d:])")
_TIME_WORDS = re.compile(r"\b(?P<w>midi|noon|minuit|midnight)\b", re.I)
_FR_WORDS = frozenset(
    [
        "le",
        "la",
        "les",
        "des",
        "du",
        "de",
        "et",
        "est",
        "une",
        "un",
        "pour",
        "dans",
        "qui",
        "que",
        "avec",
        "sur",
        "au",
        "aux",
        "par",
        "ce",
        "cette",
        "ses",
        "son",
        "sont",
        "été",
        "à",
        "où",
        "être",
        "nous",
        "leur",
        "leurs",
        "plus",
        "d’",
        "l’",
        "propos",
        "renseignements",
        "communiqué",
    ]
)
_EN_WORDS = frozenset(
    [
        "the",
        "and",
        "of",
        "to",
        "in",
        "is",
        "for",
        "with",
        "on",
        "that",
        "by",
        "this",
        "are",
        "was",
        "be",
        "as",
        "at",
        "from",
        "its",
        "will",
        "have",
        "has",
        "their",
        "our",
        "about",
        "information",
        "release",
        "it",
        "an",
    ]
)


@dataclass(frozen=True, slots=True)
class Embargo:
    """An embargo line: what it said, and the moment (None when its date or time is missing)."""

    line: str
    moment: datetime | None
    zone: str  # the zone used, e.g. "America/Toronto"
    zone_named: bool  # the line named its zone (ET, HNE, UTC…)
    problem: str = ""


@dataclass
class Recognised:
    """The parts of one document."""

    title: str = ""
    title_block: Block | None = None
    summary: str = ""
    dateline: str = ""
    embargo: Embargo | None = None
    body: list[Block] = field(default_factory=list)
    about: list[Block] = field(default_factory=list)
    contact: list[list[Block]] = field(default_factory=list)
    end_mark: str = ""
    understood: list[Note] = field(default_factory=list)
    dropped: list[Note] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip(" *_")


def _one_line(text: str) -> str:
    """The text on one line, as written (non-breaking spaces kept)."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


def _is_label(block: Block) -> bool:
    text = _plain(block.text).rstrip(".:!").lower()
    parts = [p.strip() for p in re.split(r"\s+[-–—|/:]\s+|\s*[|/]\s*", text) if p.strip()]
    return bool(parts) and len(text) <= 80 and all(_LABEL_WORDS.match(p) for p in parts)


def _is_end_mark(block: Block) -> bool:
    text = block.text.strip()
    return len(text) <= 14 and has_end_mark(_END.sub(r"\1", text))


def _is_about(block: Block) -> bool:
    first = _plain(block.text.split("\n", 1)[0])
    if not _ABOUT.match(first):
        return False
    if block.kind == "heading" or "\n" in block.text.strip():
        return True
    return (len(first) <= 100 and not first.endswith(".")) or ":" in first[:80]


def _is_contact(block: Block) -> bool:
    first = _plain(block.text.split("\n", 1)[0])
    return block.kind in ("heading", "paragraph") and bool(_CONTACT.match(first))


def _looks_like_contact(block: Block) -> bool:
    return len(block.text) <= 400 and bool(_PHONE.search(block.text) or _EMAIL.search(block.text))


def _date_of(match: re.Match[str]) -> tuple[int, int, int] | None:
    groups = match.groupdict()
    if groups.get("fd"):
        day = 1 if groups["fd"] == "1er" else int(groups["fd"])
        return int(groups["fy"]), _FR_MONTHS[groups["fm"].lower()], day
    if groups.get("em"):
        return int(groups["ey"]), _EN_MONTHS[groups["em"].lower()], int(groups["ed"])
    if groups.get("bd"):
        return int(groups["by"]), _EN_MONTHS[groups["bm"].lower()], int(groups["bd"])
    if groups.get("iy"):
        return int(groups["iy"]), int(groups["im"]), int(groups["id"])
    return None


def _time_of(text: str) -> tuple[int, int, int] | None:
    """The first time of day in ``text``: (hour, minute, where it ends)."""
    for pattern in (_TIME_EN, _TIME_FR, _TIME_24, _TIME_WORDS):
        match = pattern.search(text)
        if match is None:
            continue
        if pattern is _TIME_WORDS:
            noon = match.group("w").lower() in ("midi", "noon")
            return (12 if noon else 0), 0, match.end()
        hour, minute = int(match.group("h")), int(match.group("m") or 0)
        ampm = match.groupdict().get("ap")
        if ampm:
            hour = hour % 12 + (12 if ampm.lower() == "p" else 0)
        return hour, minute, match.end()
    return None


def _zone_of(line: str, after_time: str, default: str) -> tuple[str, bool]:
    for name, (abbreviations, words) in _ZONES.items():
        if re.match(rf"[\s(,–—-]*(?:{abbreviations})\b", after_time) or re.search(
            rf"\b(?:{words})", line, re.IGNORECASE
        ):
            return name, True
    return default, False


def parse_embargo(line: str, timezone: ZoneInfo) -> Embargo:
    """Read an embargo line's date, time and zone; the zone defaults to ``timezone``."""
    iso = _ISO_MOMENT.search(line)
    if iso is not None:
        try:
            moment = datetime.fromisoformat(iso.group(0).replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            return Embargo(line, moment, str(moment.tzinfo), True)
    match = re.search(_DATE, line, re.IGNORECASE)
    date = _date_of(match) if match else None
    found = None
    if match is not None:
        after = _time_of(line[match.end() :])
        found = (
            (after[0], after[1], match.end() + after[2])
            if after
            else _time_of(line[: match.start()])
        )
    zone_name, named = str(timezone.key), False
    if found is not None:
        zone_name, named = _zone_of(line, line[found[2] :], zone_name)
    if date is None:
        return Embargo(line, None, zone_name, named, "no date found in the embargo line")
    if found is None:
        return Embargo(line, None, zone_name, named, "the embargo line gives no time of day")
    try:
        moment = datetime(*date, found[0], found[1], tzinfo=ZoneInfo(zone_name))
    except ValueError as exc:
        return Embargo(line, None, zone_name, named, f"not a real date or time ({exc})")
    return Embargo(line, moment, zone_name, named)


def detect_language(texts: list[str], declared: str | None = None) -> tuple[str | None, str]:
    """Guess fr or en from common words; return (language or None if unclear, the reason)."""
    words = re.findall(r"[a-zàâçéèêëîïôûùüÿœ]+[’']?", " ".join(texts).lower())
    fr = sum(1 for w in words if w in _FR_WORDS or (w.endswith(("’", "'")) and len(w) == 2))
    en = sum(1 for w in words if w in _EN_WORDS)
    counts = f"{fr} French and {en} English common words"
    if fr >= 5 and fr >= 3 * max(en, 1):
        return "fr", f"detected: {counts}"
    if en >= 5 and en >= 3 * max(fr, 1):
        return "en", f"detected: {counts}"
    if declared in ("fr", "en"):
        return declared, f"declared by the document ({counts})"
    return None, counts


def _strip_prefix(markdown: str, prefix: str) -> str:
    """Remove ``prefix`` (plain text) from the start of ``markdown``, skipping its markup."""
    pattern = r"[*_\\]*".join(re.escape(char) for char in prefix)
    match = re.match(rf"[*_]*{pattern}[*_]*", markdown)
    if match is None:
        return markdown
    rest = markdown[match.end() :]
    # Emphasis that opened in the prefix and closes in the rest: drop its closing marks.
    opened = markdown[: match.end()].count("**") % 2
    if opened and rest.find("**") != -1:
        rest = rest.replace("**", "", 1)
    return rest.lstrip(" \u00a0")


def _find_dateline(block: Block) -> tuple[str, Block | None] | None:
    """Return (the dateline, the block without it or None) if ``block`` starts with one."""
    if block.kind != "paragraph":
        return None
    match = _DATELINE.match(block.text)
    if match is None:
        return None
    dateline = block.text[: match.end()].strip()
    rest_text = block.text[match.end() :].strip()
    if not rest_text:
        return dateline, None
    markdown = _strip_prefix(block.markdown, block.text[: match.end()].rstrip())
    return dateline, Block("paragraph", markdown, rest_text)


def _is_subtitle(block: Block) -> bool:
    if block.role == "subtitle":
        return True
    if block.kind == "heading" or block.kind != "paragraph" or len(block.text) > 300:
        return False
    md = block.markdown
    return bool(re.fullmatch(r"\*[^*].*[^*]\*|\*\*[^*].*[^*]\*\*|_[^_].*[^_]_", md, re.S))


def recognise(blocks: list[Block], notes: list[Block], timezone: ZoneInfo) -> Recognised:
    """Split ``blocks`` into the parts of a release; ``notes`` go at the end of the body."""
    found = Recognised()
    remaining: list[Block] = []
    for block in blocks:
        text = _plain(block.text)
        if block.kind in ("paragraph", "heading") and _is_label(block):
            why = "distrib adds its own label" if _IMMEDIATE.search(text) else "a label"
            found.dropped.append(Note(f"label line ({why})", text))
        elif (
            block.kind in ("paragraph", "heading")
            and found.embargo is None
            and _EMBARGO.match(text)
        ):
            found.embargo = parse_embargo(text, timezone)
            found.dropped.append(Note("embargo line (now the embargo key)", text))
        else:
            remaining.append(block)
    _title(found, remaining)
    _tail(found)
    if notes:
        found.body.extend(notes)
        found.understood.append(Note("footnotes", f"{len(notes)}, at the end of the body"))
    _demote_headings(found.body)
    return found


def _title(found: Recognised, blocks: list[Block]) -> None:
    index = next((i for i, b in enumerate(blocks) if b.role == "title"), None)
    if index is None:
        index = next((i for i, b in enumerate(blocks) if b.kind == "heading"), None)
    if index is None or index > 3:
        index = next(
            (i for i, b in enumerate(blocks) if b.kind == "paragraph" and len(b.text) <= 250),
            None,
        )
        if index is not None and _find_dateline(blocks[index]) is not None:
            index = None
    before: list[Block] = []
    if index is not None:
        found.title_block = blocks[index]
        found.title = _one_line(blocks[index].text)
        before, blocks = blocks[:index], blocks[index + 1 :]
    for block in before:
        found.warnings.append(f"before the title, kept at the start of the body: {_excerpt(block)}")
    subtitles: list[str] = []
    while blocks and _find_dateline(blocks[0]) is None and _is_subtitle(blocks[0]):
        subtitles.append(_one_line(blocks.pop(0).text))
    if len(blocks) > 1 and blocks[0].kind == "heading" and _find_dateline(blocks[1]):
        subtitles.append(_one_line(blocks.pop(0).text))
    found.summary = " ".join(subtitles)
    body = before
    for position, block in enumerate(blocks):
        dateline = _find_dateline(block) if position < 3 and not found.dateline else None
        if dateline is None:
            body.append(block)
            continue
        found.dateline = dateline[0]
        if dateline[1] is not None:
            body.append(dateline[1])
    found.body = body


def _tail(found: Recognised) -> None:
    body, tail_start = found.body, None
    for index, block in enumerate(body):
        if index == 0:
            continue
        if (
            _is_end_mark(block)
            or _is_about(block)
            or (_is_contact(block) and len(block.text) <= 300)
        ):
            tail_start = index
            break
    if tail_start is None:
        return
    found.body, tail = body[:tail_start], body[tail_start:]
    section = ""
    kept: list[Block] = []
    for block in tail:
        if _is_end_mark(block):
            found.end_mark = found.end_mark or block.text.strip()
            found.dropped.append(Note("end mark (distrib adds the language's own)", block.text))
            section = "after"
        elif _is_about(block):
            section = "about"
            found.about.extend(_about_blocks(block))
        elif _is_contact(block) or (section in ("after", "about") and _looks_like_contact(block)):
            section = "contact"
            found.contact.append([block])
        elif section == "about":
            found.about.append(block)
        elif section == "contact":
            found.contact[-1].append(block)
        else:
            kept.append(block)
    for block in kept:
        found.warnings.append(f"after the end mark, kept at the end of the body: {_excerpt(block)}")
    found.body.extend(kept)


def _about_blocks(block: Block) -> list[Block]:
    """The "About …" heading as ``###``, and any text that shared its paragraph."""
    first, _, rest = block.text.partition("\n")
    heading = Block("heading", f"### {_strip_marks(block.markdown.split(chr(10))[0])}", first, 3)
    if block.kind == "heading":
        return [heading]
    if rest.strip():  # "À propos de l'AGAPC" and its text, split by a line break
        markdown_rest = block.markdown.split("\n", 1)[1] if "\n" in block.markdown else rest
        return [heading, Block("paragraph", markdown_rest, rest.strip())]
    if len(first) <= 100 and not first.rstrip().endswith("."):
        return [heading]
    return [block]  # "About the AGAPC: founded in 1987, …" stays a paragraph


def _strip_marks(markdown: str) -> str:
    markdown = re.sub(r"^#+\s*", "", markdown).rstrip("\\").strip()
    if re.fullmatch(r"\*\*[^*].*\*\*|\*[^*].*\*", markdown):
        markdown = markdown.strip("*")
    return markdown.rstrip(" :")


def _demote_headings(body: list[Block]) -> None:
    """Body headings start at level 2 (the template's title is the one ``<h1>``)."""
    levels = [b.level for b in body if b.kind == "heading"]
    if not levels:
        return
    shift = 2 - min(levels)
    for index, block in enumerate(body):
        if block.kind == "heading" and shift:
            level = min(6, block.level + shift)
            text = block.markdown.lstrip("#").lstrip()
            body[index] = Block("heading", f"{'#' * level} {text}", block.text, level)


def _excerpt(block: Block) -> str:
    text = _plain(block.text)
    return text if len(text) <= 60 else text[:57].rstrip() + "…"
