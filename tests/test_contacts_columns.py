"""Header aliases in French and English, overrides, and names of extra template fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from contacts_helpers import load, write_csv
from distrib.config import SourceConfig
from distrib.contacts import field_name, header_key, map_columns


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def fields_of(*headers: str, **overrides: str) -> dict[str, str]:
    """Return {header: field} as `map_columns` decides."""
    mapped = map_columns(list(headers), overrides)
    return {headers[i]: name for i, name in mapped.fields.items()}


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (
            ["Courriel", "Prénom", "Nom", "Média", "Langue", "Rubrique", "Téléphone", "Ville"],
            ["email", "first_name", "last_name", "outlet", "language", "beat", "phone", "city"],
        ),
        (
            ["Email", "First Name", "Last Name", "Outlet", "Language", "Beat", "Phone", "City"],
            ["email", "first_name", "last_name", "outlet", "language", "beat", "phone", "city"],
        ),
        (
            ["Adresse électronique", "Given name", "Surname", "Organe de presse", "Lang", "Poste"],
            ["email", "first_name", "last_name", "outlet", "language", "title"],
        ),
        (
            ["adresse courriel", "Nom de famille", "Publication", "Fonction", "Sujet"],
            ["email", "last_name", "outlet", "title", "beat"],
        ),
        (["Mail", "Nom complet", "Journal", "Titre"], ["email", "full_name", "outlet", "title"]),
        (["E-mail", "Full name", "Organisation"], ["email", "full_name", "outlet"]),
    ],
)
def test_french_and_english_aliases(headers: list[str], expected: list[str]) -> None:
    assert list(fields_of(*headers).values()) == expected


@pytest.mark.parametrize(
    "header", ["COURRIEL", "courriel ", "Adresse Électronique", "ADRESSE_ELECTRONIQUE", "e.mail"]
)
def test_headers_ignore_case_accents_spaces_punctuation(header: str) -> None:
    assert fields_of(header) == {header: "email"}


def test_header_key() -> None:
    assert header_key(" Adresse  électronique ") == header_key("ADRESSE-ELECTRONIQUE")
    assert header_key("Prénom") == "prenom"


def test_nom_means_last_name_beside_a_first_name_else_full_name() -> None:
    assert fields_of("Courriel", "Prénom", "Nom")["Nom"] == "last_name"
    assert fields_of("Courriel", "Nom")["Nom"] == "full_name"
    assert fields_of("Email", "Name")["Name"] == "full_name"


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("Rubrique spéciale", "rubrique_speciale"),
        ("  Notes (internes) ", "notes_internes"),
        ("Cœur de métier", "coeur_de_metier"),
        ("2e contact", "field_2e_contact"),
        ("%%%", ""),
    ],
)
def test_field_name(header: str, name: str) -> None:
    assert field_name(header) == name


def test_extra_columns_get_unique_predictable_names() -> None:
    headers = ["Courriel", "Rubrique spéciale", "", "Email", "Rubrique spéciale", "Langue"]
    assert list(map_columns(headers).fields.values()) == [
        "email",
        "rubrique_speciale",
        "column_3",
        "email_2",
        "rubrique_speciale_2",
        "language",
    ]
    warnings = map_columns(["Courriel", "Email"]).warnings
    assert warnings == (
        "column 'Email' also looks like email; using 'Courriel' and keeping this one as a "
        "template field",
    )


def test_overrides_win_over_aliases() -> None:
    mapped = map_columns(
        ["Courriel", "Adresse pro", "Nom", "Agence"],
        {"adresse PRO": "email", "Agence": "outlet", "Nom": "Rubrique spéciale"},
    )
    assert dict(mapped.fields) == {
        0: "courriel",
        1: "email",
        2: "rubrique_speciale",
        3: "outlet",
    }


def test_override_naming_a_missing_header_is_a_warning() -> None:
    mapped = map_columns(["Courriel"], {"Adresse": "email"})
    assert mapped.fields == {0: "email"}
    assert mapped.warnings == (
        "columns: 'Adresse' is not a header of this file (found: 'Courriel')",
    )


def test_override_makes_an_unknown_column_the_address(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["Contact pro", "Qui"], ["a@b.example", "Luc Roy"]])
    source = SourceConfig(path=path, columns={"Contact pro": "email", "Qui": "full_name"})
    (contact,) = load(source).contacts
    assert (contact.address, contact.first_name, contact.last_name) == ("a@b.example", "Luc", "Roy")


def test_fields_hold_standard_and_extra_columns(tmp_path: Path) -> None:
    rows = [["Courriel", "Prénom", "Rubrique spéciale"], ["a@b.example", "Luc", "Vins"]]
    (contact,) = load(write_csv(tmp_path / "l.csv", rows)).contacts
    assert dict(contact.fields) == {
        "email": "a@b.example",
        "first_name": "Luc",
        "last_name": "",
        "full_name": "",
        "outlet": "",
        "language": "fr",
        "title": "",
        "beat": "",
        "phone": "",
        "city": "",
        "rubrique_speciale": "Vins",
    }


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("Marie Tremblay", "Marie", "Tremblay"),
        ("Jean de la Tour", "Jean", "de la Tour"),
        ("Tremblay, Marie", "Marie", "Tremblay"),
        ("Madonna", "", "Madonna"),
    ],
)
def test_full_name_is_split(tmp_path: Path, full: str, first: str, last: str) -> None:
    path = write_csv(tmp_path / "l.csv", [["Email", "Nom complet"], ["a@b.example", f'"{full}"']])
    (contact,) = load(path).contacts
    assert (contact.first_name, contact.last_name, contact.fields["full_name"]) == (
        first,
        last,
        full,
    )


def test_full_name_is_not_split_beside_name_columns(tmp_path: Path) -> None:
    rows = [["Email", "Nom complet", "Prénom"], ["a@b.example", "Marie Tremblay", "Marie-Ève"]]
    (contact,) = load(write_csv(tmp_path / "l.csv", rows)).contacts
    assert (contact.first_name, contact.last_name) == ("Marie-Ève", "")
