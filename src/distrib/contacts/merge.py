"""Merge prepared sources into a `ContactBook`: the contacts rendering and sending work on.

`combine` does the merge on whole columns (reject, suppress, deduplicate, fill blanks, list
conflicts and account for every row); this module turns its table into `Contact` records,
resolving each contact's language (`_language`: a missing or unknown language falls back to
the language its list declares, else to the campaign default, with a warning per contact).

Building a million small objects is what costs here, so the language is resolved once per
distinct (code, text) pair, a contact's ``fields`` share one key index (`RowFields`), and the
cyclic garbage collector is paused while the records are built: they hold no cycles, and
otherwise it would walk the growing heap again and again (about a third of the time).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import repeat
from typing import Any, Literal

import numpy as np
import pandas as pd

from distrib.contacts.combine import DomainCheck, MergedTable, combine
from distrib.contacts.model import Contact, ContactBook
from distrib.contacts.normalize import slugify
from distrib.contacts.prepare import PreparedSource
from distrib.contacts.suppress import Suppression
from distrib.contacts.vector import locations, per_unique
from distrib.errors import Location, Problem

__all__ = ["RowFields", "book_from_table", "merge_sources", "no_gc"]

Language = Literal["fr", "en"]


class RowFields(Mapping[str, str]):
    """A contact's fields: an immutable mapping whose key index is shared by every contact."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: Sequence[str]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: str) -> str:
        return self._values[self._index[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"RowFields({dict(self)!r})"


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees everything).

    The stage creates millions of objects that hold no reference cycles (strings, records);
    each time their count grows, the collector would walk the whole heap again.  On the way
    out, what the collector tracks is moved to its oldest generation without a walk
    (`_promote`): otherwise the next allocation would start a collection of the youngest
    generation that walks every record just built (about 0.3 s for a million contacts) only to
    promote them, and another would follow for the next generation.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _promote()
            gc.enable()


def _promote() -> None:
    """Move every object the collector tracks to its oldest generation, without a collection.

    ``gc.freeze()`` moves them all to the permanent generation and ``gc.unfreeze()`` moves
    that to the oldest one: two list splices.  Garbage among them is still collected by the
    next full collection.  Skipped when the program froze objects itself, as unfreezing would
    undo that.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def _language(
    code: str, raw: str, default: Language, of_list: bool
) -> tuple[Literal["fr", "en", "both"], str | None, str]:
    """Return (language, warning code or None, warning text) for a merged language cell.

    ``default``: the list's language (``of_list``: codes ``language-list-missing`` and
    ``language-list-unknown``) or else the campaign's default (``language-missing``,
    ``language-unknown``).
    """
    if code in ("fr", "en"):
        return ("fr" if code == "fr" else "en"), None, ""
    if code == "both":
        # Bilingual contacts get one message in both languages (see distrib.render).
        return "both", None, ""
    using = f"using {default!r}, the language of this list" if of_list else f"using {default!r}"
    kind = "language-list-" if of_list else "language-"
    if raw:
        return default, f"{kind}unknown", f"unknown language {raw!r}: {using}"
    return default, f"{kind}missing", f"no language: {using}"


def _languages(
    merged: MergedTable, default: Language
) -> tuple[list[str], list[Problem], list[int]]:
    """Return each contact's language, one warning per contact whose language fell back (to
    its list's language, else ``default``), and the positions of those contacts."""
    contacts = merged.contacts
    codes, code_values = pd.factorize(contacts["language"].to_numpy())
    raws, raw_values = pd.factorize(contacts["_lang_raw"].to_numpy())
    # The fallback of each contact: its winning row's list's language, else the campaign's.
    of_lists = np.array([p.language or "" for p in merged.prepared] or [""], dtype=object)
    lists, list_values = pd.factorize(of_lists[contacts["_src"].to_numpy().astype(np.intp)])
    # One `_language` call per distinct (code, text as written, fallback), not per contact.
    width, depth = max(len(raw_values), 1), max(len(list_values), 1)
    inverse, triples = pd.factorize((codes * width + raws) * depth + lists)
    results = []
    for triple in triples.tolist():
        pair, fallback = divmod(triple, depth)
        of_list = bool(list_values[fallback]) if len(list_values) else False
        chosen = list_values[fallback] if of_list else default
        results.append(
            _language(code_values[pair // width], raw_values[pair % width], chosen, of_list)
        )
    languages = np.array([r[0] for r in results], dtype=object)[inverse].tolist()
    tables = [p.table.table for p in merged.prepared]
    displays = np.array([t.display for t in tables], dtype=object)
    sheets = np.array([t.sheet for t in tables], dtype=object)
    headers = np.array([p.columns.header_of("language") for p in merged.prepared], dtype=object)
    warned = np.flatnonzero(np.array([r[1] is not None for r in results], dtype=bool)[inverse])
    src = contacts["_src"].to_numpy()[warned]
    where = locations(
        displays[src].tolist(), contacts["_row"].to_numpy()[warned].tolist(),
        sheets[src].tolist(), headers[src].tolist(),
    )  # fmt: skip
    texts = np.array([r[2] for r in results], dtype=object)[inverse[warned]].tolist()
    codes_ = np.array([r[1] or "" for r in results], dtype=object)[inverse[warned]].tolist()
    warnings = list(map(Problem, texts, where, codes_))
    return languages, warnings, warned.tolist()


def _sources(merged: MergedTable) -> list[tuple[Location, ...]]:
    """Return each contact's provenance: its winning row, then every duplicate."""
    src = merged.rows["_src"].to_numpy()[merged.members]
    row = merged.rows["_row"].to_numpy()[merged.members].tolist()
    tables = [p.table.table for p in merged.prepared]
    paths = np.array([t.display for t in tables], dtype=object)[src].tolist()
    sheets = np.array([t.sheet for t in tables], dtype=object)[src].tolist()
    # map() drives these loops in C: a million records, so the interpreter loop matters.
    places = tuple(locations(paths, row, sheets))
    bounds = merged.bounds.tolist()
    return list(map(places.__getitem__, map(slice, bounds[:-1], bounds[1:])))


_ORDER = Contact._fields


def _build_contacts(values: Mapping[str, list[Any]]) -> list[Contact]:
    """Build the contacts from one list per field.

    When every field is given, in `Contact`'s order, each contact is ``tuple.__new__`` of a
    zipped row: the whole loop runs in C, much faster a million times than calling the
    constructor.  Keywords otherwise, so a field added to `Contact` later cannot receive
    another field's values.
    """
    names = tuple(values)
    if names == _ORDER:
        rows = zip(*values.values(), strict=True)
        return list(map(tuple.__new__, repeat(Contact), rows))
    rows = zip(*values.values(), strict=True)
    return [Contact(**dict(zip(names, row, strict=True))) for row in rows]


def book_from_table(merged: MergedTable, default_language: Language = "fr") -> ContactBook:
    """Build the `ContactBook` (one `Contact` per accepted address) from a merged table."""
    if not merged.prepared:
        return ContactBook((), merged.summaries, warnings=merged.warnings)
    contacts = merged.contacts
    names = list(merged.fields)
    index = {name: i for i, name in enumerate(names)}
    with no_gc():
        languages, language_warnings, fell_back = _languages(merged, default_language)
        slugs = per_unique(contacts["outlet"].to_numpy(), slugify).tolist()
        sources = _sources(merged)
        columns = [contacts[n].tolist() for n in names]
        columns[index["language"]] = languages
        fields = list(map(RowFields, repeat(index), zip(*columns, strict=True)))
        values = {
            "email": columns[index["email"]], "address": contacts["_address"].tolist(),
            "key": contacts["_key"].tolist(), "language": languages,
            "first_name": columns[index["first_name"]], "last_name": columns[index["last_name"]],
            "outlet": columns[index["outlet"]], "outlet_slug": slugs, "fields": fields,
            "sources": sources, "smtputf8": contacts["_smtputf8"].tolist(),
        }  # fmt: skip
        built = _build_contacts(values)
    keys = values["key"]
    return ContactBook(
        contacts=tuple(built),
        sources=merged.summaries,
        rejected=merged.rejected,
        suppressed=merged.suppressed,
        duplicates=merged.duplicates,
        warnings=(*merged.warnings, *language_warnings),
        conflicts=merged.conflicts,
        fallbacks=dict(zip([keys[i] for i in fell_back], language_warnings, strict=True)),
    )


def merge_sources(
    prepared: Sequence[PreparedSource],
    suppression: Suppression | None = None,
    default_language: Language = "fr",
    *,
    domain_check: DomainCheck | None = None,
    warnings: Iterable[Problem] = (),
) -> ContactBook:
    """Suppress, deduplicate and merge prepared sources (earlier wins) into a `ContactBook`."""
    merged = combine(prepared, suppression, domain_check=domain_check, extra_warnings=warnings)
    return book_from_table(merged, default_language)
