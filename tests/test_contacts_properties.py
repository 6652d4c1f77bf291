"""Property tests of the merge: no address lost or invented, every row accounted for once."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contacts_helpers import locate_header, memory_table
from distrib.contacts import (
    AddressError,
    ContactBook,
    Suppression,
    merge_sources,
    normalize_address,
    prepare_source,
)
from distrib.errors import Location

BASES = ["zoe@courrier.example", "jean.roy@bücher.example", "a+b@c.example", "x@y.example"]


@st.composite
def addresses(draw: st.DrawFn) -> str:
    """An address cell: a known address in a random case with stray spaces, or junk."""
    base = draw(st.sampled_from(BASES))
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in base)
    pad = draw(st.sampled_from(["", " ", "  "]))
    junk = st.sampled_from(["", "a@@b.example", "a@b", "two@a.example, three@a.example"])
    return draw(st.one_of(st.just(pad + cased + pad), junk, st.emails()))


rows = st.lists(st.tuples(addresses(), st.sampled_from(["", "Zoé", "Luc\nRoy", "fr"])), max_size=8)


def merge(sources: list[list[tuple[str, str]]], suppressed: list[str]) -> ContactBook:
    prepared = [
        prepare_source(locate_header(memory_table([["Email", "Prénom"], *src], f"s{i}.xlsx"), {}))
        for i, src in enumerate(sources)
    ]
    suppression = Suppression().with_entries((a, Location("stop")) for a in suppressed)
    return merge_sources(prepared, suppression)


def is_stopped(cell: str, suppressed: list[str]) -> bool:
    """Tell whether a valid address cell is suppressed by an address or a domain entry."""
    found = normalize_address(cell)
    domain = found.address.rpartition("@")[2]
    return any(
        (entry.startswith("@") and (domain == entry[1:] or domain.endswith("." + entry[1:])))
        or (not entry.startswith("@") and normalize_address(entry).suppression_key
            == found.suppression_key)
        for entry in suppressed
    )  # fmt: skip


def valid(cell: str) -> str | None:
    try:
        return normalize_address(cell).key
    except AddressError:
        return None


STOPS = st.lists(st.sampled_from([*BASES, "@courrier.example", "@xn--bcher-kva.example"]),
                 max_size=2)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(rows, min_size=1, max_size=3), STOPS)
def test_merge_never_loses_or_invents_an_address(
    sources: list[list[tuple[str, str]]], suppressed: list[str]
) -> None:
    book = merge(sources, suppressed)
    kept = {
        normalize_address(cell).key
        for src in sources
        for cell, name in src
        if valid(cell) is not None and "\n" not in name and not is_stopped(cell, suppressed)
    }
    assert [c.key for c in book.contacts] == list(dict.fromkeys(c.key for c in book.contacts))
    assert {c.key for c in book.contacts} == kept
    written = {normalize_address(cell).address for src in sources for cell, _ in src if valid(cell)}
    assert {c.address for c in book.contacts} <= written


@settings(max_examples=40, deadline=None)
@given(st.lists(rows, min_size=1, max_size=3), STOPS)
def test_every_row_is_accounted_for_once(
    sources: list[list[tuple[str, str]]], suppressed: list[str]
) -> None:
    book = merge(sources, suppressed)
    assert book.adds_up
    for summary, src in zip(book.sources, sources, strict=True):
        filled = [i for i, r in enumerate(src) if any(cell.strip() for cell in r)]
        assert summary.rows == len(filled)
        # Blank rows after the last filled one are not counted at all (sheet formatting).
        assert summary.blank_rows == (filled[-1] + 1 - len(filled) if filled else 0)
    assert len(book.rejected) == sum(s.rejected for s in book.sources)
    assert len(book.duplicates) == sum(s.duplicates for s in book.sources)
    assert len(book.suppressed) == sum(s.suppressed for s in book.sources)
    assert sum(len(c.sources) for c in book.contacts) == len(book.contacts) + len(book.duplicates)
