"""Suppression entries that do not come from a file (the delivery log's opt-outs and bounces)."""

from __future__ import annotations

from pathlib import Path

from distrib.config import SourceConfig
from distrib.contacts import read_contacts
from distrib.errors import Location


def test_extra_entries_suppress_like_a_list(tmp_path: Path) -> None:
    source = tmp_path / "a.csv"
    source.write_text("email\nzoe@fleuve.example\nsam@river.example\n", encoding="utf-8")
    where = Location("delivery log", column="unsubscribed 2026-11-25")
    book = read_contacts(
        [SourceConfig(path=source)], extra_suppression=[(" ZOE+news@Fleuve.example", where)]
    )
    assert [c.address for c in book.contacts] == ["sam@river.example"]
    (problem,) = book.suppressed
    assert "delivery log" in str(problem)
    assert book.adds_up
