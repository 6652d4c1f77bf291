"""Map the headers of a media list to contact fields, in French or English.

Headers are compared by `header_key`, which ignores case, accents, spaces and punctuation, so
"Adresse électronique", "ADRESSE ELECTRONIQUE" and "adresse_électronique" are the same header.
`SourceConfig.columns` overrides the aliases.  Every other column becomes a template field under
a snake_case ASCII name (`field_name`), e.g. "Rubrique spéciale" -> ``rubrique_speciale``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from distrib.contacts.normalize import ascii_fold, slugify

__all__ = [
    "ADDRESS_HEADERS",
    "ALIASES",
    "AUDIENCE_FIELDS",
    "IDENTITY_FIELDS",
    "STANDARD_FIELDS",
    "ColumnMap",
    "field_name",
    "header_key",
    "map_columns",
]

# Every contact has these fields (blank when no source has the column), so templates can rely
# on them.  `full_name` is only a source for first/last names when a list has no such columns.
STANDARD_FIELDS = (
    "email", "first_name", "last_name", "full_name", "outlet", "language",
    "title", "beat", "phone", "city",
)  # fmt: skip

# Recognised columns that are not standard fields (present when a list has them): see ALIASES.
AUDIENCE_FIELDS = ("beat", "region", "outlet_type", "tags")

# Fields that reach message headers (To, Subject): a line break in them is refused.
IDENTITY_FIELDS = ("email", "first_name", "last_name", "full_name", "outlet")

# What the officer is told to use when no address column is found.
ADDRESS_HEADERS = (
    "Courriel",
    "E-mail",
    "Email",
    "Adresse courriel",
    "Adresse électronique",
    "Mail",
)

_NAME = "name"  # "Nom"/"Name": the last name beside a first-name column, else the full name.

_ALIAS_LISTS: dict[str, tuple[str, ...]] = {
    "email": (
        *ADDRESS_HEADERS, "Courriel professionnel", "Adresse de courriel", "Adresse e-mail",
        "Adresse mail", "Adresse email", "Email address", "E-mail address", "Mél",
        "Courrier électronique",
    ),
    "first_name": ("Prénom", "First name", "Firstname", "Given name", "Forename", "First"),
    "last_name": ("Nom de famille", "Last name", "Lastname", "Surname", "Family name", "Last"),
    _NAME: ("Nom", "Name"),
    "full_name": (
        "Nom complet", "Full name", "Prénom et nom", "Prénom nom", "Nom et prénom",
        "Contact", "Nom du contact", "Contact name", "Journaliste", "Journalist",
    ),
    "outlet": (
        "Média", "Médias", "Media", "Outlet", "Media outlet", "Publication", "Organe de presse",
        "Journal", "Organisation", "Organization", "Organisme", "Entreprise", "Company",
        "Nom du média", "Station",
    ),
    "language": (
        "Langue", "Language", "Lang", "Langue préférée", "Preferred language",
        "Langue de correspondance", "Langue de communication",
    ),
    "title": ("Titre", "Poste", "Fonction", "Title", "Job title", "Position", "Rôle", "Role"),
    "beat": ("Rubrique", "Beat", "Sujet", "Sujets", "Section", "Topic", "Topics", "Secteur"),
    "phone": (
        "Téléphone", "Tél", "Tel", "Phone", "Phone number", "Numéro de téléphone", "Telephone",
    ),
    "city": ("Ville", "City", "Municipalité", "Town"),
    # Not standard (a contact has them only when a list has the column), but recognised in
    # French and English so that audience rules find them whatever the header says.
    "region": ("Région", "Region", "Région administrative", "Territoire", "Territory"),
    "outlet_type": (
        "Type de média", "Type de médias", "Outlet type",
        "Media type", "Type of outlet", "Type of media", "Catégorie de média",
    ),
    "tags": ("Tags", "Tag", "Étiquettes", "Étiquette", "Mots-clés", "Mots clés", "Keywords"),
}  # fmt: skip


def header_key(header: str) -> str:
    """Return ``header`` without case, accents, spaces or punctuation, for alias matching."""
    return re.sub(r"[^a-z0-9]", "", ascii_fold(header))


ALIASES: Mapping[str, str] = {
    header_key(alias): name for name, aliases in _ALIAS_LISTS.items() for alias in aliases
}


def field_name(header: str) -> str:
    """Return the template field name for a header: snake_case ASCII, not starting with a digit."""
    name = slugify(header, "_")
    if not name:
        return ""
    return f"field_{name}" if name[0].isdigit() else name


@dataclass(frozen=True, slots=True)
class ColumnMap:
    """Which column (by position) feeds which field, plus notes for the officer.

    ``fields`` maps a column position to a field name (standard or extra); ``headers`` are the
    headers as written; ``warnings`` are plain messages about surprising choices.
    """

    headers: tuple[str, ...]
    fields: Mapping[int, str]
    warnings: tuple[str, ...] = ()
    overridden: frozenset[int] = field(default_factory=frozenset)

    def column_of(self, name: str) -> int | None:
        """Return the position of the column feeding field ``name``, or None."""
        return next((i for i, f in self.fields.items() if f == name), None)

    def header_of(self, name: str) -> str | None:
        """Return the header (as written) of the column feeding field ``name``, or None."""
        position = self.column_of(name)
        return None if position is None else self.headers[position]

    @property
    def extras(self) -> tuple[str, ...]:
        """The non-standard field names, in column order."""
        return tuple(f for f in self.fields.values() if f not in STANDARD_FIELDS)


def _override_target(value: str) -> str:
    """Turn the right-hand side of a `columns` override into a field name."""
    name = field_name(value)
    if name in STANDARD_FIELDS:
        return name
    alias = ALIASES.get(header_key(value))
    return alias if alias is not None and alias != _NAME else name


def _find_header(headers: Sequence[str], written: str) -> int | None:
    """Find a header as written, else by its key (the officer may not match case or accents)."""
    stripped = [h.strip() for h in headers]
    if written.strip() in stripped:
        return stripped.index(written.strip())
    keys = [header_key(h) for h in headers]
    key = header_key(written)
    return keys.index(key) if key and key in keys else None


def _apply_overrides(
    headers: Sequence[str], overrides: Mapping[str, str], warnings: list[str]
) -> dict[int, str]:
    assigned: dict[int, str] = {}
    for written, target in overrides.items():
        position = _find_header(headers, written)
        if position is None:
            found = ", ".join(repr(h) for h in headers if h)
            warnings.append(f"columns: {written!r} is not a header of this file (found: {found})")
        elif _override_target(target) in assigned.values():
            warnings.append(f"columns: {target!r} is given to two columns; ignoring {written!r}")
        else:
            assigned[position] = _override_target(target)
    return assigned


def _alias_fields(headers: Sequence[str], assigned: dict[int, str]) -> dict[int, str]:
    """Give each unassigned header its alias, resolving "Nom"/"Name" by the other headers."""
    aliases = {i: ALIASES.get(header_key(h)) for i, h in enumerate(headers) if i not in assigned}
    has_first = "first_name" in assigned.values() or "first_name" in aliases.values()
    name_means = "last_name" if has_first else "full_name"
    return {i: name_means if a == _NAME else a for i, a in aliases.items() if a is not None}


def map_columns(headers: Sequence[str], overrides: Mapping[str, str] | None = None) -> ColumnMap:
    """Decide which field each column feeds: overrides first, then aliases, then extras."""
    warnings: list[str] = []
    assigned = _apply_overrides(headers, overrides or {}, warnings)
    overridden = frozenset(assigned)
    taken = set(assigned.values())
    for position, name in sorted(_alias_fields(headers, assigned).items()):
        if name in taken:
            first = next(headers[i] for i, f in assigned.items() if f == name)
            warnings.append(
                f"column {headers[position]!r} also looks like {name}; using {first!r} "
                f"and keeping this one as a template field"
            )
            continue
        assigned[position] = name
        taken.add(name)
    for position, header in enumerate(headers):
        if position not in assigned:
            name = _unique(field_name(header) or f"column_{position + 1}", taken)
            assigned[position] = name
            taken.add(name)
    return ColumnMap(tuple(headers), dict(sorted(assigned.items())), tuple(warnings), overridden)


def _unique(name: str, taken: set[str]) -> str:
    """Return ``name``, or ``name_2``, ``name_3``… if a column or standard field has it."""
    if name not in taken and name not in STANDARD_FIELDS:
        return name
    n = 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"
