"""Benchmark the contacts stage on realistic synthetic media lists.

    .venv/bin/python bench/contacts.py                 # both scenarios, 3 runs each
    .venv/bin/python bench/contacts.py --only csv --runs 5
    .venv/bin/python bench/contacts.py --phases csv    # time of each step, one run
    .venv/bin/python bench/contacts.py --profile csv   # where the time goes (cProfile, one run)
    .venv/bin/python bench/contacts.py --only csv --runs 5 --compare HEAD~1  # A/B, same session
    .venv/bin/python bench/contacts.py --only csv --runs 5 --workers 2 --compare-workers 1

Scenarios (targets from issue 3, on the project's 2-core machine):

- ``csv``: merge + validate + dedupe 1,000,000 rows from three CSV files (cp1252 ``;``,
  UTF-8 ``,``, UTF-8 with BOM and tabs), against a suppression list: <= 10 s, <= 1.5 GB peak.
- ``xlsx``: one 100,000-row XLSX sheet: <= 5 s.

Each run is a fresh ``python`` process that loads the lists the way `distrib.contacts.read_contacts`
does (the whole stage, down to the `Contact` objects the renderer gets) and reports its wall
time, the part spent up to the merged table (`read_merged`: read, validate, dedupe, fill,
account; what ``contacts check``/``merge`` need before formatting), its CPU time (user + system,
of the process and of the worker process it may start: less sensitive than wall time to other
work on a shared machine) and its peak memory: the largest sum of the resident memory of the
process and its workers, sampled every 20 ms from outside (pages a forked worker still shares
with its parent are counted twice, so this errs high), and never less than the process's own
``getrusage`` maxrss (interpreter and libraries included).  The lists are generated once, with a
fixed seed, under ``bench/out/``.

``--compare REF`` also times the stage as it was at git revision ``REF`` (its ``src/`` exported
to a temporary folder and put first on ``PYTHONPATH``), alternating old and new runs, and prints
the new/old ratio of each pair: on a machine shared with other work, ratios measured side by side
say more than wall times measured at different moments.  The machine's load average is printed
before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
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
paths, stop, workers = json.loads(sys.argv[1])
options = {} if workers is None else {"workers": workers}  # older code has no such option
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
start, start_cpu = time.perf_counter(), cpu()
with no_gc():  # exactly what read_contacts does, timing its two halves
    merged = read_merged(
        [SourceConfig(path=Path(p)) for p in paths], [Path(s) for s in stop], **options
    )
    table = time.perf_counter() - start
    book = book_from_table(merged)
seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
assert book.adds_up
children = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "seconds": seconds, "cpu": cpu_seconds + children.ru_utime + children.ru_stime,
    "worker_cpu": children.ru_utime + children.ru_stime,
    "table": table, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "rows": book.rows, "contacts": len(book.contacts), "rejected": len(book.rejected),
    "duplicates": len(book.duplicates), "suppressed": len(book.suppressed),
}))
"""


def _rss_kb(pid: int) -> int:
    """Return the resident memory of ``pid`` and of its descendants, in kB (0 once gone)."""
    total = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _rss_kb(int(child))
    except (OSError, ValueError):
        pass
    return total


def run_once(
    paths: list[Path], stop: list[Path], pythonpath: Path | None = None, workers: int | None = None
) -> dict[str, float]:
    """Load the lists in a fresh interpreter; return its timing and peak memory.

    ``pythonpath`` puts another copy of ``distrib`` first on the path (see ``--compare``);
    ``workers`` is passed to `read_merged` when given (else it chooses).  The memory of the
    process and of its workers is sampled every 20 ms from here.
    """
    arg = json.dumps([[str(p) for p in paths], [str(s) for s in stop], workers])
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    with subprocess.Popen(
        [sys.executable, "-c", _CHILD, arg], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env,
    ) as child:  # fmt: skip
        peak = 0
        while child.poll() is None:
            peak = max(peak, _rss_kb(child.pid))
            time.sleep(0.02)
        out, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(err)
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = max(result["maxrss_mb"], peak / 1024)
    return result


