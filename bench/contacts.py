"""Benchmark the contacts stage on realistic synthetic media lists.

    .venv/bin/python bench/contacts.py                 # both scenarios, 3 runs each
    .venv/bin/python bench/contacts.py --only csv --runs 5
    .venv/bin/python bench/contacts.py --phases csv    # time of each step, one run
    .venv/bin/python bench/contacts.py --profile csv   # where the time goes (cProfile, one run)

Scenarios (targets from issue 3, on the project's 2-core machine):

- ``csv``: merge + validate + dedupe 1,000,000 rows from three CSV files (cp1252 ``;``,
  UTF-8 ``,``, UTF-8 with BOM and tabs), against a suppression list: <= 10 s, <= 1.5 GB peak.
- ``xlsx``: one 100,000-row XLSX sheet: <= 5 s.

Each run is a fresh ``python`` process that loads the lists the way `distrib.contacts.read_contacts`
does (the whole stage, down to the `Contact` objects the renderer gets) and reports its wall
time, the part spent up to the merged table (`read_merged`: read, validate, dedupe, fill,
account; what ``contacts check``/``merge`` need before formatting), its CPU time (user + system:
less sensitive than wall time to other work on a shared machine) and its peak resident memory
(``getrusage`` maxrss, interpreter and libraries included).  The lists are generated once, with
a fixed seed, under ``bench/out/``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "contacts"

FIRST = [
    "Zoé",
    "Hélène",
    "François",
    "Martin",
    "Geneviève",
    "Jacques",
    "Sarah",
    "Marc",
    "Chloé",
    "Mathieu",
    "Amélie",
    "Olivier",
    "Isabelle",
    "Nathalie",
    "David",
    "Émilie",
    "Rémi",
    "Lucie",
    "Julie",
    "Sophie",
    "Antoine",
    "Emma",
    "Liam",
    "Noah",
    "Olivia",
    "William",
    "Charlotte",
    "Léa",
    "Gabriel",
    "Raphaël",
    "Alice",
    "Jeanne",
    "Thomas",
    "Félix",
    "Maëlle",
    "Anaïs",
    "Éloïse",
    "Benoît",
    "Josée",
    "Marie-Ève",
    "Jean-Philippe",
    "Priya",
    "Wei",
    "Fatima",
    "Mohamed",
    "Aiyana",
    "Siobhan",
    "Björn",
    "Zoë",
    "Ngozi",
    "Kenji",
    "Ana",
    "Luis",
]
LAST = [
    "Gagnon",
    "Tremblay",
    "Lavoie",
    "Côté",
    "Roy",
    "Bélanger",
    "O'Brien",
    "Pelletier",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Fortin",
    "Caron",
    "Girard",
    "Chen",
    "Poirier",
    "Desrosiers",
    "Ouellet",
    "Lefebvre",
    "Lemieux",
    "Paquette",
    "Clarke",
    "Walsh",
    "Nguyen",
    "Patel",
    "Smith",
    "Martin",
    "Bergeron",
    "Lévesque",
    "Boucher",
    "Leblanc",
    "Cloutier",
    "Dubé",
    "Ménard",
    "Thériault",
    "Ng",
    "Okafor",
    "Rossi",
    "Müller",
    "García",
    "Kowalski",
    "Ahmed",
    "Singh",
    "Dupont",
    "D'Amours",
    "St-Pierre",
    "Vandenberg",
]
PLACES = [
    "Fleuve",
    "Estrie",
    "Laval",
    "Beauce",
    "Outaouais",
    "Saguenay",
    "Gaspésie",
    "Mauricie",
    "Laurentides",
    "Montérégie",
    "Lanaudière",
    "Abitibi",
    "Charlevoix",
    "Bas-Saint-Laurent",
    "Côte-Nord",
    "Nunavik",
    "Îles",
    "Capitale",
    "Rivière",
    "Vallée",
    "Plateau",
    "Rive-Sud",
    "Rive-Nord",
    "Cantons",
    "Frontenac",
    "Témiscamingue",
    "Portneuf",
    "Kamouraska",
]
KINDS = (
    "Le Courrier de {p}", "La Voix de {p}", "L'Écho de {p}", "Radio {p} {f}", "Télé {p}",
    "{p} Daily", "The {p} Ledger", "{p} Business Review", "Le Journal de {p}", "{p} Hebdo",
    "CKRL {p}", "{p} Tribune", "Info {p}", "{p} Matin", "Le Soleil de {p}",
)  # fmt: skip
BEATS = (
    "Culture", "Politique", "Économie", "Société", "Municipal", "Sports", "Arts", "Santé",
    "Environnement", "Technologie", "Affaires", "Justice", "Éducation", "NA", "-", "",
)  # fmt: skip
LANGS = (
    ["Français"] * 30 + ["FR"] * 15 + ["fr-CA"] * 8 + ["English"] * 20 + ["EN"] * 10
    + ["en-CA"] * 5 + ["Anglais", "Bilingue", "fr, en", "French (Canada)", "Espagnol", ""] * 2
)  # fmt: skip
CITIES = ("Québec", "Montréal", "Laval", "Gatineau", "Sherbrooke", "Rimouski", "Ottawa", "")


def _ascii(value: str) -> str:
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c in ".-")


class People:
    """A deterministic pool of fictional journalists with unique addresses under .example."""

    def __init__(self, count: int, seed: int) -> None:
        rng = random.Random(seed)
        outlets = []
        for i in range(max(50, count // 400)):
            kind = rng.choice(KINDS)
            name = kind.format(
                p=rng.choice(PLACES), f=f"{rng.randint(88, 107)}.{rng.randint(1, 9)}"
            )
            outlets.append((name, i))
        self.rows: list[tuple[str, str, str, str, str, str, str, str]] = []
        seen: set[str] = set()
        for n in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            outlet, _ = rng.choice(outlets)
            domain = f"{_ascii(outlet.replace(' ', ''))[:20].strip('-.')}.example"
            local = f"{_ascii(first)}.{_ascii(last).replace('.', '')}"
            address = f"{local}@{domain}"
            if address in seen:
                address = f"{local}{n}@{domain}"
            seen.add(address)
            phone = rng.choice(["", f"0{rng.randint(100000000, 999999999)}", "418 555-0100"])
            self.rows.append(
                (address, first, last, outlet, rng.choice(LANGS), rng.choice(BEATS), phone,
                 rng.choice(CITIES))
            )  # fmt: skip


def _messy(rng: random.Random, address: str) -> str:
    """Write an address the way lists do: sometimes in capitals, padded, or broken."""
    roll = rng.random()
    if roll < 0.03:
        return address.upper()
    if roll < 0.05:
        local, _, domain = address.partition("@")
        return f"{local.title()}@{domain.title()}"
    if roll < 0.07:
        return f"  {address} "
    if roll < 0.075:
        return address.replace("@", "@@")
    if roll < 0.078:
        return address.rsplit(".", 1)[0]
    if roll < 0.080:
        return ""
    return address


def _pick(rng: random.Random, people: People, count: int, start: int, overlap: float) -> list[int]:
    """Indices of ``count`` people: fresh ones from ``start`` plus ``overlap`` earlier ones."""
    old = int(count * overlap)
    fresh = list(range(start, start + count - old))
    earlier = [rng.randrange(0, start) for _ in range(old)] if start else []
    chosen = fresh + earlier
    chosen += [rng.choice(chosen) for _ in range(count // 100)]  # 1% repeated within the file
    rng.shuffle(chosen)
    return chosen[:count]


def _quote(value: str, delimiter: str) -> str:
    if delimiter in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _write(path: Path, header: list[str], rows: list[list[str]], encoding: str, delimiter: str,
           newline: str = "\n") -> None:  # fmt: skip
    lines = [delimiter.join(_quote(c, delimiter) for c in header)]
    for i, row in enumerate(rows):
        if i % 997 == 500:
            lines.append("")  # a blank line now and then
        lines.append(delimiter.join(_quote(c, delimiter) for c in row))
    path.write_bytes((newline.join(lines) + newline).encode(encoding))


def generate_csv(total: int, seed: int = 3) -> tuple[list[Path], Path]:
    """Write (once) three CSV lists with ``total`` rows in all, and a suppression list."""
    folder = OUT / f"csv-{total}-{seed}"
    names = ["medias-a.csv", "media-b.csv", "partenaires-c.tsv"]
    paths = [folder / n for n in names]
    stop = folder / "stop.csv"
    if all(p.exists() for p in [*paths, stop]):
        return paths, stop
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    sizes = [total * 40 // 100, total * 35 // 100]
    sizes.append(total - sum(sizes))
    people = People(int(total * 0.9), seed)
    a = _pick(rng, people, sizes[0], 0, 0.0)
    b = _pick(rng, people, sizes[1], sizes[0], 0.2)
    c = _pick(rng, people, sizes[2], sizes[0] + int(sizes[1] * 0.8), 0.25)
    p = people.rows
    _write(
        paths[0],
        ["Courriel", "Prénom", "Nom", "Média", "Langue", "Rubrique", "Téléphone", "Ville"],
        [[_messy(rng, p[i][0]), *p[i][1:]] for i in a],
        "cp1252", ";", "\r\n",
    )  # fmt: skip
    _write(
        paths[1],
        ["Email", "First Name", "Last Name", "Outlet", "Language", "Beat", "Phone", "City"],
        [[_messy(rng, p[i][0]), *p[i][1:]] for i in b],
        "utf-8", ",",
    )  # fmt: skip
    _write(
        paths[2],
        ["E-mail", "Nom complet", "Organisation", "Langue", "Ville", "Notes"],
        [[_messy(rng, p[i][0]), f"{p[i][1]} {p[i][2]}", p[i][3], p[i][4], p[i][7],
          rng.choice(["", "", "Partenaire depuis 2019", "Ne pas appeler"])] for i in c],
        "utf-8-sig", "\t",
    )  # fmt: skip
    stopped = [p[rng.randrange(len(p))][0] for _ in range(total // 100)]
    stopped = [s.replace("@", "+presse@") if k % 10 == 0 else s for k, s in enumerate(stopped)]
    stopped += [f"@{p[rng.randrange(len(p))][0].partition('@')[2]}" for _ in range(5)]
    _write(stop, ["courriel"], [[s] for s in stopped], "utf-8", ",")
    return paths, stop


def generate_xlsx(rows: int, seed: int = 5) -> Path:
    """Write (once) a one-sheet XLSX list with ``rows`` rows."""
    path = OUT / f"xlsx-{rows}-{seed}.xlsx"
    if path.exists():
        return path
    import openpyxl

    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    people = People(rows, seed)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Médias")
    sheet.append(["Courriel", "Prénom", "Nom", "Média", "Langue", "Rubrique", "Téléphone", "Ville"])
    for row in people.rows:
        sheet.append([_messy(rng, row[0]), *row[1:]])
    tmp = path.with_suffix(".tmp")
    book.save(tmp)
    tmp.rename(path)
    return path


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from distrib.config import SourceConfig
from distrib.contacts import read_merged
from distrib.contacts.merge import book_from_table, no_gc
paths, stop = json.loads(sys.argv[1])
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
start, start_cpu = time.perf_counter(), cpu()
with no_gc():  # exactly what read_contacts does, timing its two halves
    merged = read_merged([SourceConfig(path=Path(p)) for p in paths], [Path(s) for s in stop])
    table = time.perf_counter() - start
    book = book_from_table(merged)
seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
assert book.adds_up
print(json.dumps({
    "seconds": seconds, "cpu": cpu_seconds, "table": table,
    "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rows": book.rows, "contacts": len(book.contacts), "rejected": len(book.rejected),
    "duplicates": len(book.duplicates), "suppressed": len(book.suppressed),
}))
"""


