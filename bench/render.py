"""Rendering speed: complete messages (bytes ready for SMTP DATA) per second on one core.

    .venv/bin/python bench/render.py [--contacts 5000] [--reference-contacts 400] [--repeat 5]
                                     [--profile]

Renders the example release with the example templates (built-in ones plus Radio Boréale's
override, the outlets sheet, one-click unsubscribe) for a synthetic audience of French, English
and bilingual journalists across several outlets, the way `distrib send` does: one `Renderer`,
then `Renderer.render` per contact, signing off (no DKIM key).  Each repeat uses a new
`Renderer`, so the skeletons are made again each time (their cost is in the figures).

Both paths run in the same repeat, because this machine is shared and noisy: the fast path
(template skeletons + `MessageWriter`) and the reference path (``Renderer(fast_path=False)``:
Jinja2 and ``EmailMessage`` under ``policy.SMTP`` for every message).  Prints messages/s for
each, min/median/max over the repeats, and the ratio fast ÷ reference within each repeat.
``--profile`` adds a cProfile of one fast run (the top functions by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from distrib.config import Campaign
from distrib.contacts.model import Contact
from distrib.release import Release, load_release
from distrib.render import Renderer, make_message_id

REPO = Path(__file__).resolve().parents[1]
LANGUAGES = ("fr", "en", "both")
OUTLETS = ["Le Courrier du Fleuve", "The Harbour Herald", "Radio Boréale", "La Voix de l'Estrie"]
OUTLETS += ["Valley Tribune", ""]
FIRST_NAMES = ["Zoé", "Marc-André", "Léa", "Thomas", "", "Hélène", "O'Neil", "Nguyễn"]
LAST_NAMES = ["Bélanger", "Tremblay", "Smith", "Côté-Gagnon", "", "Lefebvre"]


def campaign(folder: Path) -> Campaign:
    """Return a campaign over the example release and templates, in ``folder``."""
    shutil.copytree(REPO / "example" / "releases" / "2027-11-hiver-en-vitrine", folder / "release")
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
                "reply_to": "relations.medias@agapc.example",
                "organisation": "Association des gens d'affaires de la Pointe-aux-Cèdres",
                "postal_address": "1200, rue des Cèdres, Montréal (Québec)  H9Z 1A1",
                "unsubscribe_url": "https://agapc.example/desabonnement",
            },
        },
        context={"base": folder},
    )


def slug(outlet: str) -> str:
    """A slug like the contacts stage makes (enough for these names)."""
    table = str.maketrans({"é": "e", "è": "e", "'": "-", " ": "-"})
    return outlet.lower().translate(table)


def contacts(count: int) -> list[Contact]:
    """Return ``count`` synthetic contacts spread over languages, outlets and names."""
    people = []
    for i in range(count):
        outlet = OUTLETS[i % len(OUTLETS)]
        address = f"journaliste{i}@media{i % 97}.example"
        people.append(
            Contact(
                email=address,
                address=address,
                key=address,
                language=LANGUAGES[i % 3],  # type: ignore[arg-type]
                first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                last_name=LAST_NAMES[i % len(LAST_NAMES)],
                outlet=outlet,
                outlet_slug=slug(outlet),
                fields={"beat": "Économie", "email": address} if i % 4 else {"email": address},
            )
        )
    return people


def run(
    built: Campaign, release: Release, people: list[Contact], *, fast: bool
) -> tuple[float, float]:
    """Render everyone with a new `Renderer`; return messages per second of wall-clock time
    and per second of this process's CPU time (what other programs on the machine take
    from it is not counted)."""
    renderer = Renderer(built, release, fast_path=fast)
    ids = [make_message_id("bench", c.key, "agapc.example") for c in people]
    start, start_cpu = time.perf_counter(), time.process_time()
    for person, message_id in zip(people, ids, strict=True):
        renderer.render(person, message_id=message_id)
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return len(people) / wall, len(people) / cpu


def spread(values: list[float]) -> str:
    """min / median / max, as whole numbers."""
    low, middle, high = min(values), statistics.median(values), max(values)
    return f"{low:>8,.0f} {middle:>8,.0f} {high:>8,.0f}"


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--reference-contacts", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DISTRIB_UNSUBSCRIBE_SECRET", "bench-secret-0123456789")
    with tempfile.TemporaryDirectory() as tmp:
        built = campaign(Path(tmp))
        release = load_release(built)
        start = time.perf_counter()
        renderer = Renderer(built, release)
        setup = time.perf_counter() - start
        people = contacts(args.contacts)
        sizes = [
            renderer.render(p, message_id=f"<{i}.b@a.example>").size for i, p in enumerate(people)
        ]
        skeletons = renderer.skeletons
        fast_rates, reference_rates, ratios = [], [], []
        fast_cpu, reference_cpu = [], []
        for _ in range(args.repeat):
            wall, cpu = run(built, release, people, fast=True)
            fast_rates.append(wall)
            fast_cpu.append(cpu)
            wall, cpu = run(built, release, people[: args.reference_contacts], fast=False)
            reference_rates.append(wall)
            reference_cpu.append(cpu)
            ratios.append(fast_rates[-1] / reference_rates[-1])
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(run, built, release, people, fast=True)
    print(f"renderer setup: {setup * 1000:.0f} ms (templates compiled, CSS inlined once)")
    print(
        f"{len(people)} contacts, {statistics.mean(sizes) / 1000:.1f} KB a message on average;"
        f" template outputs from skeletons: {skeletons.filled} of {3 * len(people)}"
        f" ({skeletons.learned} skeletons made); messages written by the standard library:"
        f" {renderer.stdlib_messages}"
    )
    print(f"{args.repeat} repeats{'':28}{'min':>8} {'median':>8} {'max':>8}")
    reference = f"reference path (messages/s, {args.reference_contacts} contacts)"
    print(f"fast path (messages/s, {len(people)} contacts)      {spread(fast_rates)}")
    print(f"  the same per CPU-second{'':19}{spread(fast_cpu)}")
    print(f"{reference}  {spread(reference_rates)}")
    print(f"  the same per CPU-second{'':19}{spread(reference_cpu)}")
    print(f"fast ÷ reference, same repeat{'':13}{spread(ratios).replace(',', '')}")
    middle = statistics.median(fast_rates)
    print(f"fast path: {1e6 / middle:.0f} µs a message (median, wall clock)")
    if args.profile:
        print("\nprofile of one fast run (cProfile; times inflated by the profiler):")
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
