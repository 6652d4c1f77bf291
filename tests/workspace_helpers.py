"""Build whole workspaces (distrib.toml, lists, releases/) in a temporary folder."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

from campaign_helpers import RELEASE_EN, RELEASE_FR

# A French newsroom export with beats, regions and tags (cp1252, ';').
FRENCH_CSV = (
    "Courriel;Prénom;Nom;Média;Langue;Rubrique;Région;Étiquettes\n"
    "zoe@fleuve.example;Zoé;Bélanger;Le Fleuve;Français;Culture;Montréal;arts, vip\n"  # 2
    "marc@fleuve.example;Marc;Tremblay;Le Fleuve;fr;Politique;Québec;\n"  # 3
    "lea@estrie.example;Léa;Roy;La Voix de l'Estrie;fr;CULTURE;Estrie;arts\n"  # 4: case
    "luc@fleuve.example;Luc;Gagnon;Le Fleuve;fr;Économie;Montréal;vip|affaires\n"  # 5
    "anne@estrie.example;Anne;Caron;La Voix de l'Estrie;;Économie;Estrie;\n"  # 6: no language
)

# An English sheet: (address, first, last, outlet, language, beat).
ENGLISH_ROWS = [
    ("sam@river.example", "Sam", "Okafor", "The Daily River", "English", "Culture"),  # 2
    ("mia@river.example", "Mia", "Wilson", "The Daily River", "", "Business"),  # 3: blank
    ("lucas@river.example", "Lucas", "Nguyen", "The Daily River", "Spanish", "Culture"),  # 4
]

#: Wire address -> the language each contact's message is in (the English list says "en").
LANGUAGES = {
    "zoe@fleuve.example": "fr",
    "marc@fleuve.example": "fr",
    "lea@estrie.example": "fr",
    "luc@fleuve.example": "fr",
    "anne@estrie.example": "fr",
    "sam@river.example": "en",
    "mia@river.example": "en",
    "lucas@river.example": "en",
}
CULTURE = {"zoe@fleuve.example", "lea@estrie.example", "sam@river.example", "lucas@river.example"}

FIRST, SECOND = "2027-01-premier", "2027-02-second"


@dataclass
class WorkspaceFiles:
    """Paths of a workspace written by `write_workspace`."""

    root: Path
    file: Path
    log: Path

    def release(self, slug: str) -> Path:
        return self.root / "releases" / slug


def write_release(folder: Path, *, settings: str = "", marker: str = "") -> Path:
    """Write a bilingual release (``marker`` ends each subject, to tell releases apart)."""
    folder.mkdir(parents=True)
    fr = re.sub(r"(?m)^(subject: .*)$", rf"\1{marker}", RELEASE_FR, count=1)
    en = re.sub(r"(?m)^(subject: .*)$", rf"\1{marker}", RELEASE_EN, count=1)
    (folder / "fr.md").write_text(fr, encoding="utf-8")
    (folder / "en.md").write_text(en, encoding="utf-8")
    if settings:
        (folder / "release.toml").write_text(settings, encoding="utf-8")
    return folder


def write_workspace(
    root: Path, *, port: int, extra: str = "", english_language: str | None = "en"
) -> WorkspaceFiles:
    """Write a workspace with two lists and two releases, sending to 127.0.0.1:``port``."""
    root.mkdir(parents=True)
    (root / "medias.csv").write_bytes(FRENCH_CSV.encode("cp1252"))
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "First Name", "Last Name", "Outlet", "Language", "Beat"])
    for row in ENGLISH_ROWS:
        sheet.append(list(row))
    book.save(root / "english.xlsx")
    language = f'language = "{english_language}"\n' if english_language else ""
    (root / "distrib.toml").write_text(
        f"""default_language = "fr"
timezone = "America/Toronto"
{extra}
[[sources]]
path = "medias.csv"

[[sources]]
path = "english.xlsx"
name = "English media"
{language}
[sender]
name = "Service de presse"
address = "presse@quais.example"
organisation = "Coopérative des Quais"
postal_address = "10, rue du Port, Montréal (Québec)  H2X 1A1"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout = 5
data_timeout = 5

[limits]
rate = 0
connections = 2

[segments.culture]
include = {{ rubrique = "Culture" }}
""",
        encoding="utf-8",
    )
    write_release(root / "releases" / FIRST, marker=" (1)")
    write_release(root / "releases" / SECOND, marker=" (2)")
    return WorkspaceFiles(root, root / "distrib.toml", root / "distrib-log.sqlite")