def run_once(paths: list[Path], stop: list[Path]) -> dict[str, float]:
    """Load the lists in a fresh interpreter; return its timing and peak memory."""
    arg = json.dumps([[str(p) for p in paths], [str(s) for s in stop]])
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, arg], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def profile(paths: list[Path], stop: list[Path]) -> None:
    """Print where the time goes in one in-process run (cProfile, cumulative)."""
    import cProfile
    import pstats

    from distrib.config import SourceConfig
    from distrib.contacts import read_contacts

    sources = [SourceConfig(path=p) for p in paths]
    with cProfile.Profile() as prof:
        read_contacts(sources, stop)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(35)


def phases(paths: list[Path], stop: list[Path]) -> None:
    """Print the time of each step of one in-process run (what read_contacts does, in order)."""
    import time

    from distrib.config import SourceConfig
    from distrib.contacts.combine import combine
    from distrib.contacts.merge import book_from_table, no_gc
    from distrib.contacts.prepare import prepare_source
    from distrib.contacts.read import read_sources
    from distrib.contacts.suppress import load_suppression

    spent: dict[str, float] = {}

    def timed(name: str, start: float) -> float:
        now = time.perf_counter()
        spent[name] = spent.get(name, 0.0) + now - start
        return now

    with no_gc():
        clock = time.perf_counter()
        tables = [t for p in paths for t in read_sources(SourceConfig(path=p))[0]]
        clock = timed("read (decode, parse)", clock)
        prepared = [prepare_source(t) for t in tables]
        clock = timed("prepare (clean, check, validate addresses)", clock)
        suppression = load_suppression(stop)
        clock = timed("suppression lists", clock)
        merged = combine(prepared, suppression)
        clock = timed("combine (suppress, dedupe, fill, conflicts, records)", clock)
        book_from_table(merged)
        timed("Contact records (book_from_table)", clock)
    for name, seconds in spent.items():
        print(f"  {seconds:6.2f} s  {name}")
    print(f"  {sum(spent.values()):6.2f} s  total")


