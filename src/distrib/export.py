"""Write tables as CSV, XLSX or JSON, with formula-like cells neutralised.

A cell that starts with ``=``, ``+``, ``-``, ``@``, TAB, CR or NUL is run as a formula by
spreadsheet programs (OWASP "CSV injection"), and openpyxl even stores such a string as a live
formula.  Every text cell written to CSV or XLSX, the header row included, goes through
`neutralise`, which prefixes a single quote, as OWASP ASVS recommends.  JSON is data for
programs and is written as is.

An XLSX file is XML, which cannot hold most control characters (BEL, SOH, VT, FF…), nor
U+FFFE, U+FFFF or unpaired surrogates: an SMTP reply or a contact cell holding one would make
the whole export fail.  `xlsx_text` writes each such character visibly as a Python-style escape
(``\x07``, ``\ufffe``, ``\udc80``: see `distrib.safetext`), so the cell shows that something
was there and what; TAB, LF and CR are kept.  CSV and JSON keep every character as it is.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from distrib.safetext import for_xml

__all__ = ["Format", "neutralise", "write_table", "xlsx_text"]

Format = Literal["csv", "xlsx", "json"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def neutralise(value: object) -> object:
    """Return ``value`` with a leading quote if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def xlsx_text(value: object) -> object:
    """Return ``value`` with the characters an XLSX file cannot hold written as escapes, and its
    line breaks as spreadsheets write them in a cell (LF).

    CR is normalised here, not left to the XML writer: openpyxl writes it raw (read back as LF)
    or as ``&#13;`` (read back as CR) depending on whether lxml is importable.
    """
    if not isinstance(value, str):
        return value
    return for_xml(value.replace("\r\n", "\n").replace("\r", "\n"))


def _rows(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Iterable[list[Any]]:
    for row in rows:
        yield [neutralise("" if row.get(c) is None else row.get(c)) for c in columns]


def write_table(
    path: Path | None,
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any]],
    fmt: Format,
    *,
    sheet: str = "distrib",
) -> str | None:
    """Write ``rows`` to ``path`` (or return the text, for CSV/JSON, when ``path`` is None)."""
    if fmt == "json":
        data = [{c: row.get(c) for c in columns} for row in rows]
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        return _emit(path, text)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([neutralise(c) for c in columns])
        writer.writerows(_rows(columns, rows))
        # utf-8-sig so Excel opens accented names correctly.
        return _emit(path, buffer.getvalue(), encoding="utf-8-sig")
    if path is None:
        raise ValueError("XLSX needs an output file")
    _write_xlsx(path, columns, rows, sheet)
    return None


def _emit(path: Path | None, text: str, encoding: str = "utf-8") -> str | None:
    if path is None:
        return text
    path.write_text(text, encoding=encoding, newline="")
    return None


def _write_xlsx(
    path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]], sheet: str
) -> None:
    from openpyxl import Workbook

    # Open the file first: if it cannot be written, openpyxl has not started (a write-only
    # sheet left half-written prints its own traceback when the interpreter exits).
    with path.open("wb") as stream:
        workbook = Workbook(write_only=True)
        worksheet = workbook.create_sheet(sheet)
        worksheet.append([xlsx_text(neutralise(c)) for c in columns])
        for values in _rows(columns, rows):
            worksheet.append([xlsx_text(v) for v in values])
        workbook.save(stream)
