"""How big one table (a sheet, or a text file) may be: rows, columns and cells in all.

A reader builds every table as a full grid, rows x columns, from the first cell: a 1.5 KB
workbook holding one cell at XFD1048576, or a 200 KB CSV whose first row has 100,000 fields,
would make it allocate billions of cells.  Each reader checks the size a table will have
*before* building it, against these limits (the campaign's ``[contacts]`` table sets them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import IO
from xml.parsers import expat

__all__ = [
    "DEFAULT_TABLE_LIMITS",
    "Extent",
    "QuickScan",
    "TableLimits",
    "cell_position",
    "column_letters",
    "column_number",
    "ods_extents",
    "too_big",
    "xlsx_extent",
]


@dataclass(frozen=True, slots=True)
class TableLimits:
    """The largest table a contact source may hold.  The defaults are Excel's row maximum,
    a thousand columns (media lists have a few dozen at most) and twenty million cells."""

    max_rows: int = 1_048_576
    max_columns: int = 1_000
    max_cells: int = 20_000_000


DEFAULT_TABLE_LIMITS = TableLimits()


def column_letters(number: int) -> str:
    """Return a 1-based column number as a spreadsheet names it: 1 -> A, 28 -> AB."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def too_big(rows: int, columns: int, limits: TableLimits, detail: str = "") -> str | None:
    """Say why a table of ``rows`` x ``columns`` is refused; None when it is within the limits.

    ``detail`` (e.g. "row 5 has 2,000 fields") is shown after the size.
    """
    cells = rows * columns
    over = [
        f"contacts.{name} = {limit:,}"
        for name, value, limit in (
            ("max_rows", rows, limits.max_rows),
            ("max_columns", columns, limits.max_columns),
            ("max_cells", cells, limits.max_cells),
        )
        if value > limit
    ]
    if not over:
        return None
    shown = f" ({detail})" if detail else ""
    return (
        f"{rows:,} rows x {columns:,} columns{shown}, {cells:,} cells: more than "
        + " and ".join(over)
        + "; refused (a damaged file, or not a media list: if it really is one, raise the"
        " limit in the campaign file's [contacts] table)"
    )


# --- Workbooks: how far a sheet's cells reach, found before any reader builds the sheet ------
#
# python-calamine builds a sheet as one dense grid from A1 to its last cell, so a single cell at
# XFD1048576 costs 17 billion cells.  Every worksheet member is scanned as it is unpacked (see
# `workbook.inspect`), in 1 MB windows, for the few references that can make a sheet large:
#
# * a cell reference with two or more column letters, or a single letter from U to Z;
# * a row number of seven digits or more (in a cell reference or a <row r="…">);
# * anything the fast scan cannot account for: a <c> or <row> without ``r="…"`` first (its
#   position is then counted from the one before), a namespace prefix, an odd spelling.
#
# Without any of these a sheet is at most 999,999 rows x 20 columns (19,999,980 cells, within
# the default limits), which is what nearly every media list is; the scan costs one regular
# expression pass per window for the references and three short ones for the rest.  A sheet
# whose quick bound is over the limits is parsed once more with expat, exactly as calamine
# places cells, and refused only if its real extent is over them.

# Group 1: wide column letters; group 2: a long row number.
_BIG_REF = re.compile(rb'r="(?:([A-Za-z]{2,}|[U-Zu-z])|[A-Za-z]{0,3}(\d{7,}))')
_NO_REF = (
    re.compile(rb'<c(?! r=")[\s>/]'),
    re.compile(rb'<row(?! r=")[\s>/]'),
    re.compile(rb":(?:c|row)[\s>/]"),
)
_DIMENSION = re.compile(rb"""<(?:\w+:)?dimension\s[^>]*?\bref\s*=\s*["']([^"']{1,40})["']""")
_REF = re.compile(r"([A-Za-z]+)(\d+)")
_QUICK_ROWS, _QUICK_COLUMNS = 999_999, 20
_HUGE = 10**12  # a row or column number too long to be anything but refused


def column_number(letters: str) -> int:
    """Return the 1-based number of a column's letters: A -> 1, XFD -> 16,384 (at most
    `_HUGE`: calamine reads letters and digits of any length)."""
    if len(letters) > 8:
        return _HUGE
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return min(number, _HUGE)


def cell_position(reference: str) -> tuple[int, int] | None:
    """Return the 1-based (row, column) of "BC12" (leading zeros allowed, as calamine reads
    them); None when it is not a cell reference."""
    match = _REF.fullmatch(reference)
    if match is None:
        return None
    digits = match.group(2).lstrip("0") or "0"
    row = int(digits) if len(digits) <= 12 else _HUGE
    return min(row, _HUGE), column_number(match.group(1))


@dataclass(frozen=True, slots=True)
class Extent:
    """How far a sheet reaches: its last row and last column (1-based; 0 when empty)."""

    rows: int
    columns: int


