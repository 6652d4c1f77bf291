"""Build whole campaigns in a temporary folder for end-to-end tests of the CLI and pipeline."""

from __future__ import annotations

import email
import email.policy
import shutil
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from openpyxl import Workbook

REPO = Path(__file__).resolve().parents[1]

RELEASE_FR = """---
title: La Coopérative des Quais ouvre un atelier
subject: Communiqué – La Coopérative des Quais ouvre un atelier
dateline: MONTRÉAL, le 2 février 2027 –
---
La Coopérative des Quais ouvre aujourd'hui un atelier de réparation de vélos.

– 30 –
"""

RELEASE_EN = """---
title: Quays Co-op opens a workshop
subject: News release – Quays Co-op opens a workshop
dateline: MONTRÉAL, February 2, 2027 –
---
The Quays Co-op opens a bicycle repair workshop today.

-30-
"""

# A French newsroom export: cp1252, ';', French headers, messy on purpose.
FRENCH_CSV = (
    "Courriel;Prénom;Nom;Média;Langue\n"
    "zoe.belanger@fleuve.example;Zoé;Bélanger;Le Fleuve;Français\n"  # 2: ok fr
    "  Marc.Tremblay@Fleuve.example ;Marc;Tremblay;Le Fleuve;fr-CA\n"  # 3: ok, spaces + case
    "pas-une-adresse@;Anne;Roy;Radio Est;FR\n"  # 4: rejected
    ";;;;\n"  # 5: blank
    "desabonne@fleuve.example;Luc;Gagnon;Le Fleuve;fr\n"  # 6: suppressed
    'alice@quotidien.example;<img src=x onerror=alert(1)>;{{ 7*7 }};=HYPERLINK("x");anglais\n'
)

# (address, first, last, outlet, language) rows of the English sheet.
ENGLISH_ROWS = [
    ("sam.okafor@river.example", "Sam", "Okafor", "The Daily River", "English"),
    ("ZOE.BELANGER@fleuve.example", "Zoe", "B", "Other", "EN"),  # duplicate of the CSV's row 2
    ("evil@river.example", "Eve\r\nBcc: victim@target.example", "X", "River", "en"),  # rejected
    ("DESABONNE+press@Fleuve.example", "Luc", "G", "Le Fleuve", "fr"),  # suppressed (+tag)
    ("noemie@river.example", "Noémie", "", "The Daily River", ""),  # no language: default fr
]

SUPPRESSION = "courriel\n  Desabonne@fleuve.EXAMPLE \n"

#: Who must receive what: wire address -> language.
EXPECTED = {
    "zoe.belanger@fleuve.example": "fr",
    "Marc.Tremblay@fleuve.example": "fr",
    "alice@quotidien.example": "en",
    "sam.okafor@river.example": "en",
    "noemie@river.example": "fr",
}
NEVER = ("pas-une-adresse@", "desabonne@fleuve.example", "evil@river.example")


@dataclass
class CampaignFiles:
    """Paths of a campaign written by `write_campaign`."""

    folder: Path
    campaign: Path
    log: Path


def write_campaign(
    folder: Path,
    *,
    port: int,
    host: str = "127.0.0.1",
    extra: str = "",
    smtp_extra: str = "",
    templates: Path | None = None,
) -> CampaignFiles:
    """Write a bilingual campaign with messy lists, sending to ``host:port`` without TLS."""
    (folder / "release").mkdir(parents=True)
    (folder / "release" / "fr.md").write_text(RELEASE_FR, encoding="utf-8")
    (folder / "release" / "en.md").write_text(RELEASE_EN, encoding="utf-8")
    (folder / "medias.csv").write_bytes(FRENCH_CSV.encode("cp1252"))
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "First Name", "Last Name", "Outlet", "Language"])
    for row in ENGLISH_ROWS:
        sheet.append(list(row))
    book.save(folder / "english.xlsx")
    (folder / "suppression.csv").write_text(SUPPRESSION, encoding="utf-8")
    if templates is None:
        templates = folder / "templates"
        shutil.copytree(REPO / "templates", templates)
    campaign = folder / "campaign.toml"
    campaign.write_text(
        f"""name = "quays"
release = "release"
templates = "{templates}"
default_language = "fr"
sources = ["medias.csv", "english.xlsx"]
suppression = ["suppression.csv"]
{extra}
[sender]
name = "Service de presse"
address = "presse@quais.example"
reply_to = "medias@quais.example"
organisation = "Coopérative des Quais"
postal_address = "10, rue du Port, Montréal (Québec)  H2X 1A1"

[smtp]
host = "{host}"
port = {port}
security = "none"
timeout = 5
data_timeout = 5
{smtp_extra}
[limits]
rate = 0
connections = 2
retry_delay = 0.01
max_retry_delay = 0.05
""",
        encoding="utf-8",
    )
    return CampaignFiles(folder, campaign, folder / "distrib-log.sqlite")


def parse(data: bytes) -> EmailMessage:
    """Parse received bytes with the standard library."""
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts(message: EmailMessage) -> tuple[str, str]:
    """Return the decoded (text, html) parts of a multipart/alternative message."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())
