"""Turn one source table into normalised rows, each either valid or rejected with a reason.

Work is done a column at a time with pandas string methods; the functions that need Python
(address validation, languages, name splitting) run once per distinct value (`_per_unique`),
and messages are only built for the rows they are about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from distrib.contacts.columns import IDENTITY_FIELDS, STANDARD_FIELDS, ColumnMap, map_columns
from distrib.contacts.normalize import (
    AddressError,
    normalize_address,
    parse_language,
    split_full_name,
)
from distrib.contacts.read import SourceTable
from distrib.errors import Problem
from distrib.headers import FORBIDDEN_HEADER_CHARS, find_forbidden

__all__ = ["META", "PreparedSource", "prepare_source"]

# Columns the stage adds beside the fields (field names never start with "_").
META = ("_row", "_address", "_key", "_skey", "_lang_raw", "_error", "_error_column", "_code")


@dataclass(frozen=True, slots=True)
class PreparedSource:
    """One source's non-blank rows, normalised, with ``_code`` set on rejected rows.

    ``frame`` has one column per field (every standard field, then the extras) and the `META`
    columns; ``language`` holds ``fr``/``en``/``both`` or "" and ``_lang_raw`` the text as written.
    Completely blank rows are not kept: ``blank_rows`` counts them.
    """

    table: SourceTable
    columns: ColumnMap
    frame: pd.DataFrame
    blank_rows: int
    warnings: tuple[Problem, ...]

    @property
    def rows(self) -> int:
        """The rows read: every non-blank row under the header."""
        return len(self.frame)


def _per_unique(values: pd.Series[str], func: Callable[[str], Any]) -> pd.Series[Any]:
    """Apply ``func`` once per distinct value and spread the results back over the rows."""
    results = {value: func(value) for value in values.unique()}
    return values.map(results)


def _fields(table: SourceTable, columns: ColumnMap) -> pd.DataFrame:
    """Return the cells in NFC and trimmed, under field names, with every standard field."""
    data: dict[str, pd.Series[str]] = {}
    for position, name in columns.fields.items():
        data[name] = table.frame[position].astype(str).str.normalize("NFC").str.strip()
    frame = pd.DataFrame(data, index=table.frame.index, dtype=str)
    for name in STANDARD_FIELDS:
        if name not in frame.columns:
            frame[name] = ""
    extras = [c for c in frame.columns if c not in STANDARD_FIELDS]
    return frame[[*STANDARD_FIELDS, *extras]]


def _split_names(frame: pd.DataFrame, columns: ColumnMap) -> None:
    """Fill first and last names from a full-name column when the list has no name columns."""
    names = {columns.column_of(n) for n in ("first_name", "last_name")}
    if columns.column_of("full_name") is None or names != {None}:
        return
    parts = _per_unique(frame["full_name"], split_full_name)
    frame["first_name"] = parts.str[0].astype(str)
    frame["last_name"] = parts.str[1].astype(str)


def _languages(frame: pd.DataFrame) -> None:
    """Keep the language as written in ``_lang_raw``; put its code (or "") in ``language``."""
    frame["_lang_raw"] = frame["language"]
    frame["language"] = _per_unique(frame["language"], lambda v: parse_language(v) or "")


def _check_address(value: str) -> tuple[str, str, str, str]:
    """Return (wire address, key, suppression key, "") or ("", "", "", reason)."""
    try:
        found = normalize_address(value)
    except AddressError as exc:
        return "", "", "", exc.reason
    return found.address, found.key, found.suppression_key, ""


def _addresses(frame: pd.DataFrame) -> pd.Series[str]:
    """Validate each distinct address once; set the address columns and return the reasons."""
    results = _per_unique(frame["email"], _check_address)
    for i, name in enumerate(("_address", "_key", "_skey")):
        frame[name] = results.str[i].astype(str)
    return results.str[3].astype(str)


class _Rejecter:
    """Record the first reason each row is rejected for; later checks skip rejected rows."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        for name in ("_error", "_error_column", "_code"):
            frame[name] = ""

    def reject(
        self,
        mask: pd.Series[bool],
        code: str,
        column: str,
        message: Callable[[pd.DataFrame], Iterable[str]],
    ) -> None:
        """Reject the not-yet-rejected rows in ``mask``; ``message`` words it for those rows."""
        new = mask & (self.frame["_code"] == "")
        if not new.any():
            return
        self.frame.loc[new, "_error"] = list(message(self.frame.loc[new]))
        self.frame.loc[new, "_error_column"] = column
        self.frame.loc[new, "_code"] = code


def _validate(frame: pd.DataFrame, table: SourceTable, columns: ColumnMap) -> None:
    """Reject overflowing rows, bad addresses, and identity fields with control characters."""
    reasons = _addresses(frame)
    rejecter = _Rejecter(frame)
    overflow = pd.Series(frame.index.isin(table.overflow), index=frame.index)
    cells = f"more cells than headers: a value may hold an unquoted {table.table.delimiter!r}"
    rejecter.reject(overflow, "overflow", "", lambda rows: [cells] * len(rows))
    email = columns.header_of("email") or "email"
    blank = f"no address in column {email}"
    rejecter.reject(frame["email"] == "", "blank-address", email, lambda rows: [blank] * len(rows))

    def invalid(rows: pd.DataFrame) -> list[str]:
        pairs = zip(rows["email"].tolist(), reasons[rows.index].tolist(), strict=True)
        return [f"{value!r} in column {email}: {reason}" for value, reason in pairs]

    rejecter.reject(reasons != "", "invalid-address", email, invalid)
    for name in IDENTITY_FIELDS:
        header = columns.header_of(name)
        if header is not None and name != "email":
            bad = frame[name].str.contains(FORBIDDEN_HEADER_CHARS.pattern, regex=True)
            rejecter.reject(bad, "control-character", header, _forbidden(name, header))


def _forbidden(name: str, header: str) -> Callable[[pd.DataFrame], list[str]]:
    """Return a function wording "line feed (LF) in column Nom" for the rows it is given."""

    def word(rows: pd.DataFrame) -> list[str]:
        return [f"{find_forbidden(str(v))} in column {header}" for v in rows[name].tolist()]

    return word


def _warnings(table: SourceTable, columns: ColumnMap) -> list[Problem]:
    where = table.table.where()
    problems = [Problem(w, where, "columns") for w in columns.warnings]
    above = table.table.frame.loc[: table.header_row - 1]
    if (above.apply(lambda col: col.str.strip() != "")).any(axis=None):
        problems.append(
            Problem(
                f"the header is on row {table.header_row}; the rows above it are not read",
                table.table.where(table.header_row),
                "header-row",
            )
        )
    return problems


def prepare_source(
    table: SourceTable, overrides: Mapping[str, str] | None = None
) -> PreparedSource:
    """Map, normalise and validate the rows of one source table."""
    columns = map_columns(table.headers, overrides or {})
    frame = _fields(table, columns)
    # A row whose only cells are right of the header is not blank: it is rejected as overflow.
    blank = (frame == "").all(axis=1) & ~frame.index.isin(table.overflow)
    frame = frame.loc[~blank].copy()
    _split_names(frame, columns)
    _languages(frame)
    _validate(frame, table, columns)
    frame.insert(0, "_row", frame.index.to_numpy())
    warnings = _warnings(table, columns)
    return PreparedSource(table, columns, frame, int(blank.sum()), tuple(warnings))
