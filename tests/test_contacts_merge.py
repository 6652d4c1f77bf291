"""Validation, deduplication, suppression and accounting across sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from contacts_helpers import load, write_csv, write_xlsx
from distrib.contacts import ContactBook, load_suppression
from distrib.errors import ContactsError

FR = ["Courriel", "Prénom", "Nom", "Média", "Langue", "Rubrique"]
EN = ["Email", "First name", "Last name", "Outlet", "Language", "Beat"]


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def counts(book: ContactBook) -> list[tuple[int, int, int, int, int]]:
    """Return (rows, accepted, duplicates, rejected, suppressed) per source."""
    return [(s.rows, s.accepted, s.duplicates, s.rejected, s.suppressed) for s in book.sources]


def test_invalid_addresses_are_rejected_with_file_row_column(tmp_path: Path) -> None:
    rows = [
        FR,
        ["a@@b.example", "A", "", "", "", ""],
        ["a@b", "B", "", "", "", ""],
        ["", "C", "", "", "", ""],
        ["x@y.example.", "D", "", "", "", ""],
        ['"a@b.example; c@d.example"', "E", "", "", "", ""],
        ["ok@b.example", "F", "", "", "", ""],
    ]
    book = load(write_csv(tmp_path / "l.csv", rows))
    assert [c.first_name for c in book.contacts] == ["F"]
    assert [(str(p.where), p.code) for p in book.rejected] == [
        ("l.csv:2:Courriel", "invalid-address"),
        ("l.csv:3:Courriel", "invalid-address"),
        ("l.csv:4:Courriel", "blank-address"),
        ("l.csv:5:Courriel", "invalid-address"),
        ("l.csv:6:Courriel", "invalid-address"),
    ]
    messages = [p.message for p in book.rejected]
    assert messages[0].startswith("'a@@b.example' in column Courriel: not a valid address (")
    assert messages[2] == "no address in column Courriel"
    assert "two addresses in one cell" in messages[4]
    assert str(book.rejected[1]).startswith("l.csv:3:Courriel: 'a@b' in column Courriel:")


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (2, '"Jean\nLuc"', "line feed (LF) in column Nom"),
        (1, '"Jean\rLuc"', "carriage return (CR) in column Prénom"),
        (3, "Le\tDevoir", "tab in column Média"),
        (3, "Le\x00Devoir", "NUL in column Média"),
        (2, "Roy\u2028Bcc: x@evil.example", "line separator (U+2028) in column Nom"),
    ],
)
def test_control_characters_in_identity_fields_are_rejected(
    tmp_path: Path, column: int, value: str, reason: str
) -> None:
    row = ["a@b.example", "Luc", "Roy", "Le Devoir", "fr", '"Notes\nsur deux lignes"']
    row[column] = value
    path = write_csv(
        tmp_path / "l.csv", [FR, row, ["b@b.example", "", "", "", "", ""]], delimiter=";"
    )
    book = load(path)
    assert [c.address for c in book.contacts] == ["b@b.example"]
    (problem,) = book.rejected
    assert (problem.code, problem.message) == ("control-character", reason)


def test_line_break_in_a_non_identity_field_is_kept(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["Courriel", "Notes"], ["a@b.example", '"deux\nlignes"']])
    (contact,) = load(path).contacts
    assert contact.fields["notes"] == "deux\nlignes"


def test_text_is_nfc_and_trimmed(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "l.csv", [FR, ["  a@b.example ", " Zoe\u0301 ", "\u00a0Roy", "", "", ""]]
    )
    (contact,) = load(path).contacts
    assert (contact.email, contact.first_name, contact.last_name) == ("a@b.example", "Zoé", "Roy")


def test_earliest_source_then_row_wins_and_blanks_are_filled(tmp_path: Path) -> None:
    first = write_csv(
        tmp_path / "fr.csv",
        [FR, ["Zoe@Courrier.example", "Zoé", "", "Le Courrier", "", ""],
         ["zoe@courrier.example ", "Zoey", "Gagnon", "Autre", "", "Culture"]],
    )  # fmt: skip
    second = write_xlsx(
        tmp_path / "en.xlsx",
        [EN, ["ZOE@COURRIER.EXAMPLE", "Z", "G", "Other", "English", "Arts"]],
    )
    book = load(first, second)
    (zoe,) = book.contacts
    assert zoe.email == "Zoe@Courrier.example"  # as written in the winning row
    assert zoe.address == "Zoe@courrier.example"
    assert (zoe.first_name, zoe.last_name, zoe.outlet) == ("Zoé", "Gagnon", "Le Courrier")
    assert zoe.fields["beat"] == "Culture"
    assert zoe.language == "en"  # blank in both French rows, filled from the sheet
    assert counts(book) == [(2, 1, 1, 0, 0), (1, 0, 1, 0, 0)]
    assert [str(loc) for loc in zoe.sources] == ["fr.csv:2", "fr.csv:3", "en.xlsx:Feuil1:2"]
    assert [(str(p.where), p.code) for p in book.duplicates] == [
        ("fr.csv:3:Courriel", "duplicate"),
        ("en.xlsx:Feuil1:2:Email", "duplicate"),
    ]
    assert "duplicates fr.csv:2" in book.duplicates[1].message


def test_order_of_sources_decides_the_winner(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [["Email", "Outlet"], ["x@y.example", "A"]])
    b = write_csv(tmp_path / "b.csv", [["Email", "Outlet"], ["X@Y.example", "B"]])
    assert [c.outlet for c in load(a, b).contacts] == ["A"]
    assert [c.outlet for c in load(b, a).contacts] == ["B"]


def test_rejected_row_does_not_win(tmp_path: Path) -> None:
    rows = [
        FR,
        ["a@b.example", "Jean\x00", "", "", "", ""],
        ["A@b.example", "Jean", "", "", "", ""],
    ]
    book = load(write_csv(tmp_path / "l.csv", rows))
    assert [c.sources[0].row for c in book.contacts] == [3]
    assert counts(book) == [(2, 1, 0, 1, 0)]


def test_languages_default_with_a_warning_per_contact(tmp_path: Path) -> None:
    rows = [
        FR,
        ["a@b.example", "", "", "", "", ""],
        ["c@b.example", "", "", "", "Espagnol", ""],
        ["d@b.example", "", "", "", "Bilingue", ""],
        ["e@b.example", "", "", "", "English", ""],
    ]
    book = load(write_csv(tmp_path / "l.csv", rows), default_language="en")
    # A bilingual contact keeps "both" (one message in both languages), without a warning.
    assert [c.language for c in book.contacts] == ["en", "en", "both", "en"]
    assert [(str(w.where), w.code) for w in book.warnings] == [
        ("l.csv:2:Langue", "language-missing"),
        ("l.csv:3:Langue", "language-unknown"),
    ]
    assert book.warnings[1].message == "unknown language 'Espagnol': using 'en'"


def test_outlet_slug(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "l.csv", [["Courriel", "Média"], ["a@b.example", "Le Courrier du Fleuve"]]
    )
    assert load(path).contacts[0].outlet_slug == "le-courrier-du-fleuve"


@pytest.mark.parametrize(
    "entry",
    [
        "jean@exemple.example",
        "JEAN@Exemple.EXAMPLE",
        "   jean@exemple.example   ",
        "jean+newsletter@exemple.example",
    ],
)
def test_suppression_variants(tmp_path: Path, entry: str) -> None:
    sources = write_csv(
        tmp_path / "l.csv",
        [FR, ["Jean@exemple.example", "Jean", "", "", "", ""],
         ["jean+presse@exemple.example", "Jean", "", "", "", ""],
         ["autre@exemple.example", "Autre", "", "", "", ""]],
    )  # fmt: skip
    suppression = write_csv(tmp_path / "stop.csv", [["Courriel"], [f'"{entry}"']])
    book = load(sources, suppression=[suppression])
    assert [c.address for c in book.contacts] == ["autre@exemple.example"]
    assert counts(book) == [(3, 1, 0, 0, 2)]
    assert [str(p.where) for p in book.suppressed] == ["l.csv:2:Courriel", "l.csv:3:Courriel"]
    assert "is on a suppression list (stop.csv:2:Courriel)" in book.suppressed[0].message
    assert book.adds_up


def test_suppression_counts_in_every_source(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [["Email"], ["x@y.example"], ["X@y.example"]])
    b = write_xlsx(tmp_path / "b.xlsx", [["Email"], ["x@Y.example"], ["z@y.example"]])
    stop = tmp_path / "stop.txt"
    stop.write_text("# unsubscribed\n\n X@Y.EXAMPLE \n", encoding="utf-8")
    book = load(a, b, suppression=[stop])
    assert counts(book) == [(2, 0, 0, 0, 2), (2, 1, 0, 0, 1)]
    assert "(stop.txt:3)" in book.suppressed[0].message


def test_suppression_list_formats(tmp_path: Path) -> None:
    xlsx = write_xlsx(tmp_path / "s.xlsx", [["Nom", "E-mail"], ["Roy", "a@b.example"]])
    bare = write_csv(tmp_path / "bare.csv", [["c@d.example"], ["e@f.example"]])
    text = tmp_path / "s.txt"
    text.write_text("g@h.example\nnot an address\n", encoding="utf-8")
    suppression = load_suppression([xlsx, bare, text])
    keys = set(suppression.keys)
    assert keys == {"a@b.example", "c@d.example", "e@f.example", "g@h.example", "not an address"}
    assert "C@D.example" in suppression
    (warning,) = suppression.warnings
    assert (str(warning.where), warning.code) == ("s.txt:2", "suppression-entry")


def test_unusable_suppression_list(tmp_path: Path) -> None:
    stop = write_csv(tmp_path / "stop.csv", [["Nom", "Ville"], ["Roy", "Laval"]])
    with pytest.raises(ContactsError, match=r"stop\.csv: no address column"):
        load_suppression([stop])


def test_accounting_adds_up_with_every_outcome(tmp_path: Path) -> None:
    rows = [
        FR,
        ["a@b.example", "", "", "", "", ""],
        ["", "", "", "", "", ""],
        ["A@B.example", "", "", "", "", ""],
        ["bad", "", "", "", "", ""],
        ["stop@b.example", "", "", "", "", ""],
        ["", "Sans adresse", "", "", "", ""],
    ]
    stop = tmp_path / "stop.txt"
    stop.write_text("stop@b.example\n", encoding="utf-8")
    book = load(write_csv(tmp_path / "l.csv", rows, delimiter=";"), suppression=[stop])
    (summary,) = book.sources
    assert counts(book) == [(5, 1, 1, 2, 1)]
    assert summary.blank_rows == 1
    assert summary.adds_up and book.adds_up
    assert book.rows == 5
    assert len(book.rejected) == summary.rejected
    assert len(book.duplicates) == summary.duplicates
    assert len(book.suppressed) == summary.suppressed


def test_header_only_source(tmp_path: Path) -> None:
    book = load(write_csv(tmp_path / "l.csv", [FR]))
    assert book.contacts == ()
    assert counts(book) == [(0, 0, 0, 0, 0)]
    assert book.adds_up
