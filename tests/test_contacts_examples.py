"""The example media lists in lists/, loaded through a real campaign file."""

from __future__ import annotations

from pathlib import Path

import pytest

from distrib.config import load_campaign
from distrib.contacts import ContactBook, load_contacts

LISTS = Path(__file__).resolve().parent.parent / "lists"
SOURCES = ("medias-quebec.csv", "english-media.xlsx", "partenaires.csv")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> ContactBook:
    folder = tmp_path_factory.mktemp("campaign")
    (folder / "release").mkdir()
    sources = ", ".join(f'"{(LISTS / name).as_posix()}"' for name in SOURCES)
    (folder / "campaign.toml").write_text(
        f"""
name = "Exemple"
release = "release"
default_language = "fr"
sources = [{sources}]
suppression = ["{(LISTS / "desabonnements.csv").as_posix()}"]

[sender]
name = "Service de presse"
address = "presse@organisme.example"
organisation = "Organisme exemple"
postal_address = "1 rue Exemple, Québec QC"
""",
        encoding="utf-8",
    )
    return load_contacts(load_campaign(folder / "campaign.toml"))


def test_counts_per_file(book: ContactBook) -> None:
    summary = {
        Path(s.path).name: (
            s.rows,
            s.accepted,
            s.duplicates,
            s.rejected,
            s.suppressed,
            s.blank_rows,
        )
        for s in book.sources
    }
    assert summary == {
        "medias-quebec.csv": (23, 20, 1, 1, 1, 1),
        "english-media.xlsx": (16, 13, 1, 1, 1, 1),
        "partenaires.csv": (13, 8, 2, 3, 0, 0),
    }
    assert len(book.contacts) == 41
    assert book.adds_up


def test_detected_formats(book: ContactBook) -> None:
    detected = [(s.encoding, s.delimiter, s.sheet) for s in book.sources]
    assert detected == [
        ("cp1252", ";", None),
        (None, None, "Media list"),
        ("utf-8-sig", ",", None),
    ]


def test_the_deliberate_mess(book: ContactBook) -> None:
    by_key = {c.key: c for c in book.contacts}
    assert by_key["zoe.gagnon@courrierdufleuve.example"].fields["phone"] == "0612345678"
    martin = by_key["martin.cote@radioboreale.example"]
    assert (martin.email, martin.address) == (
        "Martin.Cote@RadioBoreale.Example",
        "Martin.Cote@radioboreale.example",
    )
    genevieve = by_key["genevieve.roy@echodelaval.example"]
    assert genevieve.language == "fr"  # blank in the French list, filled from the sheet
    assert genevieve.fields["beat"] == "Municipal"  # the French list wins where it has a value
    assert [Path(loc.path).name for loc in genevieve.sources] == [
        "medias-quebec.csv",
        "english-media.xlsx",
    ]
    jp = by_key["jp.cote@collectifmedias.example"]
    assert (jp.first_name, jp.last_name) == ("Jean-Philippe", "Côté")
    assert by_key["emilie.poirier@courrierdufleuve.example"].fields["beat"] == "NA"
    codes = sorted(p.code for p in book.rejected)
    assert codes == [
        "blank-address",
        "control-character",
        "invalid-address",
        "invalid-address",
        "invalid-address",
    ]
    suppressed = [(Path(p.where.path).name, p.where.row) for p in book.suppressed if p.where]
    assert suppressed == [("medias-quebec.csv", 19), ("english-media.xlsx", 3)]
    language = sorted(w.code for w in book.warnings if w.code.startswith("language"))
    assert language == ["language-missing"] * 2 + ["language-unknown"]
    assert sum(c.language == "both" for c in book.contacts) == 2  # bilingual: one message each


def test_the_conflict_and_the_domain_entry(book: ContactBook) -> None:
    # Zoé is "Français" in the French list and "EN" in the partners' list: the first is kept.
    (conflict,) = book.conflicts
    assert (Path(conflict.where.path).name if conflict.where else None, conflict.code) == (
        "partenaires.csv",
        "conflict-language",
    )
    assert "language 'EN' differs from 'Français'" in conflict.message
    by_key = {c.key: c for c in book.contacts}
    assert by_key["zoe.gagnon@courrierdufleuve.example"].language == "fr"
    # "*@journalferme.example" is read as a whole-domain entry, not a bad address.
    assert not [w for w in book.warnings if w.code == "suppression-entry"]


def test_the_vcard_example() -> None:
    from distrib.config import SourceConfig
    from distrib.contacts import read_contacts

    book = read_contacts([SourceConfig(path=LISTS / "carnet-presse.vcf")])
    assert [c.address for c in book.contacts] == [
        "amelie.dufour@radiofleuve.example",
        "owen.price@harbourherald.example",
    ]
    assert [c.language for c in book.contacts] == ["fr", "en"]
    assert book.contacts[0].fields["other_emails"] == "amelie@maison.example"
    (rejected,) = book.rejected
    assert (rejected.where.row if rejected.where else None, rejected.code) == (21, "blank-address")
