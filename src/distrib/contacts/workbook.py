"""Read XLSX and ODS workbooks into grids of text cells, safely.

Cells are read with python-calamine (Rust; about 20 times faster than openpyxl on a 100,000-row
sheet, and it gives the same text for every cell type: `tests/test_contacts_workbook.py` checks
it against openpyxl).  Before calamine sees the file, `inspect` reads every member of the zip
once, in chunks, to enforce the size limits on what the file *really* unpacks to (a zip bomb
lies in its headers), to refuse any XML document type declaration (the only way to declare the
entities of a "billion laughs" bomb; no spreadsheet program writes one), and to find sheets
holding formulas or error values.  Only those sheets are parsed a second time, with defusedxml,
to report formula cells without a saved value (calamine would give a blank) and to keep error
values such as ``#N/A`` as written.

Calamine builds a sheet as one grid from A1 to its last cell, so the same pass also finds how
far each sheet's cells reach (`extent.QuickScan`), and a sheet that reaches, or declares in its
``<dimension>``, more rows, columns or cells than `extent.TableLimits` allow is refused before
calamine reads it; an ODS file's tables are measured the same way, repeated rows and cells
included.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from distrib.contacts.extent import (
    DEFAULT_TABLE_LIMITS,
    Extent,
    QuickScan,
    TableLimits,
    column_letters,
    ods_extents,
    too_big,
    xlsx_extent,
)
from distrib.errors import ContactsError, Location, Problem

__all__ = ["CellNote", "Sheet", "WorkbookLimits", "cell_text", "read_workbook"]

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_CHUNK = 1 << 20
_DTD = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)
_ROOT = re.compile(rb"<[A-Za-z_]")
_XLSX_SPECIAL = re.compile(rb'<(?:\w+:)?f[\s>/]|\bt="e"')
_ODS_SPECIAL = re.compile(rb"table:formula=")
# Literal pieces every match of the patterns above contains: a byte search (memchr speed)
# rules a chunk out before the slower regular expression runs on it.
_HINTS = {_XLSX_SPECIAL: (b"<f", b":f", b't="e"'), _ODS_SPECIAL: (b"table:formula=",)}


@dataclass(frozen=True, slots=True)
class WorkbookLimits:
    """How big a workbook may be: the file, what its members unpack to in all, and each sheet."""

    max_file_bytes: int
    max_unpacked_bytes: int
    table: TableLimits = DEFAULT_TABLE_LIMITS


@dataclass(frozen=True, slots=True)
class CellNote:
    """A cell calamine cannot show as written: a formula without a saved value, or an error."""

    row: int
    column: int
    kind: str  # "formula" or "error"
    text: str


@dataclass(frozen=True, slots=True)
class Sheet:
    """One sheet: its name, its rows of text (row 1 first) and the cells worth a note."""

    name: str
    rows: list[list[str]]
    notes: tuple[CellNote, ...] = field(default=())


def cell_text(value: Any) -> str:
    """Write a spreadsheet cell value as the text a person reads in the cell."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _fail(display: str, message: str, code: str = "format") -> ContactsError:
    return ContactsError([Problem(message, Location(display), code)])


def _scan_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    budget: int,
    special: re.Pattern[bytes],
    quick: QuickScan | None = None,
) -> tuple[int, bool, bool]:
    """Read one member in chunks; return (bytes unpacked, has a DTD, matches ``special``).

    ``quick``, when given, sees every window (for how far a worksheet's cells reach).
    """
    size, dtd, found, before_root, tail = 0, False, False, True, b""
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > budget:
                return size, dtd, found
            window = tail + chunk
            if before_root:
                root = _ROOT.search(window)
                head = window if root is None else window[: root.start()]
                dtd = dtd or _DTD.search(head) is not None
                before_root = root is None
            if not found and any(hint in window for hint in _HINTS[special]):
                found = special.search(window) is not None
            if quick is not None:
                quick.feed(window)
            tail = window[-64:]
    return size, dtd, found


@dataclass(frozen=True, slots=True)
class Inspection:
    """What `inspect` found: members holding formulas or error values, and for an XLSX file
    the quick scan of every member holding cells (a ``<sheetData>``)."""

    flagged: set[str]
    sheets: dict[str, QuickScan]


