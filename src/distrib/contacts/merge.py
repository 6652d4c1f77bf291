"""Merge prepared sources into one audience: suppress, deduplicate, fill blanks, account.

Every row read ends as exactly one of, in this order of precedence:

- ``rejected``: its address or an identity field is unusable (decided by `prepare`);
- ``suppressed``: its address is on a suppression list (every row of that person, in every
  source, so each source's count says how many of its rows were held back);
- ``duplicate``: an earlier row (earlier source, then earlier row) has the same address key;
- ``accepted``: the first row of its address; it becomes one `Contact`.

A contact's blank fields are filled from its duplicates, in priority order, and ``sources``
lists the winning row and every duplicate.  Flags are computed with vectorised pandas
operations; Python loops only build the records handed back (contacts and problems).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from distrib.contacts.columns import STANDARD_FIELDS
from distrib.contacts.model import Contact, ContactBook, SourceSummary
from distrib.contacts.normalize import slugify
from distrib.contacts.prepare import PreparedSource
from distrib.contacts.suppress import Suppression
from distrib.errors import Location, Problem

__all__ = ["merge_sources"]

Language = Literal["fr", "en"]


@dataclass(frozen=True, slots=True)
class _Flags:
    rejected: pd.Series[bool]
    suppressed: pd.Series[bool]
    duplicate: pd.Series[bool]
    accepted: pd.Series[bool]


def _combine(prepared: Sequence[PreparedSource]) -> tuple[pd.DataFrame, list[str]]:
    """Stack every source's rows (``_src`` says which); return them and the field names."""
    fields = list(STANDARD_FIELDS)
    for source in prepared:
        fields += [c for c in source.columns.extras if c not in fields]
    frames = [p.frame.assign(_src=i) for i, p in enumerate(prepared)]
    combined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for name in fields:
        if name not in combined.columns:
            combined[name] = ""
    extras = [c for c in combined.columns if c in fields and c not in STANDARD_FIELDS]
    combined[extras] = combined[extras].fillna("")
    return combined, fields


def _flags(combined: pd.DataFrame, suppression: Suppression) -> _Flags:
    rejected = combined["_code"] != ""
    suppressed = ~rejected & combined["_skey"].isin(list(suppression.keys))
    candidate = ~rejected & ~suppressed
    duplicate = pd.Series(False, index=combined.index)
    duplicate[candidate] = combined.loc[candidate, "_key"].duplicated(keep="first")
    return _Flags(rejected, suppressed, duplicate, candidate & ~duplicate)


def _filled(combined: pd.DataFrame, candidate: pd.Series[bool], fields: list[str]) -> pd.DataFrame:
    """Return, per address key, each field's first non-blank value in priority order."""
    values = combined.loc[candidate, [*fields, "_lang_raw"]]
    keys = combined.loc[candidate, "_key"]
    return values.where(values != "").groupby(keys, sort=False).first().fillna("")


class _Places:
    """Turn (source, row) into a `Location`, with a column when asked."""

    def __init__(self, prepared: Sequence[PreparedSource]) -> None:
        # display_path() resolves against the working directory: once per source, not per row.
        self.paths = [p.table.table.display for p in prepared]
        self.sheets = [p.table.table.sheet for p in prepared]
        self.headers = [{f: p.columns.header_of(f) for f in STANDARD_FIELDS} for p in prepared]

    def at(
        self, src: int, row: int, field: str | None = None, *, column: str | None = None
    ) -> Location:
        """Return where ``row`` of source ``src`` is; the column feeding ``field`` if given."""
        if field is not None:
            column = self.headers[src][field]
        return Location(self.paths[src], row, self.sheets[src], column)


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """Iterate rows as tuples of plain Python values (far faster than ``to_dict``/``iterrows``)."""
    return zip(*(frame[c].to_numpy(dtype=object).tolist() for c in columns), strict=True)


def _language(
    code: str, raw: str, default: Language
) -> tuple[Literal["fr", "en", "both"], str | None, str]:
    """Return (language, warning code or None, warning text) for a merged language cell."""
    if code in ("fr", "en"):
        return ("fr" if code == "fr" else "en"), None, ""
    if code == "both":
        # Bilingual contacts get one message in both languages (see distrib.render).
        return "both", None, ""
    if raw:
        return default, "language-unknown", f"unknown language {raw!r}: using {default!r}"
    return default, "language-missing", f"no language: using {default!r}"


def _provenance(
    combined: pd.DataFrame, flags: _Flags, places: _Places
) -> tuple[dict[str, list[Location]], list[Problem]]:
    """Return each key's locations (winner first) and one `Problem` per duplicate row."""
    where: dict[str, list[Location]] = {}
    for key, src, row in _records(combined.loc[flags.accepted], ["_key", "_src", "_row"]):
        where[key] = [places.at(src, row)]
    duplicates = []
    dup_cols = ["_key", "_src", "_row", "email"]
    for key, src, row, email in _records(combined.loc[flags.duplicate], dup_cols):
        first = where[key][0]
        where[key].append(places.at(src, row))
        message = f"{email} duplicates {first} (the first row wins; its blanks are filled)"
        duplicates.append(Problem(message, places.at(src, row, "email"), "duplicate"))
    return where, duplicates


