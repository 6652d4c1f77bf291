"""Merging in depth: precedence by priority, conflicts, provenance, domain suppression, SMTPUTF8,
and the optional mail-server check against a real DNS server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contacts_helpers import DNSStub, load, write_csv
from distrib.config import SourceConfig
from distrib.contacts import read_contacts
from distrib.contacts.load import ordered
from distrib.contacts.mx import mail_server_check, make_resolver
from distrib.errors import Location

FR = ["Courriel", "Prénom", "Nom", "Média", "Langue"]


@pytest.fixture(autouse=True)
def _here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_priority_overrides_campaign_order(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", [["Email", "Outlet"], ["x@y.example", "A"]])
    b = write_csv(tmp_path / "b.csv", [["Email", "Outlet"], ["X@y.example", "B"]])
    c = write_csv(tmp_path / "c.csv", [["Email", "Outlet"], ["x@Y.example", "C"]])
    sources = [SourceConfig(path=a), SourceConfig(path=b, priority=2),
               SourceConfig(path=c, priority=1)]  # fmt: skip
    assert [s.path.name for s in ordered(sources)] == ["c.csv", "b.csv", "a.csv"]
    book = load(*sources)
    (contact,) = book.contacts
    assert contact.outlet == "C"
    assert [Path(s.path).name for s in book.sources] == ["c.csv", "b.csv", "a.csv"]
    assert [str(loc) for loc in contact.sources] == ["c.csv:2", "b.csv:2", "a.csv:2"]


def test_conflicts_are_listed_and_the_first_value_kept(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "fr.csv", [FR, ["zoe@c.example", "Zoé", "Gagnon", "Le Courrier",
                                                 "Français"]])  # fmt: skip
    second = write_csv(
        tmp_path / "en.csv",
        [["Email", "First name", "Last name", "Outlet", "Language"],
         ["ZOE@c.example", "ZOE", "Gagnon-Roy", "LE COURRIER", "English"],  # name, language
         ["zoe@c.example", "", "", "Radio Est", "FR"]],  # outlet
    )  # fmt: skip
    book = load(first, second)
    (zoe,) = book.contacts
    assert (zoe.first_name, zoe.last_name, zoe.outlet, zoe.language) == (
        "Zoé", "Gagnon", "Le Courrier", "fr",
    )  # fmt: skip
    assert [(str(p.where), p.code) for p in book.conflicts] == [
        ("en.csv:2:Language", "conflict-language"),
        ("en.csv:2:Last name", "conflict-last-name"),
        ("en.csv:3:Outlet", "conflict-outlet"),
    ]
    assert book.conflicts[0].message == (
        "ZOE@c.example: language 'English' differs from 'Français' (fr.csv:2), which is kept"
    )
    # Same value in another case or spelling ("ZOE", "LE COURRIER", "FR") is not a conflict.
    assert book.adds_up


@pytest.mark.parametrize(
    "entry",
    ["@exemple.example", "*@exemple.example", "  @EXEMPLE.Example ", "@xn--exmple-cva.example"],
)
def test_whole_domains_are_suppressed(tmp_path: Path, entry: str) -> None:
    domain = "exemple.example" if "xn--" not in entry else "exémple.example"
    sources = write_csv(
        tmp_path / "l.csv",
        [["Email"], [f"jean@{domain}"], [f"Luc+presse@news.{domain}"], ["autre@ailleurs.example"],
         ["x@pasexemple.example"]],
    )  # fmt: skip
    stop = tmp_path / "stop.txt"
    stop.write_text(f"{entry}\n", encoding="utf-8")
    book = load(sources, suppression=[stop])
    assert [c.address for c in book.contacts] == ["autre@ailleurs.example", "x@pasexemple.example"]
    assert [str(p.where) for p in book.suppressed] == ["l.csv:2:Email", "l.csv:3:Email"]
    assert "(stop.txt:1)" in book.suppressed[0].message
    assert book.adds_up


def test_idna_equivalent_addresses_are_suppressed(tmp_path: Path) -> None:
    sources = write_csv(tmp_path / "l.csv", [["Email"], ["jean@xn--bcher-kva.example"]])
    stop = tmp_path / "stop.txt"
    stop.write_text(" Jean+Presse@BÜCHER.example \n", encoding="utf-8")
    assert load(sources, suppression=[stop]).contacts == ()


def test_extra_suppression_takes_domains_too(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "a.csv", [["Email"], ["zoe@fleuve.example"], ["s@r.example"]])
    book = read_contacts(
        [SourceConfig(path=source)],
        extra_suppression=[("@Fleuve.example", Location("delivery log", column="bounced"))],
    )
    assert [c.address for c in book.contacts] == ["s@r.example"]
    assert "delivery log" in str(book.suppressed[0])


def test_non_ascii_local_part_needs_smtputf8(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "l.csv", [["Email"], ["zoé@bücher.example"], ["zoe@b.example"]])
    utf8, ascii_only = load(path).contacts
    assert utf8.address == "zoé@xn--bcher-kva.example" and utf8.smtputf8
    assert not ascii_only.smtputf8


@pytest.fixture
def dns_stub() -> Iterator[DNSStub]:
    zone = {"ok.example": ["10 mail.ok.example."], "nullmx.example": ["0 ."]}
    with DNSStub(zone) as stub:
        yield stub


def test_mail_server_check_rejects_domains_without_mail(tmp_path: Path, dns_stub: DNSStub) -> None:
    rows = [["Email"], ["a@ok.example"], ["b@nullmx.example"], ["c@gone.example"],
            ["d@OK.example"], ["bad@"]]  # fmt: skip
    path = write_csv(tmp_path / "l.csv", rows)
    resolver = make_resolver([f"127.0.0.1:{dns_stub.port}"], timeout=2.0)
    book = read_contacts([SourceConfig(path=path)], domain_check=mail_server_check(resolver))
    assert [c.address for c in book.contacts] == ["a@ok.example", "d@ok.example"]
    assert [(str(p.where), p.code) for p in book.rejected] == [
        ("l.csv:3:Email", "no-mail-server"),
        ("l.csv:4:Email", "no-mail-server"),
        ("l.csv:6:Email", "invalid-address"),
    ]
    assert "does not accept email" in book.rejected[0].message
    assert "does not exist" in book.rejected[1].message
    # Each distinct domain is asked once; invalid rows are never looked up.
    assert sorted(set(dns_stub.asked)) == ["gone.example", "nullmx.example", "ok.example"]
    assert book.adds_up


def test_make_resolver_takes_host_and_port() -> None:
    resolver = make_resolver(["127.0.0.1:5353"], timeout=1.5)
    assert (resolver.nameservers, resolver.port, resolver.lifetime) == (["127.0.0.1"], 5353, 1.5)


def test_contacts_are_built_positionally_only_in_field_order() -> None:
    from distrib.contacts.merge import _ORDER, _build_contacts

    values = {
        "email": ["Zoe@x.example"], "address": ["Zoe@x.example"], "key": ["zoe@x.example"],
        "language": ["fr"], "first_name": ["Zoé"], "last_name": [""], "outlet": ["Le Fleuve"],
        "outlet_slug": ["le-fleuve"], "fields": [{}], "sources": [()], "smtputf8": [False],
    }  # fmt: skip
    assert _ORDER[:11] == tuple(values)  # the fast path is the one in use
    (fast,) = _build_contacts(values)
    (slow,) = _build_contacts(dict(reversed(values.items())))  # keyword path
    assert fast == slow and fast.outlet_slug == "le-fleuve" and fast.first_name == "Zoé"


def test_the_table_form_of_the_merge(tmp_path: Path) -> None:
    from distrib.contacts import read_merged

    a = write_csv(
        tmp_path / "a.csv", [["Email", "Outlet"], ["x@y.example", ""], ["z@y.example", "Z"]]
    )
    b = write_csv(tmp_path / "b.csv", [["Email", "Outlet"], ["X@y.example", "B"]])
    merged = read_merged([SourceConfig(path=a), SourceConfig(path=b)])
    assert merged.contacts["_address"].tolist() == ["x@y.example", "z@y.example"]
    assert merged.contacts["outlet"].tolist() == ["B", "Z"]  # blank filled from b.csv
    assert merged.provenance() == ["a.csv:2; b.csv:2", "a.csv:3"]
    assert [s.rows for s in merged.summaries] == [2, 1]