def export_revision(ref: str, folder: Path) -> Path:
    """Write the ``src/`` of git revision ``ref`` under ``folder``; return that ``src``."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "src"], cwd=HERE.parent, capture_output=True,
        check=True,
    ).stdout  # fmt: skip
    tar = folder / "src.tar"
    tar.write_bytes(archive)
    with tarfile.open(tar) as opened:
        opened.extractall(folder, filter="data")
    return folder / "src"


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


def phases(paths: list[Path], stop: list[Path], workers: int | None = None) -> None:
    """Print the time of each step of one in-process run (what read_contacts does, in order).

    With one process (``workers`` 1, or chosen), reading and preparing are timed apart; with
    two, together (`distrib.contacts.parallel`).
    """
    import time

    from distrib.config import SourceConfig
    from distrib.contacts.combine import combine
    from distrib.contacts.merge import book_from_table, no_gc
    from distrib.contacts.parallel import idle_cpus, plan_workers, prepare_sources
    from distrib.contacts.prepare import prepare_source
    from distrib.contacts.read import Limits, read_sources
    from distrib.contacts.suppress import load_suppression

    spent: dict[str, tuple[float, float]] = {}
    sources = [SourceConfig(path=p) for p in paths]
    if workers is None:
        workers = plan_workers([p.stat().st_size for p in paths], idle_cpus(), can_fork=True)
    cpu = [time.process_time()]

    def timed(name: str, start: float) -> float:
        now, now_cpu = time.perf_counter(), time.process_time()
        spent[name] = (now - start, now_cpu - cpu[0])
        cpu[0] = now_cpu
        return now

    with no_gc():
        clock = time.perf_counter()
        if workers > 1:
            prepared = [
                p for r in prepare_sources(sources, Limits(), workers=workers) for p in r.prepared
            ]
            clock = timed(f"read + prepare, {workers} processes", clock)
        else:
            tables = [t for s in sources for t in read_sources(s)[0]]
            clock = timed("read (decode, parse)", clock)
            prepared = [prepare_source(t) for t in tables]
            clock = timed("prepare (clean, check, validate addresses)", clock)
        suppression = load_suppression(stop)
        clock = timed("suppression lists", clock)
        merged = combine(prepared, suppression)
        clock = timed("combine (suppress, dedupe, fill, conflicts, records)", clock)
        book_from_table(merged)
        timed("Contact records (book_from_table)", clock)
    print("    wall     cpu (this process)")
    for name, (seconds, cpu_seconds) in spent.items():
        print(f"  {seconds:6.2f} s {cpu_seconds:6.2f} s  {name}")
    wall, cpus = (sum(v) for v in zip(*spent.values(), strict=True))
    print(f"  {wall:6.2f} s {cpus:6.2f} s  total")


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
    print(f"  cpu    {_stats(runs, 'cpu')}   (all processes)")
    print(f"  peak   {_stats(runs, 'peak_mb', 'MB')}   (process + workers)")
    used = sum(1 for r in runs if r.get("worker_cpu", 0.0) > 0)
    print(f"  worker process used in {used} of {len(runs)} runs")


def _ratios(new: list[dict[str, float]], old: list[dict[str, float]], key: str) -> str:
    values = sorted(n[key] / o[key] for n, o in zip(new, old, strict=True))
    return f"min {values[0]:.2f}  median {statistics.median(values):.2f}  max {values[-1]:.2f}"


Side = tuple[Path | None, int | None]  # (PYTHONPATH for another copy of distrib, workers)


def _scenario(
    name: str, target: str, paths: list[Path], stop: list[Path], runs: int,
    new: Side, old: Side | None, old_name: str,
) -> None:  # fmt: skip
    """Time one scenario ``runs`` times; with ``old``, alternate with the old side's runs."""
    new_runs, old_runs = [], []
    for _ in range(runs):
        if old is not None:
            old_runs.append(run_once(paths, stop, *old))
        new_runs.append(run_once(paths, stop, *new))
    _report(name, target, new_runs)
    if old is not None:
        _report(f"{name}, {old_name}", target, old_runs)
        print(f"  new / {old_name}, pair by pair:")
        for key, label in (("seconds", "wall"), ("table", "table"), ("cpu", "cpu")):
            print(f"    {label:6} {_ratios(new_runs, old_runs, key)}")
        print(f"    peak   {_ratios(new_runs, old_runs, 'peak_mb')}")


def _load() -> str:
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    """Generate the lists if needed, then time each scenario in fresh processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV rows in all")
    parser.add_argument("--xlsx-rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["csv", "xlsx"])
    parser.add_argument("--profile", choices=["csv", "xlsx"])
    parser.add_argument("--phases", choices=["csv", "xlsx"], help="time each step, one run")
    parser.add_argument("--compare", metavar="REF", help="also time git revision REF, A/B")
    parser.add_argument(
        "--workers", type=int, help="processes reading the sources (default: the stage chooses)"
    )
    parser.add_argument(
        "--compare-workers", type=int, metavar="N", help="also time this code with N workers, A/B"
    )
    args = parser.parse_args(argv)
    if args.phases == "csv":
        paths, stop = generate_csv(args.rows)
        phases(paths, [stop], args.workers)
        return
    if args.phases == "xlsx":
        phases([generate_xlsx(args.xlsx_rows)], [], args.workers)
        return
    if args.profile == "csv":
        paths, stop = generate_csv(args.rows)
        profile(paths, [stop])
        return
    if args.profile == "xlsx":
        profile([generate_xlsx(args.xlsx_rows)], [])
        return
    with tempfile.TemporaryDirectory() as folder:
        new: Side = (None, args.workers)
        old: Side | None = None
        old_name = ""
        if args.compare:
            old, old_name = (export_revision(args.compare, Path(folder)), None), args.compare
        elif args.compare_workers:
            old, old_name = (None, args.compare_workers), f"workers={args.compare_workers}"
        print(f"{os.cpu_count()} cores, {_load()}" + (f"; against {old_name}" if old else ""))
        if args.only in (None, "csv"):
            paths, stop = generate_csv(args.rows)
            _scenario(
                "csv (3 files)", "<= 10 s, <= 1536 MB", paths, [stop], args.runs, new, old,
                old_name,
            )  # fmt: skip
        if args.only in (None, "xlsx"):
            path = generate_xlsx(args.xlsx_rows)
            _scenario("xlsx (1 sheet)", "<= 5 s", [path], [], args.runs, new, old, old_name)
        print(_load())


if __name__ == "__main__":
    main()
