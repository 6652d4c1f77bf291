"""Locale-aware Jinja2 filters (Babel): dates, times, numbers and money the way readers expect.

Every filter takes an optional language (``"fr"``, ``"en"``, or a Babel locale such as
``"fr_CA"``); without one it uses the message's language (the first one of a bilingual message)::

    {{ release.embargo | format_datetime }}        4 novembre 2027 à 9 h 00 (UTC-05:00)
    {{ release.embargo | format_date("en") }}      November 4, 2027
    {{ release.embargo | format_time }}            9 h 00
    {{ 485000 | format_number }}                   485 000
    {{ 485000 | format_currency("CAD") }}          485 000,00 $
    {{ 0.25 | format_percent("en") }}              25%
    {{ 485000 | money }}                           485 000 $      ($485,000 in English)
    {{ release.embargo | when }}                   le 1er mars 2028, 9 h (HNE)

``money`` and ``when`` write as newsrooms do (`distrib.render.typography`: OQLF in French,
The Canadian Press in English); the ``format_*`` filters as Babel's CLDR data does.

Values may be strings, as contact fields and front matter are: ``"485000"`` formats as a number,
``"2027-11-04T09:00-05:00"`` as a date-time.  A value that is not what the filter formats is an
error naming the filter, never a silent blank.  Results are cached: a release's embargo is
formatted once per language, not once per message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

__all__ = ["FILTERS", "babel_locale"]

_LOCALES = {"fr": "fr_CA", "en": "en_CA"}
_DATETIME_PATTERNS = {
    "fr": "d MMMM y 'à' H 'h' mm '(UTC'xxx')'",
    "en": "MMMM d, y 'at' h:mm a '(UTC'xxx')'",
}
_TIME_PATTERNS = {"fr": "H 'h' mm", "en": "h:mm a"}


def babel_locale(language: str) -> str:
    """Return the Babel locale for ``fr``/``en`` (``fr_CA``/``en_CA``), or ``language`` itself."""
    return _LOCALES.get(language, language.replace("-", "_"))


def _language(context: Context, language: str | None) -> str:
    if language:
        return language
    languages = context.get("languages")
    if languages:
        return str(languages[0])
    return str(context.get("lang", "en"))


def _shown(value: Any) -> str:
    """``value`` quoted as the officer wrote it (no ``\\xa0`` escapes), at most 60 characters."""
    if isinstance(value, bool | int | float | Decimal):
        return str(value)
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    return "'" + (value if len(value) <= 60 else value[:59] + "…") + "'"


def _as_datetime(value: Any, name: str) -> datetime | date:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(
        f"{name}: {_shown(value)} is not a date or date-time (e.g. 2027-11-04T09:00-05:00)"
    )


def _as_number(value: Any, name: str) -> int | float | Decimal:
    if isinstance(value, bool):
        raise ValueError(f"{name}: {_shown(value)} is not a number")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
        try:
            return Decimal(text.replace(",", ".")) if text.count(",") <= 1 else Decimal("x")
        except InvalidOperation:
            pass
    raise ValueError(f"{name}: {_shown(value)} is not a number")


@lru_cache(maxsize=4096)
def _datetime(value: datetime | date, language: str, kind: str, format: str | None) -> str:
    from babel import dates

    locale = babel_locale(language)
    key = language if language in _DATETIME_PATTERNS else "en"
    if kind == "date":
        return str(dates.format_date(value, format or "long", locale=locale))
    moment = value if isinstance(value, datetime) else datetime.combine(value, time())
    zone = moment.tzinfo
    if kind == "time":
        return str(
            dates.format_time(moment, format or _TIME_PATTERNS[key], tzinfo=zone, locale=locale)
        )
    pattern = format or _DATETIME_PATTERNS[key]
    return str(dates.format_datetime(moment, pattern, tzinfo=zone, locale=locale))


@lru_cache(maxsize=4096)
def _number(
    value: int | float | Decimal, language: str, kind: str, currency: str, format: str | None
) -> str:
    from babel import numbers

    locale = babel_locale(language)
    if kind == "currency":
        return str(numbers.format_currency(value, currency, format=format, locale=locale))
    if kind == "percent":
        return str(numbers.format_percent(value, format=format, locale=locale))
    return str(numbers.format_decimal(value, format=format, locale=locale))


def _date_filter(kind: str) -> Callable[..., str]:
    @pass_context
    def run(
        context: Context, value: Any, language: str | None = None, format: str | None = None
    ) -> str:
        if value is None or value == "":
            return ""
        moment = _as_datetime(value, f"format_{kind}")
        return _datetime(moment, _language(context, language), kind, format)

    return run


@pass_context
def _format_number(
    context: Context, value: Any, language: str | None = None, format: str | None = None
) -> str:
    if value is None or value == "":
        return ""
    number = _as_number(value, "format_number")
    return _number(number, _language(context, language), "decimal", "", format)


@pass_context
def _format_currency(
    context: Context,
    value: Any,
    currency: str = "CAD",
    language: str | None = None,
    format: str | None = None,
) -> str:
    if value is None or value == "":
        return ""
    number = _as_number(value, "format_currency")
    return _number(number, _language(context, language), "currency", currency, format)


@pass_context
def _format_percent(
    context: Context, value: Any, language: str | None = None, format: str | None = None
) -> str:
    if value is None or value == "":
        return ""
    number = _as_number(value, "format_percent")
    return _number(number, _language(context, language), "percent", "", format)


@pass_context
def _money(context: Context, value: Any, language: str | None = None, currency: str = "$") -> str:
    """``485 000 $`` / ``$485,000`` (`distrib.render.typography.format_money`)."""
    from distrib.render.typography import format_money

    if value is None or value == "":
        return ""
    return format_money(_as_number(value, "money"), _language(context, language), currency)


@pass_context
def _when(
    context: Context, value: Any, language: str | None = None, zone: str | None = None
) -> str:
    """``le 1er mars 2028, 9 h (HNE)`` / ``March 1, 2028, 9 a.m. ET``
    (`distrib.render.typography.format_moment`)."""
    from distrib.render.typography import format_moment

    if value is None or value == "":
        return ""
    moment = _as_datetime(value, "when")
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time())
    return format_moment(moment, _language(context, language), zone=zone)


#: The filters every template environment gets.
FILTERS: Mapping[str, Callable[..., str]] = {
    "money": _money,
    "when": _when,
    "format_date": _date_filter("date"),
    "format_time": _date_filter("time"),
    "format_datetime": _date_filter("datetime"),
    "format_number": _format_number,
    "format_decimal": _format_number,
    "format_currency": _format_currency,
    "format_percent": _format_percent,
}
