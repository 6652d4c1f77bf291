"""Combine prepared sources into one table: reject, suppress, deduplicate, fill, find conflicts.

Every row read ends as exactly one of, in this order of precedence:

- ``rejected``: its address or an identity field is unusable (decided by `prepare`, or by the
  optional mail-server check here);
- ``suppressed``: its address or its domain is on a suppression list (every row of that person,
  in every source, so each source's count says how many of its rows were held back);
- ``duplicate``: an earlier row has the same address key;
- ``accepted``: the first row of its address; it becomes one contact.

Sources arrive in precedence order (`load` sorts them by ``priority``, then campaign order), so
"earlier" means an earlier source, then an earlier row.  A contact's blank fields are filled
from its duplicates in that order.  A duplicate whose language, outlet or name differs from the
kept value (compared as `parse_language`, `slugify` and `ascii_fold` see them) is a conflict.
Everything is computed on whole columns (numpy, pandas ``factorize``/``groupby``); Python loops
only build the records handed back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from distrib.contacts.columns import STANDARD_FIELDS
from distrib.contacts.model import SourceSummary
from distrib.contacts.normalize import ascii_fold, slugify
from distrib.contacts.prepare import PreparedSource
from distrib.contacts.suppress import Suppression
from distrib.contacts.vector import frame_of, locations, per_unique
from distrib.errors import Location, Problem

__all__ = ["DomainCheck", "MergedTable", "combine"]

# Given distinct domains (A-labels), return a reason for each one that cannot receive mail.
DomainCheck = Callable[[Sequence[str]], Mapping[str, str]]
_CONFLICT_FIELDS = {
    "language": lambda v: v,
    "outlet": slugify,
    "first_name": ascii_fold,
    "last_name": ascii_fold,
}
Index = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class MergedTable:
    """The merge as columns.  ``rows`` holds every row read (``_src`` = source position,
    ``_outcome``); ``contacts`` one row per accepted address, with blanks filled, in order;
    ``members`` lists, per contact, the positions in ``rows`` of its winning row then its
    duplicates (provenance)."""

    prepared: tuple[PreparedSource, ...]
    fields: tuple[str, ...]
    rows: pd.DataFrame
    contacts: pd.DataFrame
    members: Index  # row positions of each contact's rows, contact by contact
    bounds: Index  # contact i's rows are members[bounds[i]:bounds[i + 1]], winner first
    places: tuple[str, ...]  # "path[:sheet]:" of each source, for provenance text
    rejected: tuple[Problem, ...]
    suppressed: tuple[Problem, ...]
    duplicates: tuple[Problem, ...]
    conflicts: tuple[Problem, ...]
    summaries: tuple[SourceSummary, ...]
    warnings: tuple[Problem, ...]

    def groups(self) -> list[list[int]]:
        """Return, per contact, the positions in ``rows`` of its rows, winner first."""
        members, bounds = self.members.tolist(), self.bounds.tolist()
        return [members[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]

    def provenance(self) -> list[str]:
        """Return, per contact, every row it came from: ``file[:sheet]:row; …``."""
        src = self.rows["_src"].to_numpy().tolist()
        row = self.rows["_row"].to_numpy().tolist()
        places = self.places
        return ["; ".join([f"{places[src[i]]}{row[i]}" for i in g]) for g in self.groups()]


def _stack(prepared: Sequence[PreparedSource]) -> tuple[pd.DataFrame, list[str]]:
    """Stack every source's rows (``_src`` says which); return them and the field names."""
    fields = list(STANDARD_FIELDS)
    for source in prepared:
        fields += [c for c in source.columns.extras if c not in fields]
    names = [*fields, *(m for m in prepared[0].frame.columns if m.startswith("_"))]
    data: dict[str, npt.NDArray[Any]] = {}
    for name in names:
        parts = []
        for p in prepared:
            if name in p.frame.columns:
                parts.append(p.frame[name].to_numpy())
            else:
                parts.append(np.full(len(p.frame), "", dtype=object))
        data[name] = np.concatenate(parts) if parts else np.empty(0, dtype=object)
    data["_src"] = np.repeat(np.arange(len(prepared)), [len(p.frame) for p in prepared])
    return frame_of(data), fields


