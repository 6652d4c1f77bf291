"""Rendering speed: complete messages (bytes ready for SMTP) per second on one core.

    .venv/bin/python bench/render.py [--contacts 5000] [--repeat 3]

Renders the example release with the built-in templates for a synthetic audience (French,
English and bilingual contacts, a few outlets with overrides), the way `distrib send` does:
one `Renderer`, then `Renderer.render` per contact.  Prints the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from distrib.config import Campaign
from distrib.contacts.model import Contact
from distrib.release import load_release
from distrib.render import Renderer, make_message_id

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = ("fr", "en", "both")


def campaign(folder: Path) -> Campaign:
    """Return a campaign over the example release and templates, in ``folder``."""
    shutil.copytree(REPO / "example" / "release", folder / "release")
    (folder / "contacts.csv").write_text("email\nx@y.example\n", encoding="utf-8")
    return Campaign.model_validate(
        {
            "file": folder / "campaign.toml",
            "name": "bench",
            "release": "release",
            "templates": str(REPO / "example" / "templates"),
            "outlets": str(REPO / "example" / "outlets.csv"),
            "sources": ["contacts.csv"],
            "sender": {
                "name": "Service de presse AGAPC",
                "address": "presse@agapc.example",
                "organisation": "Association des gens d'affaires de la Pointe-aux-Cèdres",
                "postal_address": "1200, rue des Cèdres, Montréal (Québec)  H9Z 1A1",
                "unsubscribe_url": "https://agapc.example/desabonnement",
            },
        },
        context={"base": folder},
    )


def contacts(count: int) -> list[Contact]:
    """Return ``count`` synthetic contacts spread over languages and outlets."""
    outlets = [
        "Le Courrier du Fleuve",
        "The Harbour Herald",
        "Radio Boréale",
        "La Voix de l'Estrie",
    ]
    people = []
    for i in range(count):
        outlet = outlets[i % len(outlets)]
        address = f"journaliste{i}@media{i % 97}.example"
        people.append(
            Contact(
                email=address,
                address=address,
                key=address,
                language=LANGUAGES[i % 3],  # type: ignore[arg-type]
                first_name=f"Zoé{i}",
                last_name="Bélanger",
                outlet=outlet,
                outlet_slug=outlet.lower().replace(" ", "-").replace("'", "-").replace("é", "e"),
                fields={"beat": "Économie", "email": address},
            )
        )
    return people


def main() -> None:
    """Run the benchmark and print messages per second."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import os

    os.environ.setdefault("DISTRIB_UNSUBSCRIBE_SECRET", "bench-secret-0123456789")
    with tempfile.TemporaryDirectory() as tmp:
        built = campaign(Path(tmp))
        start = time.perf_counter()
        renderer = Renderer(built, load_release(built))
        setup = time.perf_counter() - start
        people = contacts(args.contacts)
        ids = [make_message_id("bench", c.key, "agapc.example") for c in people]
        best = float("inf")
        size = 0
        for _ in range(args.repeat):
            start = time.perf_counter()
            size = 0
            for person, message_id in zip(people, ids, strict=True):
                size += renderer.render(person, message_id=message_id).size
            best = min(best, time.perf_counter() - start)
    rate = args.contacts / best
    print(f"renderer setup: {setup * 1000:.0f} ms (templates compiled, CSS inlined once)")
    print(
        f"{args.contacts} messages in {best:.2f} s: {rate:,.0f} messages/s,"
        f" {best / args.contacts * 1e6:.0f} µs each, {size / args.contacts / 1000:.1f} KB average"
    )


if __name__ == "__main__":
    main()