@dataclass
class QuickScan:
    """What the quick scan of one worksheet member found (see the comment above)."""

    started: bool = False  # <sheetData> seen: cells follow
    rows: int = 0  # the largest row number of seven digits or more seen
    columns: int = 0  # the largest column number of U or beyond seen
    unsure: bool = False  # something only the exact parse can place
    declared: str | None = None  # the <dimension ref="…"> the member declares

    def feed(self, window: bytes) -> None:
        """Scan one window of the member (windows overlap by a few dozen bytes)."""
        if not self.started:
            if self.declared is None and (found := _DIMENSION.search(window)) is not None:
                self.declared = found.group(1).decode("ascii", "replace")
            self.started = b"sheetData" in window
            if not self.started:
                return
        for letters, digits in _BIG_REF.findall(window):
            if letters:
                self.columns = max(self.columns, column_number(letters.decode("ascii")))
            elif len(digits) > 12:  # it may go on in the next window: let expat read it whole
                self.unsure = True
            else:
                self.rows = max(self.rows, int(digits))
        if not self.unsure:
            # A tag cut at the end of the window is seen whole at the start of the next one.
            end = len(window) - 16
            for pattern in _NO_REF:
                found = pattern.search(window)
                if found is not None and found.start() < end:
                    self.unsure = True
                    break

    def bound(self) -> Extent:
        """The largest extent the sheet can have, if not `unsure`."""
        return Extent(max(self.rows, _QUICK_ROWS), max(self.columns, _QUICK_COLUMNS))

    def declared_extent(self) -> Extent | None:
        """The extent the member's <dimension> declares (None: none, or not a range)."""
        if self.declared is None:
            return None
        corners = [cell_position(part) for part in self.declared.split(":")]
        if not corners or any(corner is None for corner in corners):
            return None
        return Extent(
            max(corner[0] for corner in corners if corner is not None),
            max(corner[1] for corner in corners if corner is not None),
        )


class _Over(Exception):
    """Stops an exact parse as soon as the sheet is over the limits."""

    def __init__(self, extent: Extent) -> None:
        self.extent = extent


def _refuse_dtd(*_: object) -> None:
    raise ValueError("a document type declaration (refused)")


def _expat() -> expat.XMLParserType:
    """An expat parser that refuses any DTD (so no entity can be declared)."""
    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    return parser


def _number(value: str | None, default: int) -> int:
    if value is None:
        return default
    value = value.strip()
    if not value.isdigit() or not value.isascii():
        raise ValueError(f"not a number: {value[:20]!r}")
    return int(value) if len(value) <= 12 else _HUGE


def xlsx_extent(stream: IO[bytes], limits: TableLimits) -> Extent:
    """Parse one worksheet and place its cells as calamine does; return its extent, or stop
    with the extent reached as soon as it is over ``limits``.  Raise `ValueError` for a
    sheet that is not well-formed XML."""
    row, column, last_row = 0, 0, 0
    rows, columns = 0, 0

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal row, column, last_row, rows, columns
        local = name.rpartition(":")[2]
        if local == "row":
            reference = attributes.get("r")
            row = _number(reference, max(row, last_row) + 1)
            column = 0
        elif local == "c":
            reference = attributes.get("r")
            position = None if reference is None else cell_position(reference.strip())
            if position is None:  # no reference (or one calamine refuses): the next column
                column += 1
                position = (row, column)
            last_row, column = position
            if position[0] > rows or position[1] > columns:
                rows, columns = max(rows, position[0]), max(columns, position[1])
                if too_big(rows, columns, limits) is not None:
                    raise _Over(Extent(rows, columns))

    parser = _expat()
    parser.StartElementHandler = start
    try:
        parser.ParseFile(stream)
    except _Over as over:
        return over.extent
    except expat.ExpatError as exc:
        raise ValueError(str(exc)) from None
    return Extent(rows, columns)


_ODS_TABLE = "table:table"
_ODS_ROW = "table:table-row"
_ODS_CELLS = frozenset({"table:table-cell", "table:covered-table-cell"})


def ods_extents(stream: IO[bytes]) -> dict[str, Extent]:
    """Parse an ODS content.xml; return each table's extent, counting repeated rows and cells
    (``number-rows-repeated``, ``number-columns-repeated``) that hold something, as calamine
    expands them.  A table inside a cell counts as that cell's content.  Raise `ValueError`
    for content that is not well-formed XML.
    """
    extents: dict[str, Extent] = {}
    table, depth = "", 0  # the table being measured; how many tables are open
    row = column = rows = columns = 0
    repeat_rows = 1
    row_filled = cell_filled = False
    cell: tuple[int, int] | None = None  # (first, last) column of the open cell

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal table, depth, row, column, rows, columns, repeat_rows, row_filled, cell
        nonlocal cell_filled
        if cell is not None:  # any element inside a cell: a paragraph, an annotation…
            cell_filled = True
        if name == _ODS_TABLE:
            depth += 1
            if depth == 1:
                table, row, rows, columns = attributes.get("table:name", ""), 0, 0, 0
        elif depth != 1:
            return
        elif name == _ODS_ROW:
            repeat_rows = _number(attributes.get("table:number-rows-repeated"), 1)
            column, row_filled = 0, False
        elif name in _ODS_CELLS:
            repeat = _number(attributes.get("table:number-columns-repeated"), 1)
            cell = (column + 1, column + repeat)
            column += repeat
            cell_filled = "office:value-type" in attributes

    def end(name: str) -> None:
        nonlocal depth, row, rows, columns, row_filled, cell
        if name == _ODS_TABLE:
            if depth == 1:
                extents[table] = Extent(rows, columns)
            depth -= 1
        elif depth != 1:
            return
        elif name in _ODS_CELLS and cell is not None:
            if cell_filled:
                row_filled = True
                columns = max(columns, cell[1])
            cell = None
        elif name == _ODS_ROW:
            row += repeat_rows
            if row_filled:
                rows = row

    parser = _expat()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.ParseFile(stream)
    except expat.ExpatError as exc:
        raise ValueError(str(exc)) from None
    return extents