class _Places:
    """Turn (source, row) into a `Location`, with a column when asked."""

    def __init__(self, prepared: Sequence[PreparedSource]) -> None:
        # display_path() resolves against the working directory: once per source, not per row.
        self.paths = [p.table.table.display for p in prepared]
        self.sheets = [p.table.table.sheet for p in prepared]
        self.headers = [{f: p.columns.header_of(f) for f in STANDARD_FIELDS} for p in prepared]
        self.prefixes = tuple(
            f"{path}:{sheet}:" if sheet is not None else f"{path}:"
            for path, sheet in zip(self.paths, self.sheets, strict=True)
        )

    def at(
        self, src: int, row: int, field: str | None = None, column: str | None = None
    ) -> Location:
        """Return where ``row`` of source ``src`` is; the column feeding ``field`` if given."""
        if field is not None:
            column = self.headers[src].get(field) or field
        return Location(self.paths[src], row, self.sheets[src], column)


def _check_domains(rows: pd.DataFrame, check: DomainCheck | None, places: _Places) -> None:
    """Reject valid rows whose domain cannot receive mail (only when a check is given)."""
    if check is None:
        return
    valid = rows["_code"].to_numpy() == ""
    if not valid.any():
        return
    domains = rows["_domain"].to_numpy()[valid]
    reasons = check(sorted(set(domains.tolist())))
    bad = np.array([d in reasons for d in domains.tolist()], dtype=bool)
    positions = np.flatnonzero(valid)[bad]
    if not len(positions):
        return
    code, error, column = (rows[n].to_numpy().copy() for n in ("_code", "_error", "_error_column"))
    src, email = rows["_src"].to_numpy(), rows["email"].to_numpy()
    for i, domain in zip(positions.tolist(), domains[bad].tolist(), strict=True):
        code[i] = "no-mail-server"
        column[i] = places.headers[int(src[i])]["email"] or ""
        error[i] = f"{email[i]!r}: {reasons[domain]}"
    rows["_code"], rows["_error"], rows["_error_column"] = code, error, column


def _suppressed(
    rows: pd.DataFrame, rejected: npt.NDArray[np.bool_], suppression: Suppression
) -> npt.NDArray[np.bool_]:
    skeys = rows["_skey"].to_numpy()
    listed = np.fromiter(
        map(suppression.keys.__contains__, skeys.tolist()), dtype=bool, count=len(skeys)
    )
    if suppression.domains:
        domains = rows["_domain"].to_numpy()
        matched = per_unique(domains, lambda d: bool(d) and suppression.domain_entry(d) is not None)
        listed |= matched.astype(bool)
    result: npt.NDArray[np.bool_] = ~rejected & listed
    return result


def _outcomes(rows: pd.DataFrame, suppression: Suppression) -> npt.NDArray[np.int8]:
    """Return per row 0 accepted, 1 duplicate, 2 rejected, 3 suppressed; set ``_k``."""
    rejected: npt.NDArray[np.bool_] = rows["_code"].to_numpy() != ""
    suppressed = _suppressed(rows, rejected, suppression)
    candidate = ~rejected & ~suppressed
    # Factorising only the candidates numbers addresses in order of their winning row, so
    # contact i has ``_k`` i.
    codes = np.full(len(rows), -1, dtype=np.int64)
    codes[candidate], _ = pd.factorize(rows["_key"].to_numpy()[candidate])
    rows["_k"] = codes
    duplicate = candidate & pd.Series(codes).duplicated().to_numpy()
    outcome = np.zeros(len(rows), dtype=np.int8)
    outcome[duplicate] = 1
    outcome[rejected] = 2
    outcome[suppressed] = 3
    return outcome


