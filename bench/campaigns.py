"""Synthetic but realistic campaigns for the benchmarks: three messy media lists (French,
English, partners; duplicates across them, a few bad rows, a suppression list), French, English
and bilingual journalists across a few hundred outlets and domains, the example templates (with
their per-outlet override) and a release sized so that messages weigh about 5–10 KB.

    .venv/bin/python -m bench.campaigns FOLDER --recipients 20000 --port 2525

Everything is fictional; every domain is under ``.example``.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

FIRST_FR = [
    "Zoé",
    "Hélène",
    "François",
    "Élodie",
    "Marc-André",
    "Geneviève",
    "Stéphane",
    "Noémie",
    "Jérôme",
    "Anaïs",
    "Benoît",
    "Chloé",
    "Rémi",
    "Maëlle",
    "Théo",
    "Léa",
    "Frédérique",
    "Mathieu",
    "Josée",
    "Étienne",
    "Gaëlle",
    "Luc",
    "Sophie",
    "Hugo",
]
LAST_FR = [
    "Tremblay",
    "Gagnon",
    "Côté",
    "Bélanger",
    "Lévesque",
    "Bouchard",
    "Gauthier",
    "Ouellet",
    "Pelletier",
    "Bergeron",
    "Lefebvre",
    "Dufour",
    "Fortin",
    "Després",
    "Lapointe",
    "Thériault",
    "Desrosiers",
    "Séguin",
    "Marchand-Dufour",
    "Ostiguy",
]
FIRST_EN = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "William",
    "Sophia",
    "James",
    "Amelia",
    "Benjamin",
    "Harper",
    "Lucas",
    "Evelyn",
    "Henry",
    "Abigail",
    "Samuel",
    "Priya",
    "Kwame",
    "Aoife",
    "Mei",
    "Siobhan",
    "Rafael",
    "Ingrid",
    "Tariq",
]
LAST_EN = [
    "Smith",
    "Clarke",
    "Walsh",
    "O'Brien",
    "MacDonald",
    "Okafor",
    "Nguyen",
    "Singh",
    "Campbell",
    "Thompson",
    "Wright",
    "Fraser",
    "Kowalski",
    "Murphy",
    "Patel",
    "Reid",
]
PLACES = [
    "Fleuve",
    "Estrie",
    "Outaouais",
    "Laurentides",
    "Mauricie",
    "Gaspésie",
    "Saguenay",
    "Beauce",
    "Montérégie",
    "Lanaudière",
    "Charlevoix",
    "Abitibi",
    "Côte-Nord",
    "Bas-Saint-Laurent",
    "Vallée",
    "Pointe",
    "Rive-Sud",
    "Plateau",
    "Harbour",
    "Valley",
    "Capital",
    "Lakeshore",
    "Westmount",
    "Island",
    "Northshore",
    "Riverside",
    "Eastend",
    "Bay",
]
FR_KINDS = [
    "Le Courrier",
    "La Voix",
    "L'Écho",
    "Le Journal",
    "Radio",
    "Télé",
    "La Tribune",
    "Le Quotidien",
    "L'Hebdo",
    "Info",
]
EN_KINDS = [
    "The {} Herald",
    "The {} Gazette",
    "{} Radio",
    "{} Today",
    "The {} Ledger",
    "{} Weekly",
    "The {} Chronicle",
    "{} News",
]
BEATS_FR = ["Économie", "Culture", "Politique", "Société", "Affaires municipales", "Commerce"]
BEATS_EN = ["Business", "Arts", "City hall", "Politics", "Retail", "Features"]
FREELANCE_DOMAINS = [
    "courriel.example",
    "pigistes.example",
    "mailbox.example",
    "journalistes-independants.example",
    "freelance.example",
]
LANG_FR = ["Français", "FR", "fr-CA", "fr", "French (Canada)"]
LANG_EN = ["English", "EN", "en-CA", "anglais"]
LANG_BOTH = ["Bilingue", "fr, en", "FR/EN"]


def release_fr(paragraphs: int) -> str:
    body = "\n\n".join(
        f"Paragraphe {i + 1}. La Société de développement des Quais-de-l’Est (SDQE) précise que"
        " les commerçants du secteur pourront s’inscrire au programme « Vitrines d’hiver » dès"
        " le 15 novembre ; les travaux d’éclairage débuteront le 1er décembre, et un marché"
        " hebdomadaire s’installera place des Quais chaque samedi jusqu’en mars."
        for i in range(paragraphs)
    )
    return f"""---
