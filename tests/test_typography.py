"""Dates, times, money and spacing as French (OQLF) and English (CP) newsrooms write them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from distrib.render.typography import (
    NBSP,
    NNBSP,
    embargo_notice,
    embargo_subject_prefix,
    format_moment,
    format_money,
    format_time,
    french_spacing,
    immediate_release_label,
    zone_abbreviation,
)

WINTER = datetime.fromisoformat("2028-03-01T09:00-05:00")  # Eastern standard time
SUMMER = datetime.fromisoformat("2028-07-01T09:30-04:00")  # Eastern daylight time


@pytest.mark.parametrize(
    ("moment", "french", "english"),
    [
        (WINTER, f"le 1er mars 2028, 9{NBSP}h (HNE)", "March 1, 2028, 9 a.m. ET"),
        (SUMMER, f"le 1er juillet 2028, 9{NBSP}h{NBSP}30 (HAE)", "July 1, 2028, 9:30 a.m. ET"),
        (
            datetime.fromisoformat("2028-01-15T17:00-05:00"),
            f"le 15 janvier 2028, 17{NBSP}h (HNE)",
            "Jan. 15, 2028, 5 p.m. ET",
        ),
        (
            datetime.fromisoformat("2027-12-04T12:00-05:00"),
            f"le 4 décembre 2027, 12{NBSP}h (HNE)",
            "Dec. 4, 2027, noon ET",
        ),
        (
            datetime.fromisoformat("2028-09-10T00:00-04:00"),
            f"le 10 septembre 2028, 0{NBSP}h (HAE)",
            "Sept. 10, 2028, midnight ET",
        ),
    ],
)
def test_moments_in_eastern_time(moment: datetime, french: str, english: str) -> None:
    assert format_moment(moment, "fr") == french
    assert format_moment(moment, "en") == english


def test_named_zones_and_other_offsets() -> None:
    vancouver = datetime(2028, 3, 1, 16, 30, tzinfo=ZoneInfo("America/Vancouver"))
    assert format_moment(vancouver, "fr") == f"le 1er mars 2028, 16{NBSP}h{NBSP}30 (HNP)"
    assert format_moment(vancouver, "en") == "March 1, 2028, 4:30 p.m. PT"
    halifax = datetime(2028, 7, 1, 9, tzinfo=ZoneInfo("America/Halifax"))
    assert zone_abbreviation(halifax, "fr") == "HAA"
    assert zone_abbreviation(halifax, "en") == "AT"
    paris = datetime(2028, 3, 1, 9, tzinfo=ZoneInfo("Europe/Paris"))
    assert zone_abbreviation(paris, "en") == "CET"
    # An offset that is not the workspace zone's at that moment: the offset, with a real minus.
    assert zone_abbreviation(datetime.fromisoformat("2028-03-01T09:00-08:00"), "fr") == "UTC−8"
    # ... unless the workspace's zone is that one.
    pacific = datetime.fromisoformat("2028-03-01T09:00-08:00")
    assert zone_abbreviation(pacific, "en", "America/Vancouver") == "PT"
    assert zone_abbreviation(datetime.fromisoformat("2028-03-01T09:00+05:30"), "en") == "UTC+5:30"


def test_embargo_notice_and_subject_prefix() -> None:
    assert embargo_notice(WINTER, "fr") == f"SOUS EMBARGO jusqu’au 1er mars 2028, 9{NBSP}h (HNE)"
    assert embargo_notice(WINTER, "en") == "EMBARGOED UNTIL 9 a.m. ET, March 1, 2028"
    assert embargo_subject_prefix(WINTER, "fr") == f"EMBARGO 1er mars 9{NBSP}h HNE –"
    assert embargo_subject_prefix(WINTER, "en") == "EMBARGOED until March 1, 9 a.m. ET –"
    assert immediate_release_label("fr") == "Pour diffusion immédiate"
    assert immediate_release_label("en") == "For immediate release"


def test_times() -> None:
    at = datetime(2028, 3, 1, 9, 5)
    assert format_time(at, "fr") == f"9{NBSP}h{NBSP}05"
    assert format_time(at, "en") == "9:05 a.m."
    assert format_time(at.replace(hour=13), "en") == "1:05 p.m."


@pytest.mark.parametrize(
    ("amount", "french", "english"),
    [
        (485000, f"485{NBSP}000{NBSP}$", "$485,000"),
        ("1234.5", f"1{NBSP}234,50{NBSP}$", "$1,234.50"),
        (999, f"999{NBSP}$", "$999"),
        (1_000_000, f"1{NBSP}000{NBSP}000{NBSP}$", "$1,000,000"),
        (-12, f"-12{NBSP}$", "-$12"),
    ],
)
def test_money(amount: object, french: str, english: str) -> None:
    assert format_money(amount, "fr") == french  # type: ignore[arg-type]
    assert format_money(amount, "en") == english  # type: ignore[arg-type]


def test_french_spacing() -> None:
    text = (
        "« Hiver en vitrine » : 485 000 $ pour nos rues ! Vraiment ? Oui ; voir"
        " https://a.example/x?y=1 à 9:30."
    )
    assert french_spacing(text) == (
        f"«{NBSP}Hiver en vitrine{NBSP}»{NBSP}: 485{NBSP}000{NBSP}$ pour nos rues{NNBSP}!"
        f" Vraiment{NNBSP}? Oui{NNBSP}; voir https://a.example/x?y=1 à 9:30."
    )
    # Guillemets always take their spaces; applying twice changes nothing.
    assert french_spacing("«Bonjour»") == f"«{NBSP}Bonjour{NBSP}»"
    assert french_spacing(french_spacing(text)) == french_spacing(text)