def _fill(
    rows: pd.DataFrame, winners: Index, members: Index, bounds: Index, fields: list[str]
) -> pd.DataFrame:
    """Return the winners' fields, blanks filled with the first non-blank of their group.

    ``members`` lists each contact's rows, winner first (see `_members`), so "the first
    non-blank of the group" is a minimum over each contact's slice, for all contacts at once.
    """
    names = [*fields, "_lang_raw"]
    meta = ["_key", "_address", "_src", "_row", "_smtputf8", "_k"]
    data = {name: rows[name].to_numpy()[winners] for name in [*names, *meta]}
    sizes = np.diff(bounds)
    shared = np.flatnonzero(sizes > 1)  # contacts with duplicates: only they can be filled
    if len(shared):
        # Their rows, contact by contact, winner first, and where each contact's rows start.
        rows_of = members[np.repeat(sizes > 1, sizes)]
        ends = np.cumsum(sizes[shared])
        starts = ends - sizes[shared]
        order = np.arange(len(rows_of))
        for name in names:
            winner_values = data[name]
            blank = winner_values[shared] == ""
            if not blank.any():
                continue
            grouped = rows[name].to_numpy()[rows_of]
            candidate = np.where(grouped != "", order, len(rows_of))
            first = np.minimum.reduceat(candidate, starts)
            found = blank & (first < ends)
            if found.any():
                winner_values = winner_values.copy()
                winner_values[shared[found]] = grouped[first[found]]
                data[name] = winner_values
    return frame_of(data)


def _conflicts(rows: pd.DataFrame, multi: Index, places: _Places) -> list[Problem]:
    """Return one problem per duplicate row whose language, outlet or name differs.

    ``multi`` holds the rows of contacts with duplicates, in precedence order, so the value
    kept for a contact is the first non-blank one among its rows (as `_fill` keeps it).
    """
    if not len(multi):
        return []
    k = rows["_k"].to_numpy()[multi]
    found: list[tuple[int, int, str]] = []  # (row in multi, row kept, field)
    for name, norm in _CONFLICT_FIELDS.items():
        normed = per_unique(rows[name].to_numpy()[multi], norm)
        filled = np.flatnonzero(normed != "")
        if len(filled) < 2:
            continue
        contact = k[filled]
        first_of, first = np.unique(contact, return_index=True)
        kept = filled[first[np.searchsorted(first_of, contact)]]
        differ = normed[filled] != normed[kept]
        found += zip(filled[differ].tolist(), kept[differ].tolist(), repeat(name))
    found.sort(key=lambda item: item[0])  # stable: a row's fields stay in the order above
    if not found:
        return []
    src = rows["_src"].to_numpy()[multi].tolist()
    row = rows["_row"].to_numpy()[multi].tolist()
    address = rows["_address"].to_numpy()[multi].tolist()
    shown = {
        name: rows["_lang_raw" if name == "language" else name].to_numpy()[multi].tolist()
        for name in {name for _, _, name in found}
    }
    problems = []
    for i, j, name in found:
        value, kept_value = shown[name][i], shown[name][j]
        message = (
            f"{address[i]}: {name.replace('_', ' ')} {value!r} differs from {kept_value!r} "
            f"({places.at(src[j], row[j])}), which is kept"
        )
        code = f"conflict-{name.replace('_', '-')}"
        problems.append(Problem(message, places.at(src[i], row[i], name), code))
    return problems


def _members(rows: pd.DataFrame) -> tuple[Index, Index]:
    """Return (row positions grouped by contact, winner first; start of each contact's group)."""
    k = rows["_k"].to_numpy()
    kept = np.flatnonzero(k >= 0)
    order = kept[np.argsort(k[kept], kind="stable")]
    starts = np.searchsorted(k[order], np.arange(k.max() + 1 if len(kept) else 0))
    return order, np.append(starts, len(order)).astype(np.intp)


def _columns(
    rows: pd.DataFrame, mask: npt.NDArray[np.bool_], names: Sequence[str]
) -> Iterable[tuple[Any, ...]]:
    """Iterate the rows in ``mask`` as tuples of plain Python values (no per-row pandas)."""
    picked = np.flatnonzero(mask)
    return zip(*(rows[n].to_numpy()[picked].tolist() for n in names), strict=True)


