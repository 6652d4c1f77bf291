"""Suppression lists: addresses and domains that must never be sent to.

A list is a CSV, XLSX or ODS file with an address column (read like a contact source), or a
plain text file with one entry per line (``#`` starts a comment).  An entry is either

- an address: matched by `normalize.suppression_key`, so case, surrounding whitespace and
  ``+tag`` sub-addresses are ignored and an international domain matches its IDNA A-label
  (``Jean+presse@Bücher.example`` suppresses ``jean@xn--bcher-kva.example``); or
- a whole domain, written ``@example.org`` or ``*@example.org``: every address at that domain
  *and at its subdomains* (``news.example.org``) is suppressed, also IDNA-insensitively.

A doubtful match errs toward *not* sending.  An entry that is not a valid address or domain is
still used, as written, and reported as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from distrib.config import display_path
from distrib.contacts.addresses import fast_addresses
from distrib.contacts.columns import map_columns
from distrib.contacts.normalize import AddressError, clean_text, normalize_address, suppression_key
from distrib.contacts.read import Table, decode, find_header_row, locate_header, read_table
from distrib.errors import ContactsError, Location, Problem

__all__ = ["Suppression", "load_suppression", "read_suppression"]


_DOMAIN_ENTRY = re.compile(r"^\*?@(?P<domain>[^@\s]+)$")


def _address_key(value: str, fast: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """Return (suppression key, reason it is not a valid address or None); ``fast`` holds the
    keys the fast path already found for some values."""
    if fast is not None and value in fast:
        return fast[value], None
    accepted, _, _, skeys, _ = fast_addresses([value])
    if accepted[0]:
        return skeys[0], None
    try:
        return normalize_address(value).suppression_key, None
    except AddressError as exc:
        return suppression_key(value), exc.reason


def _domain_key(domain: str) -> tuple[str, str | None]:
    """Return (A-label domain, reason it is not a valid domain or None)."""
    try:
        return normalize_address(f"postmaster@{domain}").address.rpartition("@")[2], None
    except AddressError as exc:
        return clean_text(domain).casefold().rstrip("."), exc.reason


@dataclass(frozen=True, slots=True)
class Suppression:
    """Suppression keys and domains, each with where it was first listed, and warnings."""

    keys: Mapping[str, Location] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()
    domains: Mapping[str, Location] = field(default_factory=dict)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        key, _ = _address_key(address)
        return key in self.keys or self.domain_entry(key.rpartition("@")[2]) is not None

    def __len__(self) -> int:
        return len(self.keys) + len(self.domains)

    def domain_entry(self, domain: str) -> Location | None:
        """Return where ``domain`` (an A-label) or one of its parent domains is suppressed."""
        labels = domain.casefold().split(".")
        for i in range(len(labels)):
            where = self.domains.get(".".join(labels[i:]))
            if where is not None:
                return where
        return None

    def entry(self, key: str, address: str) -> Location:
        """Return where the entry matching a suppressed address (or its domain) was listed."""
        where = self.keys.get(key) or self.domain_entry(address.rpartition("@")[2])
        assert where is not None, "entry() is only asked about suppressed addresses"
        return where

    def with_entries(self, entries: Iterable[tuple[str, Location]]) -> Suppression:
        """Return a copy that also suppresses ``entries`` (address or domain, where listed)."""
        keys, domains = dict(self.keys), dict(self.domains)
        for value, where in entries:
            domain = _DOMAIN_ENTRY.match(clean_text(value))
            if domain is not None:
                domains.setdefault(_domain_key(domain.group("domain"))[0], where)
            else:
                keys.setdefault(_address_key(value)[0], where)
        return Suppression(keys, self.warnings, domains)


def _text_entries(path: Path) -> Iterator[tuple[str, Location]]:
    try:
        text, _ = decode(path.read_bytes())
    except OSError as exc:
        problem = Problem(f"cannot read the file: {exc.strerror}", Location(display_path(path)))
        raise ContactsError([problem]) from None
    except UnicodeError:
        problem = Problem("cannot be read as UTF-8 or Windows-1252", Location(display_path(path)))
        raise ContactsError([problem]) from None
    shown = display_path(path)  # once: it resolves the working directory
    for number, line in enumerate(text.splitlines(), start=1):
        value = clean_text(line)
        if value and not value.startswith("#"):
            yield value, Location(shown, number)


def _single_column(table: Table) -> bool:
    """Tell whether a table is a bare list of addresses: one used column and an "@" in it."""
    used = [c for c in table.frame.columns if (table.frame[c].str.strip() != "").any()]
    return len(used) == 1 and bool(table.frame[used[0]].str.contains("@", regex=False).any())


def _table_entries(path: Path) -> Iterator[tuple[str, Location]]:
    table = read_table(path)
    if find_header_row(table, {}) is None and _single_column(table):
        column = next(c for c in table.frame.columns if (table.frame[c].str.strip() != "").any())
        cells = table.frame[column]
        header = None
    else:
        source = locate_header(table, {})
        position = map_columns(source.headers).column_of("email")
        assert position is not None  # locate_header only returns tables with an address column
        cells, header = source.frame[position], source.headers[position]
    shown = table.display  # once: it resolves the working directory
    for row, cell in zip(cells.index.tolist(), cells.tolist(), strict=True):
        value = clean_text(str(cell))
        if value:
            yield value, Location(shown, int(row), table.sheet, header)


def read_suppression(path: Path) -> Suppression:
    """Read one suppression list; raise `ContactsError` if it cannot be used at all."""
    entries = list(_text_entries(path) if path.suffix.lower() == ".txt" else _table_entries(path))
    values = [value for value, _ in entries]
    accepted, _, _, skeys, _ = fast_addresses(values)  # the whole list at once: fast
    fast = {v: k for v, k, ok in zip(values, skeys, accepted.tolist(), strict=True) if ok}
    keys: dict[str, Location] = {}
    domains: dict[str, Location] = {}
    warnings: list[Problem] = []
    for value, where in entries:
        domain = _DOMAIN_ENTRY.match(value)
        if domain is not None:
            key, reason = _domain_key(domain.group("domain"))
            domains.setdefault(key, where)
            kind = "domain"
        else:
            key, reason = _address_key(value, fast)
            keys.setdefault(key, where)
            kind = "address"
        if reason is not None:
            message = f"{value!r} is not a valid {kind} ({reason}); suppressing it as written"
            warnings.append(Problem(message, where, "suppression-entry"))
    return Suppression(keys, tuple(warnings), domains)


def load_suppression(paths: Iterable[Path]) -> Suppression:
    """Read every suppression list; raise one `ContactsError` listing every unusable one."""
    keys: dict[str, Location] = {}
    domains: dict[str, Location] = {}
    warnings: list[Problem] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            one = read_suppression(path)
        except ContactsError as exc:
            problems.extend(exc.problems)
            continue
        for key, where in one.keys.items():
            keys.setdefault(key, where)
        for domain, where in one.domains.items():
            domains.setdefault(domain, where)
        warnings.extend(one.warnings)
    if problems:
        raise ContactsError(problems)
    return Suppression(keys, tuple(warnings), domains)
