"""Read a media list (CSV/TSV/TXT, XLSX, ODS or vCard) into a table of text, exactly as written.

Every cell is text: nothing is parsed as a number, date or missing value, so "NA", "Null" and a
phone number such as ``0612345678`` stay as written, and a cell starting with ``=`` is only text.
Text files: see `textfile` (encoding and delimiter detection); workbooks: see `workbook`
(calamine, size limits, entity bombs, formulas without a saved value); vCards: see `vcard`.
Rows keep the number a spreadsheet shows (the header is row 1), blank rows included, so problems
point at the right row.  Files larger than `Limits.max_file_bytes` are refused with a clear error,
and so is a table with more rows, columns or cells than the limits allow (checked before the
table is built: see `extent`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from distrib.config import SourceConfig, display_path
from distrib.contacts.columns import ADDRESS_HEADERS, map_columns
from distrib.contacts.extent import DEFAULT_TABLE_LIMITS, TableLimits
from distrib.contacts.textfile import (
    DELIMITERS,
    decode,
    decode_file,
    grid,
    parse_delimited,
    sniff_delimiter,
)
from distrib.contacts.vcard import read_vcards
from distrib.contacts.vector import nonblank, strings
from distrib.contacts.workbook import CellNote, WorkbookLimits, read_workbook
from distrib.errors import ContactsError, Location, Problem

__all__ = [
    "DEFAULT_LIMITS",
    "DELIMITERS",
    "Limits",
    "SourceTable",
    "Table",
    "decode",
    "read_source",
    "read_sources",
    "read_table",
    "read_tables",
    "sniff_delimiter",
]

_WORKBOOKS = frozenset({".xlsx", ".xlsm", ".ods"})
_VCARDS = frozenset({".vcf", ".vcard"})
_UNSUPPORTED = {
    ".xls": "old Excel (.xls) files are not read; save it as .xlsx or CSV",
    ".numbers": "Numbers files are not read; export it as .xlsx or CSV",
}
_HEADER_SEARCH = 10  # a title or notes may sit above the header row; look this far down for it


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits on what a source may hold (the campaign's ``[contacts]`` table sets them)."""

    max_file_bytes: int = 256 << 20
    max_unpacked_bytes: int = 1 << 30
    max_cell_chars: int = 32_767  # Excel's own limit for one cell
    max_rows: int = DEFAULT_TABLE_LIMITS.max_rows
    max_columns: int = DEFAULT_TABLE_LIMITS.max_columns
    max_cells: int = DEFAULT_TABLE_LIMITS.max_cells

    @property
    def table(self) -> TableLimits:
        """How big one sheet or text table may be."""
        return TableLimits(self.max_rows, self.max_columns, self.max_cells)

    @property
    def workbook(self) -> WorkbookLimits:
        """The limits that apply to a zipped workbook."""
        return WorkbookLimits(self.max_file_bytes, self.max_unpacked_bytes, self.table)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Table:
    """Every row of one text file, sheet or vCard file, as text, in positional columns 0..n-1.

    ``frame.index`` is the row number a spreadsheet shows (the first row is 1; for a vCard, the
    line of each card's ``BEGIN:VCARD``).  ``encoding_basis`` says how the encoding was chosen
    (see `textfile.Decoded`); ``notes`` lists cells that could not be read as written.
    """

    path: Path
    frame: pd.DataFrame
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    encoding_basis: str | None = None
    notes: tuple[CellNote, ...] = ()

    @property
    def display(self) -> str:
        """The path as shown to the officer."""
        return display_path(self.path)

    def where(self, row: int | None = None, column: str | None = None) -> Location:
        """Return a `Location` in this table."""
        return Location(self.display, row, self.sheet, column)


@dataclass(frozen=True, slots=True)
class SourceTable:
    """The data rows of a source under its header row, with what was detected about the file.

    ``frame`` has positional columns matching ``headers`` and is indexed by spreadsheet row
    number.  ``overflow`` lists rows with cells to the right of the last header (in a CSV, a
    value holding an unquoted delimiter); ``header_row`` is usually 1.
    """

    table: Table
    headers: tuple[str, ...]
    frame: pd.DataFrame
    header_row: int
    overflow: tuple[int, ...] = ()


def _problem(path: Path, message: str, code: str, sheet: str | None = None) -> ContactsError:
    return ContactsError([Problem(message, Location(display_path(path), sheet=sheet), code)])


def _check_size(path: Path, limits: Limits) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _problem(path, f"cannot read the file: {exc.strerror}", "io") from None
    if size > limits.max_file_bytes:
        mb = limits.max_file_bytes // (1 << 20)
        message = (
            f"the file is {size / (1 << 20):.1f} MB, over the {mb} MB limit "
            f"(raise contacts.max_file_mb in the campaign file if it really is a media list)"
        )
        raise _problem(path, message, "size")


def _read_bytes(path: Path, limits: Limits) -> bytes:
    _check_size(path, limits)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _problem(path, f"cannot read the file: {exc.strerror}", "io") from None


def _read_text(path: Path, encoding: str | None, delimiter: str | None, limits: Limits) -> Table:
    data = _read_bytes(path, limits)
    found = decode_file(path, display_path(path), data, encoding)
    delimiter = delimiter or sniff_delimiter(found.text)
    parsed = parse_delimited(
        found.text, delimiter, data, found.encoding, display=display_path(path),
        limits=limits.table,
    )  # fmt: skip
    frame = _numbered(parsed)
    return Table(path, frame, found.encoding, delimiter, encoding_basis=found.basis)


def _read_vcard(path: Path, encoding: str | None, limits: Limits) -> Table:
    found = decode_file(path, display_path(path), _read_bytes(path, limits), encoding)
    frame, notes = read_vcards(found.text)
    return Table(path, frame, found.encoding, encoding_basis=found.basis, notes=notes)