def _stats(runs: list[dict[str, float]], key: str, unit: str = "s") -> str:
    values = sorted(r[key] for r in runs)
    fmt = "{:.2f}" if unit == "s" else "{:.0f}"
    return "  ".join(
        f"{name} {fmt.format(v)} {unit}"
        for name, v in (
            ("min", values[0]),
            ("median", statistics.median(values)),
            ("max", values[-1]),
        )
    )


def _report(name: str, target: str, runs: list[dict[str, float]]) -> None:
    first = runs[0]
    print(
        f"{name}: {int(first['rows']):,} rows -> {int(first['contacts']):,} contacts, "
        f"{int(first['duplicates']):,} duplicates, {int(first['rejected']):,} rejected, "
        f"{int(first['suppressed']):,} suppressed"
    )
    print(f"  wall   {_stats(runs, 'seconds')}   (target {target})")
    print(f"  table  {_stats(runs, 'table')}   (read_merged: up to the merged table)")
    print(f"  cpu    {_stats(runs, 'cpu')}")
    print(f"  peak   {_stats(runs, 'maxrss_mb', 'MB')}")


def main(argv: list[str] | None = None) -> None:
    """Generate the lists if needed, then time each scenario in fresh processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV rows in all")
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["csv", "xlsx"])
    parser.add_argument("--profile", choices=["csv", "xlsx"])
    parser.add_argument("--phases", choices=["csv", "xlsx"], help="time each step, one run")
    args = parser.parse_args(argv)
    if args.phases == "csv":
        paths, stop = generate_csv(args.rows)
        phases(paths, [stop])
        return
    if args.phases == "xlsx":
        phases([generate_xlsx(args.xlsx_rows)], [])
        return
    if args.profile == "csv":
        paths, stop = generate_csv(args.rows)
        profile(paths, [stop])
        return
    if args.profile == "xlsx":
        profile([generate_xlsx(args.xlsx_rows)], [])
        return
    if args.only in (None, "csv"):
        paths, stop = generate_csv(args.rows)
        runs = [run_once(paths, [stop]) for _ in range(args.runs)]
        _report("csv (3 files)", "<= 10 s, <= 1536 MB", runs)
    if args.only in (None, "xlsx"):
        path = generate_xlsx(args.xlsx_rows)
        runs = [run_once([path], []) for _ in range(args.runs)]
        _report("xlsx (1 sheet)", "<= 5 s", runs)


if __name__ == "__main__":
    main()
