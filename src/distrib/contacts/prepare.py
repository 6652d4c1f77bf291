"""Turn one source table into normalised rows, each either valid or rejected with a reason.

Work is done a column at a time on numpy arrays of `str` (`vector`): whole-column checks first,
per-cell Python only where a check found something, and the functions that need Python
(address validation, languages, name splitting) run once per distinct value.  Messages are only
built for the rows they are about.

Rows that are not data are set aside and counted, not read: completely blank rows
(``blank_rows``), rows repeating the header (``header_rows``) and "Total" rows (``total_rows``);
each repeated header and total row is also reported as a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from distrib.contacts.addresses import validate_addresses
from distrib.contacts.columns import (
    IDENTITY_FIELDS,
    STANDARD_FIELDS,
    ColumnMap,
    header_key,
    map_columns,
)
from distrib.contacts.mojibake import MOJIBAKE, explain_mojibake
from distrib.contacts.normalize import parse_language, split_full_name
from distrib.contacts.read import DEFAULT_LIMITS, Limits, SourceTable
from distrib.contacts.vector import Scan, Strings, clean_scan, find_cells, per_unique, strings
from distrib.errors import Location, Problem
from distrib.headers import FORBIDDEN_HEADER_CHARS, find_forbidden

__all__ = ["META", "PreparedSource", "prepare_source"]

# Columns the stage adds beside the fields (field names never start with "_").
META = (
    "_row", "_address", "_key", "_skey", "_domain", "_lang_raw", "_error", "_error_column",
    "_code", "_smtputf8",
)  # fmt: skip
_TOTAL = re.compile(r"(?:grand|sous|sub)?(?:total|totaux|somme|sum)(?:[0-9]|$)")
_SPACES = re.compile(" {2,}")  # only spaces: a tab or line break must still be rejected
Mask = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.intp]


def _same(text: str) -> Callable[[Rows], list[str]]:
    """Return a `_Rejecter` message function giving ``text`` for every row."""
    return lambda rows: [text] * len(rows)


@dataclass(frozen=True, slots=True)
class PreparedSource:
    """One source's data rows, normalised, with ``_code`` set on rejected rows.

    ``frame`` has one column per field (every standard field, then the extras) and the `META`
    columns; ``language`` holds ``fr``/``en``/``both`` or "" and ``_lang_raw`` the text as written.
    Blank rows, repeated headers and total rows are not kept; they are counted apart.
    """

    table: SourceTable
    columns: ColumnMap
    frame: pd.DataFrame
    blank_rows: int
    warnings: tuple[Problem, ...]
    header_rows: int = 0
    total_rows: int = 0
    # From the source's settings: the language of rows whose cell is blank or unknown (None:
    # the campaign's default), and the list's name in audience rules.
    language: str | None = None
    name: str = ""

    @property
    def rows(self) -> int:
        """The rows read: every data row under the header."""
        return len(self.frame)


def _fields(table: SourceTable, columns: ColumnMap) -> tuple[dict[str, Strings], dict[str, Scan]]:
    """Return each field's cells in NFC and trimmed, with every standard field, and the `Scan`
    of each column the file has."""
    cleaned = {name: clean_scan(strings(table.frame[pos])) for pos, name in columns.fields.items()}
    data = {name: values for name, (values, _) in cleaned.items()}
    scans = {name: scan for name, (_, scan) in cleaned.items()}
    blank = np.full(len(table.frame), "", dtype=object)
    ordered = {name: data.get(name, blank) for name in STANDARD_FIELDS}
    ordered.update((n, v) for n, v in data.items() if n not in STANDARD_FIELDS)
    return ordered, scans


def _not_data(
    fields: dict[str, Strings], table: SourceTable, columns: ColumnMap, email_scan: Scan
) -> tuple[Mask, Mask, list[Problem]]:
    """Find repeated header rows and total rows; return their masks and a warning for each.

    Only rows without an "@" in their address cell can be either (``email_scan``: its column's
    `Scan`)."""
    email = fields["email"]
    headers = {name: header_key(table.headers[pos]) for pos, name in columns.fields.items()}
    header_rows = np.zeros(len(email), dtype=bool)
    total_rows = np.zeros(len(email), dtype=bool)
    warnings = []
    rows = table.frame.index.to_numpy()
    shown, sheet = table.table.display, table.table.sheet  # display resolves the working folder
    for i in np.flatnonzero(~email_scan.holding("@")):
        cells = {name: values[i] for name, values in fields.items() if name in headers}
        filled = {name: cell for name, cell in cells.items() if cell}
        where = Location(shown, int(rows[i]), sheet)
        if email[i] and all(header_key(cell) == headers[name] for name, cell in filled.items()):
            header_rows[i] = True
            warnings.append(
                Problem("this row repeats the header; skipped", where, "repeated-header")
            )
        elif filled and _TOTAL.match(header_key(next(iter(filled.values())))):
            total_rows[i] = True
            message = f"this looks like a total row ({next(iter(filled.values()))!r}); skipped"
            warnings.append(Problem(message, where, "total-row"))
    return header_rows, total_rows, warnings


class _Rejecter:
    """Record the first reason each row is rejected for; later checks skip rejected rows."""

    def __init__(self, count: int) -> None:
        self.code = np.full(count, "", dtype=object)
        self.error = np.full(count, "", dtype=object)
        self.column = np.full(count, "", dtype=object)

    def reject(
        self,
        mask: Mask,
        code: str,
        column: str,
        message: Callable[[npt.NDArray[np.intp]], list[str]],
    ) -> None:
        """Reject the not-yet-rejected rows in ``mask``; ``message`` words it for those rows."""
        rows = np.flatnonzero(mask & (self.code == ""))
        if rows.size:
            self.code[rows] = code
            self.column[rows] = column
            self.error[rows] = message(rows)


def _note_checks(rejecter: _Rejecter, table: SourceTable, rows: npt.NDArray[np.int64]) -> None:
    """Reject rows holding a formula without a saved value, or an unreadable vCard."""
    header_cells = table.table.frame.loc[table.header_row]
    for note in table.table.notes:
        mask = rows == note.row
        if note.kind == "formula":
            header = str(header_cells.iloc[note.column]) if note.column < len(header_cells) else ""
            text = (
                f"formula {note.text} in column {header} has no saved value (the file was "
                f"written by a program that does not compute formulas); open it in a spreadsheet "
                f"program and save it again"
            )
            rejecter.reject(mask, "formula", header, _same(text))
        else:
            rejecter.reject(mask, note.kind, "", _same(note.text))


def _validate(
    fields: dict[str, Strings],
    table: SourceTable,
    columns: ColumnMap,
    limits: Limits,
    rows: npt.NDArray[np.int64],
    *,
    scans: dict[str, Scan],
) -> tuple[_Rejecter, dict[str, Strings], Mask]:
    """Check every row; return the rejections, the address columns and the SMTPUTF8 flags."""
    count = len(rows)
    rejecter = _Rejecter(count)
    overflow = np.isin(rows, np.array(table.overflow, dtype=np.int64))
    cells = f"more cells than headers: a value may hold an unquoted {table.table.delimiter!r}"
    rejecter.reject(overflow, "overflow", "", _same(cells))
    header_of = {name: table.headers[pos] for pos, name in columns.fields.items()}
    # The scans made while cleaning still answer for these cells: since then rows were only
    # dropped (blank, header and total rows) and values only tidied (spaces collapsed,
    # languages read), which can only take away what a scan looks for, so each answer can
    # still only err towards "maybe" (then the cells themselves are looked at).
    scans = {
        name: scans[name] if name in scans else Scan(values)
        for name, values in fields.items()
        if name in header_of
    }
    for name, scan in scans.items():
        if count and scan.longest() > limits.max_cell_chars:
            lengths = np.fromiter(map(len, fields[name].tolist()), dtype=np.int64, count=count)
            text = (
                f"cell longer than {limits.max_cell_chars:,} characters in column {header_of[name]}"
            )
            too_long = lengths > limits.max_cell_chars
            rejecter.reject(too_long, "cell-too-long", header_of[name], _same(text))
    _note_checks(rejecter, table, rows)
    for name, scan in scans.items():
        _mojibake(rejecter, fields[name], header_of[name], table, scan)
    email = columns.header_of("email") or "email"
    blank = f"no address in column {email}"
    rejecter.reject(fields["email"] == "", "blank-address", email, _same(blank))
    found = validate_addresses(fields["email"])

    def invalid(r: npt.NDArray[np.intp]) -> list[str]:
        pairs = zip(fields["email"][r].tolist(), found.reason[r].tolist(), strict=True)
        return [f"{value!r} in column {email}: {reason}" for value, reason in pairs]

    rejecter.reject(found.reason != "", "invalid-address", email, invalid)
    for name in IDENTITY_FIELDS:
        header = columns.header_of(name)
        if header is not None and name != "email":
            bad = find_cells(fields[name], FORBIDDEN_HEADER_CHARS, Scan.controls, scans.get(name))
            rejecter.reject(bad, "control-character", header, _forbidden(fields[name], header))
    keys = {
        "_address": found.address, "_key": found.key, "_skey": found.suppression_key,
        "_domain": found.domain,
    }  # fmt: skip
    return rejecter, keys, found.smtputf8


def _mojibake(
    rejecter: _Rejecter, values: Strings, header: str, table: SourceTable, scan: Scan
) -> None:
    flagged = find_cells(values, MOJIBAKE, Scan.mojibake, scan)
    if not flagged.any():
        return
    explained = {i: explain_mojibake(values[i]) for i in np.flatnonzero(flagged)}
    hint = (
        "check `encoding` for this source in the campaign file"
        if table.table.encoding_basis == "campaign"
        else "the text was converted twice somewhere: fix it, or save the file again as UTF-8"
    )
    bad = np.zeros(len(values), dtype=bool)
    bad[[i for i, e in explained.items() if e is not None]] = True

    def word(rows: npt.NDArray[np.intp]) -> list[str]:
        return [
            f"{values[i]!r} in column {header} looks like UTF-8 read as Windows-1252 "
            f"({explained[i]}); {hint}"
            for i in rows.tolist()
        ]

    rejecter.reject(bad, "mojibake", header, word)


def _forbidden(values: Strings, header: str) -> Callable[[npt.NDArray[np.intp]], list[str]]:
    """Return a function wording "line feed (LF) in column Nom" for the rows it is given."""

    def word(rows: npt.NDArray[np.intp]) -> list[str]:
        return [f"{find_forbidden(str(v))} in column {header}" for v in values[rows].tolist()]

    return word


def _warnings(table: SourceTable, columns: ColumnMap) -> list[Problem]:
    where = table.table.where()
    problems = [Problem(w, where, "columns") for w in columns.warnings]
    above = table.table.frame.loc[: table.header_row - 1]
    if any((strings(above[c]) != "").any() for c in above.columns):
        problems.append(
            Problem(
                f"the header is on row {table.header_row}; the rows above it are not read",
                table.table.where(table.header_row),
                "header-row",
            )
        )
    return problems


def _normalise(fields: dict[str, Strings], columns: ColumnMap) -> Strings:
    """Split full names when needed, tidy outlet spacing; return the languages as written."""
    names = {columns.column_of(n) for n in ("first_name", "last_name")}
    if columns.column_of("full_name") is not None and names == {None}:
        parts = per_unique(fields["full_name"], split_full_name)
        fields["first_name"] = np.array([p[0] for p in parts.tolist()] or [], dtype=object)
        fields["last_name"] = np.array([p[1] for p in parts.tolist()] or [], dtype=object)
    if find_cells(fields["outlet"], _SPACES, lambda scan: "  " in scan.text).any():
        fields["outlet"] = per_unique(fields["outlet"], lambda v: _SPACES.sub(" ", v))
    raw = fields["language"]
    fields["language"] = per_unique(raw, lambda v: parse_language(v) or "")
    return raw


def prepare_source(
    table: SourceTable, overrides: Mapping[str, str] | None = None, limits: Limits = DEFAULT_LIMITS
) -> PreparedSource:
    """Map, normalise and validate the rows of one source table."""
    columns = map_columns(table.headers, overrides or {})
    fields, scans = _fields(table, columns)
    # A row whose only cells are right of the header is not blank: it is rejected as overflow.
    overflow = np.isin(table.frame.index.to_numpy(), np.array(table.overflow, dtype=np.int64))
    # The fields the file has no column for are blank: only the scanned ones can hold text.
    blank = np.logical_and.reduce([scan.empty() for scan in scans.values()]) & ~overflow
    header_rows, total_rows, skipped = _not_data(fields, table, columns, scans["email"])
    keep = ~(blank | header_rows | total_rows)
    if not keep.all():
        fields = {name: values[keep] for name, values in fields.items()}
    rows = table.frame.index.to_numpy()[keep].astype(np.int64)
    lang_raw = _normalise(fields, columns)
    rejecter, keys, smtputf8 = _validate(fields, table, columns, limits, rows, scans=scans)
    data = {**fields, **keys, "_lang_raw": lang_raw, "_error": rejecter.error,
            "_error_column": rejecter.column, "_code": rejecter.code}  # fmt: skip
    frame = pd.DataFrame(data, index=pd.Index(rows), dtype=object)
    frame.insert(0, "_row", rows)
    frame["_smtputf8"] = smtputf8
    return PreparedSource(
        table, columns, frame, int(blank.sum()), (*_warnings(table, columns), *skipped),
        int(header_rows.sum()), int(total_rows.sum()),
    )  # fmt: skip