def _duplicates(
    rows: pd.DataFrame, mask: npt.NDArray[np.bool_], winners: Index, places: _Places
) -> list[Problem]:
    """Return one problem per duplicate row, naming the row that won.

    There can be hundreds of thousands: the records are built with map() over whole columns.
    """
    picked = np.flatnonzero(mask)
    src = rows["_src"].to_numpy()
    row = rows["_row"].to_numpy()
    won = winners[rows["_k"].to_numpy()[picked]]
    prefixes = np.array(places.prefixes, dtype=object)
    firsts = (prefixes[src[won]] + row[won].astype(str).astype(object)).tolist()
    emails = rows["email"].to_numpy()[picked].tolist()
    messages = [
        f"{email} duplicates {first} (the first row wins; its blanks are filled)"
        for email, first in zip(emails, firsts, strict=True)
    ]
    mine = src[picked]
    paths = np.array(places.paths, dtype=object)[mine].tolist()
    sheets = np.array(places.sheets, dtype=object)[mine].tolist()
    columns = np.array([h["email"] for h in places.headers], dtype=object)[mine].tolist()
    where = locations(paths, row[picked].tolist(), sheets, columns)
    return list(map(Problem, messages, where, repeat("duplicate")))


def _summaries(
    prepared: Sequence[PreparedSource], rows: pd.DataFrame, outcome: npt.NDArray[np.int8]
) -> list[SourceSummary]:
    src = rows["_src"].to_numpy()
    counts = np.zeros((len(prepared), 4), dtype=np.int64)
    np.add.at(counts, (src, outcome), 1)
    summaries = []
    for i, p in enumerate(prepared):
        table = p.table.table
        summaries.append(
            SourceSummary(
                path=table.display, rows=p.rows, accepted=int(counts[i, 0]),
                duplicates=int(counts[i, 1]), rejected=int(counts[i, 2]),
                suppressed=int(counts[i, 3]), encoding=table.encoding,
                delimiter=table.delimiter, sheet=table.sheet, blank_rows=p.blank_rows,
                header_rows=p.header_rows, total_rows=p.total_rows,
                encoding_basis=table.encoding_basis,
            )
        )  # fmt: skip
    return summaries


def combine(
    prepared: Sequence[PreparedSource],
    suppression: Suppression | None = None,
    *,
    domain_check: DomainCheck | None = None,
    extra_warnings: Iterable[Problem] = (),
) -> MergedTable:
    """Reject, suppress, deduplicate and fill prepared sources (earlier wins)."""
    suppression = suppression if suppression is not None else Suppression()
    places = _Places(prepared)
    warnings = (*extra_warnings, *(w for p in prepared for w in p.warnings), *suppression.warnings)
    if not prepared:
        empty = pd.DataFrame()
        none = np.empty(0, dtype=np.intp)
        return MergedTable(
            (), tuple(STANDARD_FIELDS), empty, empty, none, np.zeros(1, dtype=np.intp), (),
            (), (), (), (), (), warnings,
        )  # fmt: skip
    rows, fields = _stack(prepared)
    _check_domains(rows, domain_check, places)
    outcome = _outcomes(rows, suppression)
    rows["_outcome"] = outcome
    candidate = outcome <= 1
    k = rows["_k"].to_numpy()
    winners = np.flatnonzero(outcome == 0)
    multi = np.flatnonzero(candidate & pd.Series(k).duplicated(keep=False).to_numpy())
    members, bounds = _members(rows)
    contacts = _fill(rows, winners, members, bounds, fields)

    at = places.at
    rejected = [
        Problem(error, at(src, row, column=column or None), code)
        for src, row, error, column, code in _columns(
            rows, outcome == 2, ["_src", "_row", "_error", "_error_column", "_code"]
        )
    ]
    suppressed = [
        Problem(
            f"{email} is on a suppression list ({suppression.entry(skey, address)})",
            at(src, row, "email"),
            "suppressed",
        )
        for src, row, email, skey, address in _columns(
            rows, outcome == 3, ["_src", "_row", "email", "_skey", "_address"]
        )
    ]
    duplicates = _duplicates(rows, outcome == 1, winners, places)
    return MergedTable(
        prepared=tuple(prepared), fields=tuple(fields), rows=rows, contacts=contacts,
        members=members, bounds=bounds, places=places.prefixes,
        rejected=tuple(rejected), suppressed=tuple(suppressed), duplicates=tuple(duplicates),
        conflicts=tuple(_conflicts(rows, multi, places)),
        summaries=tuple(_summaries(prepared, rows, outcome)), warnings=warnings,
    )  # fmt: skip
