"""Read a CSV or XLSX media list into a table of text, exactly as written.

Every cell is text: nothing is parsed as a number, date or missing value, so "NA", "Null" and a
phone number such as ``0612345678`` stay as written, and a cell starting with ``=`` is only text.
CSV encoding is detected (BOM, then strict UTF-8, then Windows-1252) and the delimiter sniffed
among ``,`` ``;`` tab and ``|``, unless the campaign file gives them.  Rows keep the number a
spreadsheet shows (the header is row 1), blank rows included, so problems point at the right row.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from distrib.config import SourceConfig, display_path
from distrib.contacts.columns import ADDRESS_HEADERS, map_columns
from distrib.errors import ContactsError, Location, Problem

__all__ = ["DELIMITERS", "SourceTable", "Table", "decode", "read_source", "read_table"]

DELIMITERS = (",", ";", "\t", "|")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_EXCEL = frozenset({".xlsx", ".xlsm"})
_UNSUPPORTED = {
    ".xls": "old Excel (.xls) files are not read; save it as .xlsx or CSV",
    ".ods": "OpenDocument (.ods) files are not read; save it as .xlsx or CSV",
    ".numbers": "Numbers files are not read; export it as .xlsx or CSV",
}
_HEADER_SEARCH = 10  # a title or notes may sit above the header row; look this far down for it
_SNIFF_LINES = 50


@dataclass(frozen=True, slots=True)
class Table:
    """Every row of one CSV file or sheet, as text, in positional columns 0..n-1.

    ``frame.index`` is the row number a spreadsheet shows (the first row is 1).
    """

    path: Path
    frame: pd.DataFrame
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None

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


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode file bytes; return (text, encoding name).  Raise `UnicodeError` or `LookupError`.

    Without ``encoding``: a BOM decides, else strict UTF-8, else Windows-1252 (what Excel on
    Windows writes in North America and Western Europe).
    """
    if encoding is not None:
        return data.decode(encoding).removeprefix("\ufeff"), encoding
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name).removeprefix("\ufeff"), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252"), "cp1252"


def _decode_file(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    if data.startswith(b"PK\x03\x04"):
        raise _problem(path, "this is an Excel (.xlsx) file; give it the .xlsx extension", "format")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _problem(path, "this is an old Excel (.xls) file; save it as .xlsx or CSV", "format")
    try:
        return decode(data, encoding)
    except LookupError:
        raise _problem(path, f"unknown encoding {encoding!r}", "encoding") from None
    except UnicodeDecodeError as exc:
        tried = encoding or "UTF-8 or Windows-1252"
        message = (
            f"cannot be read as {tried} (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"save it as UTF-8 CSV or set `encoding` for this source"
        )
        raise _problem(path, message, "encoding") from None


def _field_counts(sample: str, delimiter: str) -> list[int]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        return [len(record) for record in reader if any(cell.strip() for cell in record)]
    except csv.Error:
        return []


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first lines into the most, most consistent fields."""
    sample = "\n".join(text.splitlines()[:_SNIFF_LINES])
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        counts = _field_counts(sample, delimiter)
        if not counts or max(counts) < 2:
            continue
        widest = max(counts)
        score = (sum(c == widest for c in counts) / len(counts), widest)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _parse_csv(text: str, delimiter: str) -> pd.DataFrame:
    """Parse CSV text into text cells; blank lines stay as blank rows so row numbers hold."""
    try:
        return pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, dtype=str, na_filter=False,
            keep_default_na=False, skip_blank_lines=False, engine="c",
        )  # fmt: skip
    except pd.errors.ParserError:
        # Rows wider than the first one: the C parser refuses them, so pad them ourselves.
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        return _grid(records)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(dtype=str)


def _grid(records: Sequence[Sequence[str]]) -> pd.DataFrame:
    width = max((len(r) for r in records), default=0)
    padded = [list(r) + [""] * (width - len(r)) for r in records]
    return pd.DataFrame(padded, columns=range(width), dtype=str)


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> Table:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _problem(path, f"cannot read the file: {exc.strerror}", "io") from None
    text, used = _decode_file(path, data, encoding)
    delimiter = delimiter or sniff_delimiter(text)
    return Table(path, _numbered(_parse_csv(text, delimiter)), used, delimiter)


def _cell_text(value: Any) -> str:
    """Write an Excel cell value as the text a person reads in the cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    import openpyxl

    try:
        # openpyxl warns about styles and extensions it drops; they do not matter for reading.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # data_only: a formula cell reads as the value Excel last showed, never evaluated.
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise _problem(path, f"cannot read the file: {exc.strerror}", "io") from None
    except (
        zipfile.BadZipFile,
        KeyError,
        ValueError,
        openpyxl.utils.exceptions.InvalidFileException,
    ):
        raise _problem(
            path, "not a valid .xlsx file (save it again from Excel)", "format"
        ) from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            names = ", ".join(repr(n) for n in book.sheetnames)
            raise _problem(path, f"no sheet named {sheet!r} (sheets: {names})", "sheet")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = [[_cell_text(v) for v in row] for row in worksheet.iter_rows(values_only=True)]
        return Table(path, _numbered(_grid(rows)), sheet=worksheet.title)
    finally:
        book.close()


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return frame


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Table:
    """Read every row of a CSV file or an XLSX sheet as text; raise `ContactsError` if unusable."""
    suffix = path.suffix.lower()
    if suffix in _UNSUPPORTED:
        raise _problem(path, _UNSUPPORTED[suffix], "format")
    if not path.is_file():
        raise _problem(path, "file not found", "io")
    if suffix in _EXCEL:
        return _read_xlsx(path, sheet)
    return _read_csv(path, encoding, delimiter)


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
    filled = data.apply(lambda col: col.str.strip() != "").any(axis=1)
    data = data.loc[: filled[filled].index.max()] if filled.any() else data.iloc[:0]
    width = max(i for i, h in enumerate(headers) if h) + 1
    overflow: tuple[int, ...] = ()
    if table.delimiter is not None and len(headers) > width:
        beyond = data.iloc[:, width:].apply(lambda col: col.str.strip() != "").any(axis=1)
        overflow = tuple(int(n) for n in data.index[beyond])
    if table.delimiter is not None:
        headers, data = headers[:width], data.iloc[:, :width]
    keep = [i for i, h in enumerate(headers) if h or (data.iloc[:, i].str.strip() != "").any()]
    data = data.iloc[:, keep].copy()
    data.columns = pd.RangeIndex(len(keep))
    return SourceTable(table, tuple(headers[i] for i in keep), data, header_row, overflow)


def read_source(source: SourceConfig) -> SourceTable:
    """Read one contact source and find its header row; raise `ContactsError` if unusable."""
    table = read_table(
        source.path, encoding=source.encoding, delimiter=source.delimiter, sheet=source.sheet
    )
    return locate_header(table, source.columns)
