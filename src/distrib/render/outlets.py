"""The optional outlets sheet: variables per outlet (a pitch line, a desk name …) for templates.

The campaign names it with ``outlets = "outlets.csv"`` (CSV or XLSX).  Row 1 holds the headers:
an ``outlet`` column (also ``média``, ``media``) with the outlet's name as the media lists
write it, and/or a ``slug`` column; every other column is a variable, named like contact fields
(snake_case: "Pitch FR" → ``pitch_fr``).  Templates read them as ``outlet.pitch_fr``.  Every
column is defined for every contact, empty for an outlet the sheet does not list, so a template
never fails because one outlet has no row.  Rows are matched on the outlet's slug, the same one
that names per-outlet template folders (``templates/outlets/<slug>/``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from distrib.config import display_path
from distrib.errors import ContactsError, Location, Problem, RenderError

__all__ = ["OutletSheet", "read_outlets"]

_OUTLET_HEADERS = frozenset({"outlet", "media", "medias", "outletname", "nomdumedia"})
_SLUG_HEADERS = frozenset({"slug", "outletslug"})


@dataclass(frozen=True, slots=True)
class OutletSheet:
    """The variables of each outlet, by slug, and the variable names (columns)."""

    columns: tuple[str, ...] = ()
    rows: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    where: Mapping[str, Location] = field(default_factory=lambda: MappingProxyType({}))

    def values(self, slug: str, name: str) -> dict[str, str]:
        """Return every variable for the outlet ``slug`` (blank when it has no row)."""
        row = self.rows.get(slug)
        values = dict.fromkeys(self.columns, "")
        if row is not None:
            values.update(row)
        values.update(name=name or (row or {}).get("name", ""), slug=slug)
        return values


def _header_problems(headers: list[str], names: dict[int, str], where: Location) -> list[Problem]:
    """Report blank, repeated and reserved variable names."""
    problems = []
    used: set[str] = set()
    for i, name in names.items():
        reason = None
        if not name:
            reason = "has no usable name"
        elif name in ("name", "slug"):
            reason = f"would hide outlet.{name}"
        elif name in used:
            reason = f"gives the variable name {name!r} twice"
        if reason is not None:
            problems.append(Problem(f"column {headers[i]!r} {reason}", where, "outlets"))
        used.add(name)
    return problems


def read_outlets(path: Path) -> OutletSheet:
    """Read the outlets sheet; raise `RenderError` listing every problem found."""
    from distrib.contacts.columns import field_name, header_key
    from distrib.contacts.normalize import clean_text, slugify
    from distrib.contacts.read import read_table

    shown = display_path(path)
    try:
        table = read_table(path)
    except ContactsError as exc:
        raise RenderError(exc.problems, f"the outlets sheet {shown} cannot be used") from None
    frame = table.frame
    if frame.empty:
        raise RenderError([Problem("the outlets sheet is empty", Location(shown), "outlets")])
    headers = [clean_text(str(h)) for h in frame.iloc[0].tolist()]
    keys = [header_key(h) for h in headers]
    outlet_col = next((i for i, k in enumerate(keys) if k in _OUTLET_HEADERS), None)
    slug_col = next((i for i, k in enumerate(keys) if k in _SLUG_HEADERS), None)
    if outlet_col is None and slug_col is None:
        message = "row 1 needs an 'outlet' (or 'média') column, or a 'slug' column"
        raise RenderError([Problem(message, Location(shown, 1), "outlets")])
    names = {i: field_name(h) for i, h in enumerate(headers) if i not in (outlet_col, slug_col)}
    problems = _header_problems(headers, names, Location(shown, 1))
    rows: dict[str, dict[str, str]] = {}
    where: dict[str, Location] = {}
    key_col = slug_col if slug_col is not None else outlet_col
    assert key_col is not None
    for number, cells in frame.iloc[1:].iterrows():
        values = [clean_text(str(c)) for c in cells.tolist()]
        if not any(values):
            continue
        outlet = values[outlet_col] if outlet_col is not None else ""
        slug = values[slug_col] if slug_col is not None and values[slug_col] else slugify(outlet)
        here = Location(shown, int(str(number)), column=headers[key_col])
        if not slug:
            problems.append(Problem("no outlet name or slug", here, "outlets"))
        elif slug in rows:
            first = where[slug].row
            message = f"outlet {slug!r} is listed twice (first on row {first})"
            problems.append(Problem(message, here, "outlets"))
        else:
            rows[slug] = {name: values[i] for i, name in names.items() if name} | {"name": outlet}
            where[slug] = here
    if problems:
        raise RenderError(problems, f"the outlets sheet {shown} cannot be used")
    columns = tuple(name for name in names.values() if name)
    return OutletSheet(
        columns=columns,
        rows=MappingProxyType({k: MappingProxyType(v) for k, v in rows.items()}),
        where=MappingProxyType(where),
    )
