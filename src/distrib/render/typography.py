"""Dates, times, money and spacing the way each language's newsrooms write them.

French follows the Office québécois de la langue française (OQLF)::

    le 1er mars 2028, 9 h (HNE)        9 h 30        485 000 $        « Hiver en vitrine »

with non-breaking spaces where a line must not break: before ``:`` and ``»``, after ``«``, and
a narrow one before ``;`` ``!`` ``?``; inside numbers and before ``$``.

English follows The Canadian Press (CP) style::

    March 1, 2028, 9 a.m. ET           4:30 p.m.     noon           Nov. 4, 2027      $485,000

Time zones: Canada's and the United States' zones have their usual letters (``HNE``/``HAE`` in
French, ``ET`` in English for Eastern time); other zones use the abbreviation the time-zone
database gives when it is made of letters (``CET``, ``GMT``), else the offset (``UTC−5``, with a
real minus sign).  A date-time that carries only an offset (``2028-03-01T09:00-05:00``, as front
matter gives it) is shown in ``zone`` (the workspace's time zone) when that zone has the same
offset at that moment, so ``-05:00`` in winter reads ``HNE``/``ET``.

Pure functions, no I/O: `distrib.render` uses them for the embargo notice, the
immediate-release label and the ``money`` / ``when`` filters, and tests pin every form.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_ZONE",
    "bilingual_jump",
    "embargo_notice",
    "embargo_request",
    "embargo_subject_prefix",
    "format_date",
    "format_moment",
    "format_money",
    "format_time",
    "french_spacing",
    "french_spacing_html",
    "immediate_release_label",
    "zone_abbreviation",
]

NBSP = "\u00a0"  # non-breaking space
NNBSP = "\u202f"  # narrow non-breaking space
MINUS = "\u2212"

#: The zone an offset-only date-time is read in when the workspace names none.
DEFAULT_ZONE = "America/Toronto"

_MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)  # fmt: skip
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
# CP abbreviates these months before a day ("Nov. 4"); March to July are always spelled out.
_MONTHS_EN_SHORT = {1: "Jan.", 2: "Feb.", 8: "Aug.", 9: "Sept.", 10: "Oct.", 11: "Nov.", 12: "Dec."}

# North American zones: (French standard, French daylight, English) by UTC offset in hours,
# standard time.  The offset alone decides, so every city of a zone reads the same.
_NORTH_AMERICA = {
    -3.5: ("HNT", "HAT", "NT"),  # Terre-Neuve / Newfoundland
    -4: ("HNA", "HAA", "AT"),  # Atlantique / Atlantic
    -5: ("HNE", "HAE", "ET"),  # Est / Eastern
    -6: ("HNC", "HAC", "CT"),  # Centre / Central
    -7: ("HNR", "HAR", "MT"),  # Rocheuses / Mountain
    -8: ("HNP", "HAP", "PT"),  # Pacifique / Pacific
}
_AMERICAN_PREFIXES = ("America/", "Canada/", "US/")


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _in_zone(moment: datetime, zone: str | None) -> datetime:
    """Show an offset-only ``moment`` in ``zone`` when that zone has the same offset then."""
    if isinstance(moment.tzinfo, ZoneInfo):
        return moment
    named = _zone(zone or DEFAULT_ZONE)
    if named is None or moment.tzinfo is None:
        return moment
    local = moment.astimezone(named)
    return local if local.utcoffset() == moment.utcoffset() else moment


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else MINUS
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_abbreviation(moment: datetime, language: str, zone: str | None = None) -> str:
    """Return the time-zone letters for ``moment`` in ``language`` (``HNE``, ``ET``, ``CET``)."""
    moment = _in_zone(moment, zone)
    offset = moment.utcoffset()
    if offset is None:
        return ""
    key = getattr(moment.tzinfo, "key", "") or ""
    if key.startswith(_AMERICAN_PREFIXES):
        dst = moment.dst() or timedelta(0)
        standard = (offset - dst).total_seconds() / 3600
        names = _NORTH_AMERICA.get(standard)
        if names is not None:
            if language == "fr":
                return names[1] if dst else names[0]
            return names[2]
    name = moment.tzname() or ""
    if key and re.fullmatch(r"[A-Z]{2,5}", name):
        return name
    return _offset_text(offset)


def format_date(day: date, language: str, *, year: bool = True, article: str = "") -> str:
    """``1er mars 2028`` (with ``article="le"``: ``le 1er mars 2028``) / ``March 1, 2028``."""
    if language == "fr":
        number = "1er" if day.day == 1 else str(day.day)
        text = f"{number} {_MONTHS_FR[day.month - 1]}" + (f" {day.year}" if year else "")
        return f"{article} {text}" if article else text
    month = _MONTHS_EN_SHORT.get(day.month, _MONTHS_EN[day.month - 1])
    return f"{month} {day.day}" + (f", {day.year}" if year else "")


def format_time(moment: datetime, language: str) -> str:
    """``9 h``, ``9 h 30``, ``17 h`` (non-breaking spaces) / ``9 a.m.``, ``4:30 p.m.``, ``noon``,
    ``midnight``."""
    hour, minute = moment.hour, moment.minute
    if language == "fr":
        return f"{hour}{NBSP}h" + (f"{NBSP}{minute:02d}" if minute else "")
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "noon"
    suffix = "a.m." if hour < 12 else "p.m."
    clock = hour % 12 or 12
    return f"{clock}" + (f":{minute:02d}" if minute else "") + f" {suffix}"


def format_moment(
    moment: datetime, language: str, *, zone: str | None = None, year: bool = True
) -> str:
    """``le 1er mars 2028, 9 h (HNE)`` / ``March 1, 2028, 9 a.m. ET``."""
    moment = _in_zone(moment, zone)
    letters = zone_abbreviation(moment, language, zone)
    if language == "fr":
        text = f"{format_date(moment, 'fr', year=year, article='le')}, {format_time(moment, 'fr')}"
        return text + (f" ({letters})" if letters else "")
    text = f"{format_date(moment, 'en', year=year)}, {format_time(moment, 'en')}"
    return text + (f" {letters}" if letters else "")


def embargo_notice(embargo: datetime, language: str, *, zone: str | None = None) -> str:
    """The notice at the top of an embargoed release.

    ``SOUS EMBARGO jusqu’au 1er mars 2028, 9 h (HNE)`` /
    ``EMBARGOED UNTIL 9 a.m. ET, March 1, 2028``.
    """
    moment = _in_zone(embargo, zone)
    letters = zone_abbreviation(moment, language, zone)
    if language == "fr":
        day = format_date(moment, "fr")
        when = f"{day}, {format_time(moment, 'fr')}" + (f" ({letters})" if letters else "")
        return french_spacing(f"SOUS EMBARGO jusqu’au {when}")
    clock = format_time(moment, "en") + (f" {letters}" if letters else "")
    return f"EMBARGOED UNTIL {clock}, {format_date(moment, 'en')}"


def embargo_subject_prefix(embargo: datetime, language: str, *, zone: str | None = None) -> str:
    """A short prefix for the subject: ``EMBARGO 1er mars 9 h HNE –`` /
    ``EMBARGOED until March 1, 9 a.m. ET –`` (the year is left out: the subject is short)."""
    moment = _in_zone(embargo, zone)
    letters = zone_abbreviation(moment, language, zone)
    if language == "fr":
        when = f"{format_date(moment, 'fr', year=False)} {format_time(moment, 'fr')}"
        return french_spacing(f"EMBARGO {when}" + (f" {letters}" if letters else "") + " –")
    when = f"{format_date(moment, 'en', year=False)}, {format_time(moment, 'en')}"
    return f"EMBARGOED until {when}" + (f" {letters}" if letters else "") + " –"


def embargo_request(language: str) -> str:
    """The sentence under the embargo notice: what the journalist is asked."""
    if language == "fr":
        return "Merci de ne rien publier avant cette heure."
    return "Please do not publish before then."


def bilingual_jump(language: str) -> str:
    """The line at the top of a bilingual message that announces the version in ``language``,
    written in that language: ``English follows`` / ``Version française plus bas``."""
    return "Version française plus bas" if language == "fr" else "English follows"


def immediate_release_label(language: str) -> str:
    """``Pour diffusion immédiate`` / ``For immediate release``."""
    return "Pour diffusion immédiate" if language == "fr" else "For immediate release"


def format_money(amount: int | float | Decimal | str, language: str, currency: str = "$") -> str:
    """``485 000 $`` (non-breaking spaces) / ``$485,000``; cents only when there are some."""
    value = Decimal(str(amount).replace(NBSP, "").replace(NNBSP, "").replace(" ", ""))
    cents = value != value.to_integral_value()
    value = value.quantize(Decimal("0.01") if cents else Decimal("1"), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{abs(value):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    groups.insert(0, whole)
    sign = "-" if value < 0 else ""
    if language == "fr":
        number = NBSP.join(groups) + (f",{fraction}" if fraction else "")
        return f"{sign}{number}{NBSP}{currency}"
    number = ",".join(groups) + (f".{fraction}" if fraction else "")
    return f"{sign}{currency}{number}"


# A regular space before : ; ! ? » or after «, or between digit groups / before a currency sign.
_BEFORE_COLON = re.compile(r"(?<=\S) (?=[:»])")
_BEFORE_NARROW = re.compile(r"(?<=\S) (?=[;!?](?:\s|$|[»)\]]))")
_AFTER_OPEN = re.compile(r"«[ \u00a0\u202f]?")
_BEFORE_CLOSE = re.compile(r"[ \u00a0\u202f]?»")
_DIGIT_GROUPS = re.compile(r"(?<=\d) (?=\d{3}(?!\d))")
_BEFORE_CURRENCY = re.compile(r"(?<=\d) (?=[$€%])")


def french_spacing(text: str) -> str:
    """Put the non-breaking spaces of French typography into ``text`` (idempotent).

    Only spaces already there become non-breaking (a colon in ``https://`` or ``9:30`` gets
    none), except inside « guillemets », which always take one.
    """
    text = _AFTER_OPEN.sub("«" + NBSP, text)
    text = _BEFORE_CLOSE.sub(NBSP + "»", text)
    text = _BEFORE_COLON.sub(NBSP, text)
    text = _BEFORE_NARROW.sub(NNBSP, text)
    text = _DIGIT_GROUPS.sub(NBSP, text)
    return _BEFORE_CURRENCY.sub(NBSP, text)


_TAG = re.compile(r"(<[^>]*>)")


def french_spacing_html(html: str) -> str:
    """`french_spacing` for HTML: only the text between tags changes, never a tag or an
    attribute (a URL, a style)."""
    parts = _TAG.split(html)
    return "".join(part if index % 2 else french_spacing(part) for index, part in enumerate(parts))
