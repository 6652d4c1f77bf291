"""Babel filters in templates: dates, times, numbers, money and percentages in fr_CA and en_CA."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from jinja2 import Environment

from distrib.render.context import make_environments
from distrib.render.filters import FILTERS

EST = timezone(timedelta(hours=-5))
MOMENT = datetime(2027, 11, 4, 9, 5, tzinfo=EST)


@pytest.fixture
def env() -> Environment:
    environment = Environment(autoescape=True)
    environment.filters.update(FILTERS)
    return environment


def run(env: Environment, source: str, **context: object) -> str:
    return env.from_string(source).render(**context)


@pytest.mark.parametrize(
    ("source", "lang", "expected"),
    [
        ("{{ m | format_datetime }}", "fr", "4 novembre 2027 à 9 h 05 (UTC-05:00)"),
        ("{{ m | format_datetime }}", "en", "November 4, 2027 at 9:05 a.m. (UTC-05:00)"),
        ("{{ m | format_date }}", "fr", "4 novembre 2027"),
        ("{{ m | format_date }}", "en", "November 4, 2027"),
        ("{{ m | format_time }}", "fr", "9 h 05"),
        ("{{ m | format_time }}", "en", "9:05 a.m."),
        ("{{ m | format_date('en', 'EEEE d MMMM') }}", "fr", "Thursday 4 November"),
        ("{{ d | format_date }}", "fr", "26 mars 2028"),
        ("{{ '2027-11-04T09:05-05:00' | format_date }}", "fr", "4 novembre 2027"),
        ("{{ 485000 | format_number }}", "fr", "485\u00a0000"),
        ("{{ 485000 | format_number }}", "en", "485,000"),
        ("{{ '485 000,5' | format_decimal }}", "fr", "485\u00a0000,5"),
        ("{{ 485000 | format_currency('CAD') }}", "fr", "485\u00a0000,00\u00a0$"),
        ("{{ 485000 | format_currency('CAD') }}", "en", "$485,000.00"),
        ("{{ 0.25 | format_percent }}", "fr", "25\u00a0%"),
        ("{{ 0.25 | format_percent }}", "en", "25%"),
        ("{{ none | format_date }}{{ '' | format_number }}", "fr", ""),
    ],
)
def test_locale_formats(env: Environment, source: str, lang: str, expected: str) -> None:
    context = {"m": MOMENT, "d": date(2028, 3, 26), "none": None, "lang": lang}
    assert run(env, source, **context) == expected


def test_a_bilingual_message_formats_in_its_first_language_unless_told(env: Environment) -> None:
    context = {"m": MOMENT, "lang": "both", "languages": ("en", "fr")}
    assert run(env, "{{ m | format_date }} / {{ m | format_date('fr') }}", **context) == (
        "November 4, 2027 / 4 novembre 2027"
    )


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ 'demain' | format_date }}", "format_date: 'demain' is not a date"),
        ("{{ 'beaucoup' | format_number }}", "format_number: 'beaucoup' is not a number"),
        ("{{ true | format_percent }}", "format_percent: True is not a number"),
    ],
)
def test_values_that_are_not_dates_or_numbers_are_errors(
    env: Environment, source: str, fragment: str
) -> None:
    with pytest.raises(ValueError, match=fragment):
        run(env, source, lang="fr")


def test_template_environments_have_the_filters(tmp_path: object) -> None:
    from pathlib import Path

    html, text = make_environments(Path(str(tmp_path)))
    for environment in (html, text):
        assert set(FILTERS) <= set(environment.filters)