title: Les Quais-de-l’Est lancent « Vitrines d’hiver », 320 000 $ pour animer leurs rues
subject: "Vitrines d’hiver : 320 000 $ pour nos rues"
dateline: MONTRÉAL, le 4 novembre 2027 –
summary: La SDQE investit 320 000 $ pour que ses rues commerciales restent animées tout l’hiver.
---
{body}

« Une rue animée, c’est une rue où l’on revient », affirme Noémie Thériault, présidente.

### À propos de la SDQE

La Société de développement des Quais-de-l’Est regroupe 180 commerces de l’est de Montréal.

– 30 –

**Renseignements :** Étienne Séguin, 514 555-0188, <medias@sdqe.example>
"""


def release_en(paragraphs: int) -> str:
    body = "\n\n".join(
        f"Paragraph {i + 1}. The East Quays Development Corporation (EQDC) says merchants can"
        " sign up for the “Winter Windows” program from November 15; lighting work starts on"
        " December 1, and a weekly market will open on Quays Square every Saturday until March."
        for i in range(paragraphs)
    )
    return f"""---
title: East Quays launches “Winter Windows”, $320,000 to keep its streets lively
subject: "Winter Windows: $320,000 for our streets"
dateline: MONTRÉAL, November 4, 2027 –
summary: The EQDC invests $320,000 to keep its shopping streets lively all winter.
---
{body}

“A lively street is a street people come back to,” says Noémie Thériault, president.

### About the EQDC

The East Quays Development Corporation brings together 180 businesses in east Montréal.

-30-

**Media inquiries:** Étienne Séguin, 514 555-0188, <medias@sdqe.example>
"""


@dataclass(frozen=True)
class Person:
    email: str
    first: str
    last: str
    outlet: str
    language: str  # as written in the list
    beat: str


def _outlets(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(name, domain) of ``count`` outlets, French and English."""
    found: dict[str, str] = {}
    while len(found) < count:
        place = rng.choice(PLACES)
        if rng.random() < 0.55:
            name = f"{rng.choice(FR_KINDS)} {'de la' if rng.random() < 0.5 else 'du'} {place}"
        else:
            name = rng.choice(EN_KINDS).format(place)
        name += "" if len(found) < len(PLACES) * 2 else f" {len(found)}"
        slug = "".join(c for c in name.lower() if c.isascii() and c.isalnum())
        found.setdefault(name, f"{slug}.example")
    return list(found.items())


