# ruff: noqa: E501
"""`import_release` on plain text pasted from an email, Markdown, and the parts of a release."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from distrib.importing import InputFile, ReleaseImportError, import_release
from distrib.importing.parts import parse_embargo
from distrib.release import read_release

TORONTO = ZoneInfo("America/Toronto")

# A release pasted from an email: hard-wrapped at 72 columns, with the usual labels.
PASTED = """\
POUR DIFFUSION IMMÉDIATE

Sous embargo jusqu'au 11 avril 2013, 10 h

Le Festival des lumières revient : 12 000 $ pour les écoles

MONTRÉAL, le 11 avril 2013 – Le Festival des lumières annonce aujourd'hui
qu'il versera 12 000 $ aux écoles du quartier pour des ateliers d'art, une
première dans l'histoire de l'événement.

Le programme comprend :
- des ateliers dans dix écoles ;
- une exposition des œuvres au
  centre culturel.

Le budget a augmenté de 15 % en 2013. *Tous* les détails sont sur le site.

À propos du Festival des lumières
Fondé en 1999, le Festival réunit chaque année 50 000 personnes.

- 30 -

Source :
Julie Tremblay
514 555-0199

Renseignements :
Marc Roy, relations avec les médias
marc.roy@festival.example
"""

PASTED_MD = """\
---
title: 'Le Festival des lumières revient : 12 000 $ pour les écoles'
subject: 'Le Festival des lumières revient : 12 000 $ pour les écoles'
dateline: MONTRÉAL, le 11 avril 2013 –
embargo: '2013-04-11T10:00:00-04:00'
about: |-
  ### À propos du Festival des lumières

  Fondé en 1999, le Festival réunit chaque année 50 000 personnes.
media_contact: |-
  Source :\\
  Julie Tremblay\\
  514 555-0199

  Renseignements :\\
  Marc Roy, relations avec les médias\\
  marc.roy@festival.example
---
Le Festival des lumières annonce aujourd'hui qu'il versera 12 000 $ aux écoles du quartier pour des ateliers d'art, une première dans l'histoire de l'événement.

Le programme comprend :

- des ateliers dans dix écoles ;
- une exposition des œuvres au centre culturel.