def inspect(
    path: Path, display: str, limits: WorkbookLimits, special: re.Pattern[bytes]
) -> Inspection:
    """Check a workbook's zip; return what it holds.  Raise `ContactsError`."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise _fail(display, "not a valid workbook (save it again from your spreadsheet)") from None
    flagged: set[str] = set()
    sheets: dict[str, QuickScan] = {}
    total = 0
    xlsx = special is _XLSX_SPECIAL
    with archive:
        counts = Counter(info.filename for info in archive.infolist())
        twice = sorted(name for name, count in counts.items() if count > 1)
        if twice:  # which of the two a reader takes is anybody's guess
            raise _fail(display, f"not a valid workbook (two members named {twice[0]!r})")
        for info in archive.infolist():
            # Every member: a sheet is whatever the relationships name, whatever its suffix.
            quick = QuickScan() if xlsx else None
            try:
                size, dtd, found = _scan_member(
                    archive, info, limits.max_unpacked_bytes - total, special, quick
                )
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
                raise _fail(display, "not a valid workbook (damaged zip)") from None
            total += size
            if total > limits.max_unpacked_bytes:
                mb = limits.max_unpacked_bytes // (1 << 20)
                raise _fail(display, f"unpacks to more than {mb} MB; refused (zip bomb?)", "size")
            if dtd:
                message = (
                    f"{info.filename} declares XML entities (<!DOCTYPE>), which spreadsheet "
                    f"programs never write; refused (possible entity bomb)"
                )
                raise _fail(display, message, "unsafe-xml")
            if found:
                flagged.add(info.filename)
            if quick is not None and quick.started:
                sheets[info.filename] = quick
    return Inspection(flagged, sheets)


def _over(display: str, sheet: str, reason: str) -> ContactsError:
    return ContactsError([Problem(reason, Location(display, sheet=sheet), "size")])


def _check_xlsx_extents(
    archive: zipfile.ZipFile,
    display: str,
    scans: dict[str, QuickScan],
    names: dict[str, str],
    limits: TableLimits,
) -> None:
    """Refuse a workbook with a sheet that declares, or reaches, more than ``limits`` allow.

    Every member holding cells is checked, wanted or not (``names`` maps members to sheet
    names): a reader must never build it.
    """
    for member, quick in scans.items():
        sheet = names.get(member, member)
        declared = quick.declared_extent()
        if declared is not None:
            reason = too_big(declared.rows, declared.columns, limits)
            if reason is not None:
                raise _over(display, sheet, f"declares its size as {quick.declared}: {reason}")
        bound = quick.bound()
        if not quick.unsure and too_big(bound.rows, bound.columns, limits) is None:
            continue
        try:
            with archive.open(member) as stream:
                extent = xlsx_extent(stream, limits)
        except (ValueError, zipfile.BadZipFile, OSError, EOFError):
            raise _fail(display, f"sheet {sheet!r} cannot be read") from None
        _refuse_extent(display, sheet, extent, limits)


def _refuse_extent(display: str, sheet: str, extent: Extent, limits: TableLimits) -> None:
    reason = too_big(extent.rows, extent.columns, limits)
    if reason is not None:
        corner = f"{column_letters(extent.columns)}{extent.rows}"
        raise _over(display, sheet, f"its cells reach {corner}: {reason}")


def _check_ods_extents(archive: zipfile.ZipFile, display: str, limits: TableLimits) -> None:
    """Refuse an ODS file with a table larger than ``limits``, repeated cells counted."""
    try:
        with archive.open("content.xml") as stream:
            extents = ods_extents(stream)
    except KeyError:
        return  # calamine says it is not a valid workbook
    except (ValueError, zipfile.BadZipFile, OSError, EOFError):
        raise _fail(display, "not a valid workbook (its content is unreadable)") from None
    for name, extent in extents.items():
        _refuse_extent(display, name, extent, limits)


def _xlsx_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """Map each sheet name to its XML member, from workbook.xml and its relationships."""
    book = SafeET.fromstring(archive.read("xl/workbook.xml"))
    rels = SafeET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(f"{_PKG_REL}Relationship")}
    members = {}
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(f"{_REL}id"), "")
        member = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
        members[sheet.get("name", "")] = posixpath.normpath(member)
    return members


def _column_number(reference: str) -> tuple[int, int]:
    """Turn "BC12" into (row 12, column index 54, 0-based)."""
    letters = reference.rstrip("0123456789")
    column = 0
    for letter in letters.upper():
        column = column * 26 + ord(letter) - 64
    return int(reference[len(letters) :]), column - 1


def _xlsx_notes(archive: zipfile.ZipFile, member: str) -> Iterator[CellNote]:
    """Yield formula cells without a saved value and error cells of one sheet."""
    with archive.open(member) as stream:
        for _, element in SafeET.iterparse(stream, events=("end",)):
            if element.tag != f"{_MAIN}c":
                continue
            formula, value = element.find(f"{_MAIN}f"), element.find(f"{_MAIN}v")
            saved = (value is not None and value.text) or element.find(f"{_MAIN}is") is not None
            reference = element.get("r")
            if reference is not None and formula is not None and not saved:
                row, column = _column_number(reference)
                yield CellNote(row, column, "formula", f"={formula.text or ''}")
            elif reference is not None and element.get("t") == "e" and value is not None:
                row, column = _column_number(reference)
                yield CellNote(row, column, "error", value.text or "")
            element.clear()


def _ods_notes(archive: zipfile.ZipFile, sheet: str) -> Iterator[CellNote]:
    """Yield the formula cells of one ODS sheet that have no saved value."""
    row, column, inside = 0, 0, False
    with archive.open("content.xml") as stream:
        for event, element in SafeET.iterparse(stream, events=("start", "end")):
            tag = element.tag
            if tag == f"{_TABLE}table":
                if event == "start":
                    inside, row = element.get(f"{_TABLE}name") == sheet, 0
            elif tag == f"{_TABLE}table-row":
                if event == "start":
                    row, column = row + 1, 0
                else:
                    row += int(element.get(f"{_TABLE}number-rows-repeated", "1")) - 1
                    element.clear()
            elif event == "end" and tag in (f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"):
                formula = element.get(f"{_TABLE}formula")
                no_value = element.get(f"{_OFFICE}value-type") is None
                if inside and formula is not None and no_value:
                    text = (formula.partition(":")[2] or formula).lstrip("=")
                    yield CellNote(row, column, "formula", f"={text}")
                column += int(element.get(f"{_TABLE}number-columns-repeated", "1"))


def _sheet_rows(book: Any, name: str) -> list[list[str]]:
    rows = book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return [[cell_text(v) for v in row] for row in rows]


def _sheet_names(book: Any, display: str, sheet: str | tuple[str, ...] | None) -> list[str]:
    import python_calamine

    names: list[str] = list(book.sheet_names)
    # Chart and dialog sheets hold no cells: "the first sheet" and "*" mean worksheets.
    work = [
        m.name for m in book.sheets_metadata if m.typ == python_calamine.SheetTypeEnum.WorkSheet
    ]
    if sheet is None:
        return work[:1]
    if sheet == "*":
        return work
    wanted = (sheet,) if isinstance(sheet, str) else sheet
    missing = [w for w in wanted if w not in names]
    if missing:
        listed = ", ".join(repr(n) for n in names)
        absent = ", ".join(repr(m) for m in missing)
        raise _fail(display, f"no sheet named {absent} (sheets: {listed})", "sheet")
    return list(wanted)


def read_workbook(
    path: Path, display: str, sheet: str | tuple[str, ...] | None, limits: WorkbookLimits
) -> list[Sheet]:
    """Read the wanted sheets (first, named, listed or ``"*"``) as text; raise `ContactsError`."""
    import python_calamine

    ods = path.suffix.lower() == ".ods"
    inspection = inspect(path, display, limits, _ODS_SPECIAL if ods else _XLSX_SPECIAL)
    flagged = inspection.flagged
    if ods:  # calamine reads every table of an ODS file when it opens it
        with zipfile.ZipFile(path) as archive:
            _check_ods_extents(archive, display, limits.table)
    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
    except Exception:  # calamine raises its own, undocumented, error types for bad files
        raise _fail(display, "not a valid workbook (save it again from your spreadsheet)") from None
    with book, zipfile.ZipFile(path) as archive:
        names = _sheet_names(book, display, sheet)
        try:
            members = {} if ods else _xlsx_members(archive)
        except (KeyError, SafeET.ParseError, DefusedXmlException):
            raise _fail(
                display, "not a valid workbook (its list of sheets is unreadable)"
            ) from None
        if not ods:  # before calamine builds any sheet (it builds them one by one, on demand)
            by_member = {member: name for name, member in members.items()}
            _check_xlsx_extents(archive, display, inspection.sheets, by_member, limits.table)
        sheets = []
        for name in names:
            try:
                rows = _sheet_rows(book, name)
            except Exception:  # same as above
                raise _fail(display, f"sheet {name!r} cannot be read") from None
            notes: tuple[CellNote, ...] = ()
            if ods and "content.xml" in flagged:
                notes = tuple(_ods_notes(archive, name))
            elif members.get(name) in flagged:
                notes = tuple(_xlsx_notes(archive, members[name]))
            sheets.append(Sheet(name, rows, notes))
    return sheets