def _contacts(
    combined: pd.DataFrame, flags: _Flags, fields: list[str], places: _Places, default: Language
) -> tuple[list[Contact], list[Problem], list[Problem]]:
    """Build the contacts; return them, the duplicate problems and the language warnings."""
    filled = _filled(combined, flags.accepted | flags.duplicate, fields)
    winners = combined.loc[flags.accepted, ["_key", "_address", "_src", "_row"]]
    merged = filled.loc[winners["_key"].tolist()]
    slugs = {name: slugify(name) for name in merged["outlet"].unique()}
    where, duplicates = _provenance(combined, flags, places)
    contacts, warnings = [], []
    names = list(merged.columns)
    for (key, address, src, row), cells in zip(
        _records(winners, ["_key", "_address", "_src", "_row"]),
        _records(merged, names),
        strict=True,
    ):
        values: dict[str, str] = dict(zip(names, cells, strict=True))
        language, code, text = _language(values["language"], values.pop("_lang_raw"), default)
        if code is not None:
            warnings.append(Problem(text, places.at(src, row, "language"), code))
        values["language"] = language
        contacts.append(
            Contact(
                email=values["email"], address=address, key=key, language=language,
                first_name=values["first_name"], last_name=values["last_name"],
                outlet=values["outlet"], outlet_slug=slugs[values["outlet"]],
                fields=values, sources=tuple(where[key]),
            )
        )  # fmt: skip
    return contacts, duplicates, warnings


def _rejected(combined: pd.DataFrame, flags: _Flags, places: _Places) -> list[Problem]:
    rows = combined.loc[flags.rejected]
    columns = ["_src", "_row", "_error", "_error_column", "_code"]
    return [
        Problem(message, places.at(src, row, column=column or None), code)
        for src, row, message, column, code in _records(rows, columns)
    ]


def _suppressed(
    combined: pd.DataFrame, flags: _Flags, places: _Places, suppression: Suppression
) -> list[Problem]:
    rows = combined.loc[flags.suppressed]
    return [
        Problem(
            f"{email} is on a suppression list ({suppression.keys[skey]})",
            places.at(src, row, "email"),
            "suppressed",
        )
        for src, row, email, skey in _records(rows, ["_src", "_row", "email", "_skey"])
    ]


def _summary(source: PreparedSource, counts: dict[str, int] | None = None) -> SourceSummary:
    """Return how the rows of ``source`` were accounted for (``counts`` by outcome)."""
    counts = counts or {}
    table = source.table.table
    return SourceSummary(
        path=table.display, rows=source.rows, accepted=counts.get("accepted", 0),
        duplicates=counts.get("duplicate", 0), rejected=counts.get("rejected", 0),
        suppressed=counts.get("suppressed", 0), encoding=table.encoding,
        delimiter=table.delimiter, sheet=table.sheet, blank_rows=source.blank_rows,
    )  # fmt: skip


def _summaries(
    prepared: Sequence[PreparedSource], combined: pd.DataFrame, flags: _Flags
) -> list[SourceSummary]:
    outcome = pd.Series("accepted", index=combined.index)
    outcome[flags.duplicate] = "duplicate"
    outcome[flags.rejected] = "rejected"
    outcome[flags.suppressed] = "suppressed"
    counts: dict[tuple[int, str], int] = (
        outcome.groupby(combined["_src"]).value_counts().to_dict()  # type: ignore[assignment]
    )
    return [
        _summary(p, {o: n for (src, o), n in counts.items() if src == i})
        for i, p in enumerate(prepared)
    ]


def merge_sources(
    prepared: Sequence[PreparedSource],
    suppression: Suppression | None = None,
    default_language: Language = "fr",
) -> ContactBook:
    """Suppress, deduplicate and merge prepared sources (earlier wins) into a `ContactBook`."""
    suppression = suppression if suppression is not None else Suppression()
    combined, fields = _combine(prepared)
    if combined.empty:
        return ContactBook((), tuple(_summary(p) for p in prepared), warnings=_source_warnings(
            prepared, suppression))  # fmt: skip
    flags = _flags(combined, suppression)
    places = _Places(prepared)
    contacts, duplicates, language_warnings = _contacts(
        combined, flags, fields, places, default_language
    )
    return ContactBook(
        contacts=tuple(contacts),
        sources=tuple(_summaries(prepared, combined, flags)),
        rejected=tuple(_rejected(combined, flags, places)),
        suppressed=tuple(_suppressed(combined, flags, places, suppression)),
        duplicates=tuple(duplicates),
        warnings=(*_source_warnings(prepared, suppression), *language_warnings),
    )


def _source_warnings(
    prepared: Sequence[PreparedSource], suppression: Suppression
) -> tuple[Problem, ...]:
    return (*(w for p in prepared for w in p.warnings), *suppression.warnings)
