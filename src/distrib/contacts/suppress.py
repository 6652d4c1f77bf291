"""Suppression lists: addresses that must never be sent to (unsubscribed, bounced, refused).

A list is a CSV or XLSX file with an address column (read like a contact source), or a plain
text file with one address per line (``#`` starts a comment).  Matching uses
`normalize.suppression_key`: case, surrounding whitespace and ``+tag`` sub-addresses are ignored,
so a doubtful match errs toward *not* sending.  An entry that is not a valid address is still
used, as written, and reported as a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from distrib.config import display_path
from distrib.contacts.columns import map_columns
from distrib.contacts.normalize import AddressError, clean_text, normalize_address, suppression_key
from distrib.contacts.read import Table, decode, find_header_row, locate_header, read_table
from distrib.errors import ContactsError, Location, Problem

__all__ = ["Suppression", "load_suppression", "read_suppression"]


@dataclass(frozen=True, slots=True)
class Suppression:
    """Suppression keys, each with where it was first listed, and warnings about odd entries."""

    keys: Mapping[str, Location] = field(default_factory=dict)
    warnings: tuple[Problem, ...] = ()

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and suppression_key(address) in self.keys

    def __len__(self) -> int:
        return len(self.keys)

    def with_entries(self, entries: Iterable[tuple[str, Location]]) -> Suppression:
        """Return a copy that also suppresses ``entries`` (address, where it was listed)."""
        keys = dict(self.keys)
        for address, where in entries:
            keys.setdefault(suppression_key(address), where)
        return Suppression(keys, self.warnings)


def _text_entries(path: Path) -> Iterator[tuple[str, Location]]:
    try:
        text, _ = decode(path.read_bytes())
    except OSError as exc:
        problem = Problem(f"cannot read the file: {exc.strerror}", Location(display_path(path)))
        raise ContactsError([problem]) from None
    except UnicodeError:
        problem = Problem("cannot be read as UTF-8 or Windows-1252", Location(display_path(path)))
        raise ContactsError([problem]) from None
    for number, line in enumerate(text.splitlines(), start=1):
        value = clean_text(line)
        if value and not value.startswith("#"):
            yield value, Location(display_path(path), number)


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
    for row, cell in zip(cells.index.tolist(), cells.tolist(), strict=True):
        value = clean_text(str(cell))
        if value:
            yield value, table.where(int(row), header)


def read_suppression(path: Path) -> Suppression:
    """Read one suppression list; raise `ContactsError` if it cannot be used at all."""
    entries = _text_entries(path) if path.suffix.lower() == ".txt" else _table_entries(path)
    keys: dict[str, Location] = {}
    warnings: list[Problem] = []
    for value, where in entries:
        try:
            key = normalize_address(value).suppression_key
        except AddressError as exc:
            key = suppression_key(value)
            message = f"{value!r} is not a valid address ({exc.reason}); suppressing it as written"
            warnings.append(Problem(message, where, "suppression-entry"))
        keys.setdefault(key, where)
    return Suppression(keys, tuple(warnings))


def load_suppression(paths: Iterable[Path]) -> Suppression:
    """Read every suppression list; raise one `ContactsError` listing every unusable one."""
    keys: dict[str, Location] = {}
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
        warnings.extend(one.warnings)
    if problems:
        raise ContactsError(problems)
    return Suppression(keys, tuple(warnings))
