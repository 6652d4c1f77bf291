"""Reading and preparing sources in a worker process gives exactly the one-process answer.

`contacts.parallel` shares the sources between this process and a forked worker; these tests
force ``workers=2`` and compare the whole `ContactBook` (contacts, provenance, accounting,
rejected rows with their ``file:row:column`` reasons, duplicates, conflicts, warnings) with
``workers=1``, check the worker really prepared some of the sources, that problems of unusable
sources are collected from both processes, and that a worker that dies loses nothing.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from contacts_helpers import write_csv, write_xlsx
from distrib.config import SourceConfig
from distrib.contacts import ContactBook, parallel, read_contacts
from distrib.contacts.read import Limits
from distrib.errors import ContactsError

LISTS = Path(__file__).resolve().parent.parent / "lists"
EXAMPLES = ("medias-quebec.csv", "english-media.xlsx", "partenaires.csv", "carnet-presse.vcf")


def _load(paths: list[Path], stops: list[Path], workers: int) -> ContactBook:
    sources = [SourceConfig(path=p) for p in paths]
    return read_contacts(sources, stops, "fr", workers=workers)


def _same(one: ContactBook, two: ContactBook) -> None:
    """Compare everything, field by field first so a failure says where."""
    assert one.sources == two.sources
    assert [c._asdict() for c in one.contacts] == [c._asdict() for c in two.contacts]
    for name in ("rejected", "suppressed", "duplicates", "warnings", "conflicts"):
        assert [str(p) for p in getattr(one, name)] == [str(p) for p in getattr(two, name)], name
    assert one == two


def _mess(folder: Path, seed: int) -> tuple[list[Path], list[Path]]:
    """Three lists and a suppression list that overlap and hold every kind of bad row."""
    rng = random.Random(seed)
    people = [f"personne{i}@media{i % 7}.example" for i in range(60)]
    bad = ["jean@@media.example", "sans-arobase.example", "a@b", "x y@media.example",
           "deux@a.example, trois@a.example", ""]  # fmt: skip
    names = ["Zoé", "ZOE", "Luc", "Hélène", "ZoÃ©", "Ligne\nCoupée", "", "  Émile  "]
    langs = ["fr", "English", "Bilingue", "", "Spanish", "FR"]

    def rows(count: int) -> list[list[str]]:
        out = []
        for _ in range(count):
            email = rng.choice(people) if rng.random() < 0.85 else rng.choice(bad)
            if rng.random() < 0.3:
                email = f" {email.upper()} "
            out.append([email, rng.choice(names), rng.choice(langs), f"Média {rng.randint(1, 4)}"])
        out.insert(rng.randint(1, len(out)), ["", "", "", ""])  # a blank row
        out.append(["", "Total", "", str(count)])
        return out

    header = ["Courriel", "Prénom", "Langue", "Média"]
    first = folder / "quebec.csv"
    write_csv(first, [header, *rows(80)], encoding="cp1252", delimiter=";", newline="\r\n")
    second = write_xlsx(folder / "english.xlsx", [["Email", "First name", "Language", "Outlet"],
                                                  *rows(50)])  # fmt: skip
    third = write_csv(folder / "partenaires.csv", [header, *rows(30)], delimiter="\t")
    stop = write_csv(folder / "stop.csv", [["courriel"], [people[3]], ["@media5.example"]])
    return [first, second, third], [stop]


def _pids(monkeypatch: pytest.MonkeyPatch, log: Path) -> Callable[[], set[int]]:
    """Record the process that prepares each source (the worker is forked: it sees the patch)."""
    original = parallel.read_and_prepare

    def recording(source: SourceConfig, limits: Limits) -> parallel.SourceResult:
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        return original(source, limits)

    monkeypatch.setattr(parallel, "read_and_prepare", recording)
    return lambda: {int(line) for line in log.read_text().split()}


def test_the_example_lists_give_the_same_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [LISTS / name for name in EXAMPLES]
    stops = [LISTS / "desabonnements.csv"]
    serial = _load(paths, stops, workers=1)
    pids = _pids(monkeypatch, tmp_path / "pids")
    shared = _load(paths, stops, workers=2)
    assert pids() - {os.getpid()}, "the worker process prepared none of the sources"
    assert serial.rejected and serial.duplicates and serial.suppressed and serial.conflicts
    _same(serial, shared)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_generated_mess_gives_the_same_book(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    paths, stops = _mess(tmp_path, seed)
    serial = _load(paths, stops, workers=1)
    pids = _pids(monkeypatch, tmp_path / "pids")
    shared = _load(paths, stops, workers=2)
    assert len(pids()) == 2
    assert serial.adds_up and serial.rejected and serial.duplicates and serial.suppressed
    assert any("english.xlsx:" in str(p) for p in serial.rejected)
    _same(serial, shared)


def test_unusable_sources_are_all_reported_from_both_processes(tmp_path: Path) -> None:
    paths, stops = _mess(tmp_path, 4)
    broken = tmp_path / "ancien.xls"
    broken.write_bytes(b"\xd0\xcf\x11\xe0 not really a workbook")
    missing = tmp_path / "absent.csv"
    everything = [paths[0], broken, paths[1], missing, paths[2]]
    errors = []
    for workers in (1, 2):
        with pytest.raises(ContactsError) as caught:
            _load(everything, stops, workers=workers)
        errors.append([str(p) for p in caught.value.problems])
    assert errors[0] == errors[1]
    assert any("ancien.xls" in e for e in errors[0]) and any("absent.csv" in e for e in errors[0])


def test_a_worker_that_dies_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths, stops = _mess(tmp_path, 5)
    serial = _load(paths, stops, workers=1)
    parent = os.getpid()
    original = parallel.read_and_prepare

    def dying(source: SourceConfig, limits: Limits) -> parallel.SourceResult:
        if os.getpid() != parent:
            os._exit(3)  # as if killed: the sources it held are prepared in this process
        return original(source, limits)

    monkeypatch.setattr(parallel, "read_and_prepare", dying)
    _same(serial, _load(paths, stops, workers=2))


def test_small_inputs_and_busy_machines_stay_in_one_process() -> None:
    big = parallel.MIN_PARALLEL_BYTES
    assert parallel.plan_workers([big, big, big], 2.0, can_fork=True) == 2
    assert parallel.plan_workers([big, big, big], 1.0, can_fork=True) == 1  # busy cores
    assert parallel.plan_workers([big, big, big], 2.0, can_fork=False) == 1
    assert parallel.plan_workers([10, 10, 10], 2.0, can_fork=True) == 1  # small
    assert parallel.plan_workers([big * 3], 2.0, can_fork=True) == 1  # one source
    assert parallel.plan_workers([big * 10, 1000], 2.0, can_fork=True) == 1  # lopsided