Le budget a augmenté de 15 % en 2013. \\*Tous\\* les détails sont sur le site.
"""


def test_pasted_text_in_the_usual_release_shape(tmp_path: Path) -> None:
    target = tmp_path / "release"
    report = import_release(
        [InputFile("<stdin>", PASTED.encode("utf-8"), "text")], target=target, timezone=TORONTO
    )
    assert (target / "fr.md").read_text(encoding="utf-8") == PASTED_MD
    document = report.documents[0]
    assert [str(n) for n in document.dropped] == [
        "label line (distrib adds its own label): POUR DIFFUSION IMMÉDIATE",
        "embargo line (now the embargo key): Sous embargo jusqu'au 11 avril 2013, 10 h",
        "end mark (distrib adds the language's own): - 30 -",
    ]
    assert {n.what: n.detail for n in document.understood}["embargo"] == (
        "2013-04-11T10:00:00-04:00 (America/Toronto, assumed: the line names none)"
    )
    fr = read_release(target).documents["fr"]
    assert fr.title == "Le Festival des lumières revient : 12 000 $ pour les écoles"
    assert fr.embargo == datetime(2013, 4, 11, 10, tzinfo=TORONTO)


def test_english_text_with_its_own_zone_and_a_hash_end_mark(tmp_path: Path) -> None:
    text = (
        "For Immediate Release\n\n"
        "City opens a new library\n\n"
        "Embargoed until April 11, 2013 at 10:30 a.m. PT\n\n"
        "Vancouver, April 11, 2013 — The City of Vancouver today opened a new public library in\n"
        "Strathcona, the first in the neighbourhood in forty years, with 20,000 books.\n\n"
        "###\n\n"
        "Media contact: Sam Lee, 604 555-0123\n"
    )
    report = import_release(
        [InputFile("mail.txt", text.encode(), "text")], target=tmp_path / "r", timezone=TORONTO
    )
    document = report.documents[0]
    assert document.language == "en"
    assert dict(document.front_matter) == {
        "title": "City opens a new library",
        "subject": "City opens a new library",
        "dateline": "Vancouver, April 11, 2013 —",
        "embargo": "2013-04-11T10:30:00-07:00",
        "media_contact": "Media contact: Sam Lee, 604 555-0123",
    }
    assert document.body == (
        "The City of Vancouver today opened a new public library in Strathcona, the first in"
        " the neighbourhood in forty years, with 20,000 books.\n"
    )


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Sous embargo jusqu’au jeudi 11 avril 2013, 10 h 30", "2013-04-11T10:30:00-04:00"),
        ("EMBARGO : 11 avril 2013 à midi (HNE)", "2013-04-11T12:00:00-04:00"),
        # "EST" is read as Eastern local time: on November 4, 2027 that is still EDT.
        ("Embargoed until 9 a.m. EST, Nov. 4, 2027", "2027-11-04T09:00:00-04:00"),
        ("Embargoed until 9 a.m. ET, Dec. 4, 2027", "2027-12-04T09:00:00-05:00"),
        ("Embargo: 2027-11-04T09:00:00Z", "2027-11-04T09:00:00+00:00"),
        ("Embargoed until April 11, 2013, 2 p.m. Atlantic time", "2013-04-11T14:00:00-03:00"),
    ],
)
def test_embargo_lines(line: str, expected: str) -> None:
    embargo = parse_embargo(line, TORONTO)
    assert embargo.moment is not None, embargo.problem
    assert embargo.moment.isoformat() == expected


def test_an_embargo_without_a_time_is_asked_for(tmp_path: Path) -> None:
    text = PASTED.replace("jusqu'au 11 avril 2013, 10 h", "jusqu'au 11 avril 2013")
    source = InputFile("courriel.txt", text.encode(), "text")
    with pytest.raises(ReleaseImportError) as info:
        import_release([source], target=tmp_path / "r", timezone=TORONTO)
    assert [str(p) for p in info.value.problems] == [
        'courriel.txt: embargo line "Sous embargo jusqu\'au 11 avril 2013": the embargo line'
        " gives no time of day; give the moment with --embargo (e.g. '2027-11-04 09:00')"
    ]
    assert not (tmp_path / "r").exists()
    given = datetime(2013, 4, 11, 6, tzinfo=ZoneInfo("America/Vancouver"))
    report = import_release([source], target=tmp_path / "r", timezone=TORONTO, embargo=given)
    assert report.documents[0].front_matter["embargo"] == "2013-04-11T06:00:00-07:00"


def test_no_dateline_is_an_error_unless_given(tmp_path: Path) -> None:
    text = "Un titre\n\nLe texte du communiqué est ici, sans lieu ni date, et il est en français.\n"
    source = InputFile("sans-date.txt", text.encode(), "text")
    with pytest.raises(ReleaseImportError) as info:
        import_release([source], target=tmp_path / "r", timezone=TORONTO)
    assert str(info.value.problems[0]).startswith("sans-date.txt: no dateline found")
    report = import_release(
        [source], target=tmp_path / "r", timezone=TORONTO, dateline="LAVAL, le 2 mai 2027 –"
    )
    assert report.documents[0].front_matter["dateline"] == "LAVAL, le 2 mai 2027 –"


def test_unclear_language_asks_for_lang(tmp_path: Path) -> None:
    source = InputFile("bref.txt", b"Expo 2027\n\nMONTREAL, 2027-05-02 - Expo.\n", "text")
    with pytest.raises(ReleaseImportError) as info:
        import_release([source], target=tmp_path / "r", timezone=TORONTO)
    assert "give --lang fr or --lang en" in str(info.value.problems[0])
    report = import_release([source], target=tmp_path / "r", timezone=TORONTO, lang="en")
    assert report.documents[0].language_reason == "given with --lang"
    assert report.documents[0].front_matter["dateline"] == "MONTREAL, 2027-05-02 -"


def test_markdown_is_rejoined_and_raw_html_is_text(tmp_path: Path) -> None:
    source = tmp_path / "brouillon.md"
    source.write_text(
        "# La Ville agrandit la bibliothèque\n\n"
        "GATINEAU, le 3 mars 2027 – La Ville annonce que la bibliothèque\n"
        "centrale sera agrandie de 40 % d’ici 2029, pour les familles.</em>\n\n"
        "## Les travaux\n\n"
        "1. Une salle pour les jeunes\n"
        "2. Un café\n",
        encoding="utf-8",
    )
    report = import_release([source], target=tmp_path / "r", timezone=TORONTO)
    document = report.documents[0]
    assert document.body == (
        "La Ville annonce que la bibliothèque centrale sera agrandie de 40 % d’ici 2029, pour"
        " les familles.\n\n## Les travaux\n\n1. Une salle pour les jeunes\n2. Un café\n"
    )
    assert [str(n) for n in document.dropped] == ["tag debris: </em>"]