def people(recipients: int, seed: int = 7) -> list[Person]:
    """``recipients`` distinct journalists: 50 % French, 35 % English, 15 % bilingual."""
    rng = random.Random(seed)
    outlets = _outlets(rng, max(20, min(400, recipients // 40)))
    # Three outlets of the example's outlets sheet and its per-outlet templates.
    outlets[:4] = [("Radio Boréale", "radioboreale.example"),
                   ("Le Courrier du Fleuve", "courrierdufleuve.example"),
                   ("Valley Tribune", "valleytribune.example"),
                   ("The Harbour Herald", "harbourherald.example")]  # fmt: skip
    found: list[Person] = []
    for i in range(recipients):
        roll = rng.random()
        french = roll < 0.5
        language = rng.choice(LANG_FR if french else LANG_EN if roll < 0.85 else LANG_BOTH)
        first = rng.choice(FIRST_FR if french else FIRST_EN)
        last = rng.choice(LAST_FR if french else LAST_EN)
        outlet, domain = outlets[i % len(outlets)]
        if rng.random() < 0.08:
            outlet, domain = "", rng.choice(FREELANCE_DOMAINS)
        local = "".join(c for c in f"{first}.{last}".lower() if c.isascii() and c not in " '")
        beat = rng.choice(BEATS_FR if french else BEATS_EN)
        found.append(Person(f"{local}.{i}@{domain}", first, last, outlet, language, beat))
    return found


def write_campaign(
    folder: Path,
    recipients: int,
    *,
    port: int,
    connections: int = 16,
    rate: float = 0.0,
    burst: int = 1,
    paragraphs: int = 2,
    log: Path | None = None,
) -> Path:
    """Write a campaign for ``recipients`` messages sending to 127.0.0.1:``port``; return the
    campaign file.  ``paragraphs`` sizes the release (2: messages of about 5–10 KB)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(recipients)
    everyone = people(recipients)
    (folder / "release").mkdir(exist_ok=True)
    (folder / "release" / "fr.md").write_text(release_fr(paragraphs), encoding="utf-8")
    (folder / "release" / "en.md").write_text(release_en(paragraphs), encoding="utf-8")
    templates = folder / "templates"
    if not templates.exists():
        shutil.copytree(REPO / "example" / "templates", templates)
    shutil.copy(REPO / "example" / "outlets.csv", folder / "outlets.csv")
    first, second = int(recipients * 0.6), int(recipients * 0.9)
    french, english, partners = everyone[:first], everyone[first:second], everyone[second:]
    # About 3 % of the people are in two lists (the earlier list wins), 0.5 % of rows are bad.
    dupes = rng.sample(everyone[:second], k=min(second, recipients * 3 // 100))
    with (folder / "medias-quebec.csv").open("w", encoding="cp1252", errors="replace",
                                             newline="") as out:  # fmt: skip
        rows = csv.writer(out, delimiter=";")
        rows.writerow(["Courriel", "Prénom", "Nom", "Média", "Langue", "Rubrique"])
        for i, p in enumerate(french):
            rows.writerow([p.email, p.first, p.last, p.outlet, p.language, p.beat])
            if i % 200 == 199:
                rows.writerow([f"invalide{i}@@courriel.example", "X", "Y", "", "fr", ""])
    with (folder / "english-media.csv").open("w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["Email", "First Name", "Last Name", "Outlet", "Language", "Beat"])
        for i, p in enumerate([*english, *dupes[: len(dupes) // 2]]):
            rows.writerow([p.email.upper() if i % 7 == 0 else p.email, p.first, p.last,
                           p.outlet, p.language, p.beat])  # fmt: skip
            if i % 200 == 199:
                rows.writerow([f"no-domain{i}@capitalledger", "A", "B", "", "en", ""])
    with (folder / "partenaires.csv").open("w", encoding="utf-8-sig", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["E-mail", "Nom complet", "Organisation", "Langue", "Ville"])
        for p in [*partners, *dupes[len(dupes) // 2 :]]:
            rows.writerow([p.email, f"{p.first} {p.last}", p.outlet, p.language, "Montréal"])
    suppressed = [f"desabonne{i}@courriel.example" for i in range(max(1, recipients // 500))]
    (folder / "desabonnements.csv").write_text(
        "courriel\n" + "".join(f"{a}\n" for a in suppressed), encoding="utf-8"
    )
    campaign = folder / "campaign.toml"
    log_line = f'log = "{log}"\n' if log is not None else ""
    campaign.write_text(
        f"""name = "bench-{recipients}"
release = "release"
templates = "templates"
outlets = "outlets.csv"
default_language = "fr"
bilingual_order = ["fr", "en"]
sources = [
    {{ path = "medias-quebec.csv", encoding = "cp1252", delimiter = ";" }},
    "english-media.csv",
    "partenaires.csv",
]
suppression = ["desabonnements.csv"]
{log_line}
[sender]
name = "Service de presse SDQE"
address = "presse@sdqe.example"
reply_to = "medias@sdqe.example"
organisation = "Société de développement des Quais-de-l’Est"
postal_address = "400, rue des Quais, Montréal (Québec)  H1Z 1A1"
contact = "514 555-0188"
website = "https://sdqe.example"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"

[limits]
rate = {rate}
burst = {burst}
connections = {connections}
messages_per_connection = 0
""",
        encoding="utf-8",
    )
    return campaign


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(write_campaign(args.folder, args.recipients, port=args.port,
                         connections=args.connections))  # fmt: skip


if __name__ == "__main__":
    main()