def _read_sheets(path: Path, sheet: str | tuple[str, ...] | None, limits: Limits) -> list[Table]:
    _check_size(path, limits)
    sheets = read_workbook(path, display_path(path), sheet, limits.workbook)
    tables = []
    for one in sheets:
        frame = _numbered(grid(one.rows))
        errors = [n for n in one.notes if n.kind == "error"]
        for note in errors:  # calamine reads "#N/A" as blank: put back what the cell shows
            if note.row in frame.index and note.column in frame.columns:
                frame.loc[note.row, note.column] = note.text
        notes = tuple(n for n in one.notes if n.kind != "error")
        tables.append(Table(path, frame, sheet=one.name, notes=notes))
    return tables


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def read_tables(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | tuple[str, ...] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Table]:
    """Read every wanted table of a file (one, or one per sheet); raise `ContactsError`."""
    suffix = path.suffix.lower()
    if suffix in _UNSUPPORTED:
        raise _problem(path, _UNSUPPORTED[suffix], "format")
    if not path.is_file():
        raise _problem(path, "file not found", "io")
    if suffix in _WORKBOOKS:
        return _read_sheets(path, sheet, limits)
    if suffix in _VCARDS:
        return [_read_vcard(path, encoding, limits)]
    return [_read_text(path, encoding, delimiter, limits)]


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Table:
    """Read a text file, one sheet (the first unless named) or a vCard file as text."""
    return read_tables(path, encoding=encoding, delimiter=delimiter, sheet=sheet, limits=limits)[0]


def _blank(row: Sequence[str]) -> bool:
    return not any(cell.strip() for cell in row)


def find_header_row(table: Table, overrides: Mapping[str, str]) -> int | None:
    """Return the row number of the header: the first of the first rows with an address column."""
    looked = 0
    for number, row in zip(table.frame.index, table.frame.itertuples(index=False), strict=True):
        if _blank(row):
            continue
        if map_columns(list(row), overrides).column_of("email") is not None:
            return int(number)
        looked += 1
        if looked >= _HEADER_SEARCH:
            break
    return None


def _no_address_column(table: Table) -> ContactsError:
    first = next((list(r) for r in table.frame.itertuples(index=False) if not _blank(r)), [])
    first = [str(h) for h in first]
    found = ", ".join(repr(h.strip()) for h in first if h.strip()) or "none (the file is empty)"
    expected = ", ".join(ADDRESS_HEADERS)
    message = (
        f"no address column; headers found: {found}; expected one of: {expected} "
        f"(or map a column to 'email' with `columns` in the campaign file)"
    )
    return ContactsError([Problem(message, table.where(), "no-address-column")])


def locate_header(table: Table, overrides: Mapping[str, str]) -> SourceTable:
    """Split a table into header and data rows; raise `ContactsError` if no address column."""
    header_row = find_header_row(table, overrides)
    if header_row is None:
        raise _no_address_column(table)
    frame = table.frame
    headers = [str(h).strip() for h in frame.loc[header_row]]
    data = frame.loc[header_row + 1 :]
    # Trailing blank rows (often just formatting in a sheet) are not counted even as blank rows.
    # Walk up from the bottom: there are rarely more than a few.
    last = len(data)
    while last and not any(str(cell).strip() for cell in data.iloc[last - 1].tolist()):
        last -= 1
    data = data.iloc[:last]
    width = max(i for i, h in enumerate(headers) if h) + 1
    overflow: tuple[int, ...] = ()
    if table.delimiter is not None and len(headers) > width:
        beyond = data.iloc[:, width:].apply(_filled).any(axis=1)
        overflow = tuple(int(n) for n in data.index[beyond])
    if table.delimiter is not None:
        headers, data = headers[:width], data.iloc[:, :width]
    keep = [i for i, h in enumerate(headers) if h or _filled(data.iloc[:, i]).any()]
    if keep != list(range(data.shape[1])):
        data = data.iloc[:, keep]
    # A new frame over the same cells (pandas copies on write), not a copy of every cell.
    data = data.set_axis(pd.RangeIndex(len(keep)), axis=1)
    return SourceTable(table, tuple(headers[i] for i in keep), data, header_row, overflow)


def _blank_table(table: Table) -> bool:
    return not any(_filled(table.frame[c]).any() for c in table.frame.columns)


def _filled(column: pd.Series[str]) -> pd.Series[bool]:
    return pd.Series(nonblank(strings(column)), index=column.index)


def read_sources(
    source: SourceConfig, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[SourceTable], list[Problem]]:
    """Read one contact source (all its wanted sheets) and find each header row.

    Returns the tables and warnings (blank sheets skipped); raises `ContactsError` listing every
    sheet without an address column.
    """
    tables = read_tables(
        source.path, encoding=source.encoding, delimiter=source.delimiter,
        sheet=source.sheet, limits=limits,
    )  # fmt: skip
    found: list[SourceTable] = []
    warnings: list[Problem] = []
    problems: list[Problem] = []
    for table in tables:
        if len(tables) > 1 and _blank_table(table):
            warnings.append(Problem("blank sheet; nothing to read", table.where(), "blank-sheet"))
            continue
        try:
            found.append(locate_header(table, source.columns))
        except ContactsError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ContactsError(problems)
    return found, warnings


def read_source(source: SourceConfig, limits: Limits = DEFAULT_LIMITS) -> SourceTable:
    """Read one contact source and find its header row (the first table if several)."""
    tables, _ = read_sources(source, limits)
    if not tables:
        raise _problem(source.path, "every sheet is blank", "no-address-column")
    return tables[0]
