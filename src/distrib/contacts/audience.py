"""A release's audience: which of the merged contacts it goes to, and why the others do not.

Rules come after the merge (and the suppression lists): a `Rule` keeps (or, ``exclude``, leaves
out) the contacts whose column holds one of its values; a `KeyRule` keeps or leaves out
contacts by key (those who received another release).  Every rule must hold for a contact to be
in the audience; each contact left out is counted under the first rule that left it out and
listed with that rule (`ContactBook.outside`), so nothing is dropped silently.

Columns are named as in the lists, in French or English (``beat``/``rubrique``,
``region``/``région``, ``outlet type``/``type de média``, ``tags``/``étiquettes``, ``outlet``,
any other column), plus ``language`` (the language the contact reads: fr, en, both) and
``list`` (the lists a contact is on, by name).  Values match whatever their case, accents and
spacing; a ``tags`` cell holds several values separated by ``,``, ``;`` or ``|``.  A value that
no row of any list has (a beat nobody covers, a typo) is an error listing the values the lists
have: an audience is never silently empty.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from distrib.contacts.columns import ALIASES, field_name, header_key
from distrib.contacts.combine import MergedTable
from distrib.contacts.model import AudienceSummary, Contact, ContactBook
from distrib.contacts.normalize import parse_language
from distrib.errors import AudienceError, Location, Problem

__all__ = ["KeyRule", "Rule", "apply_audience", "fold"]

#: Rule columns that are not columns of a list.
_LIST = frozenset({"list", "liste", "lists", "listes", "source", "sources", "listname"})
_LANGUAGE = frozenset({"language", "langue", "lang", "languages", "langues"})
#: Fields whose cells hold several values.
_MULTI = frozenset({"tags"})
_SPLIT = re.compile(r"[,;|]")
#: How many known values an error lists before "… and N more".
_SHOWN = 40


def fold(value: str) -> str:
    """Return ``value`` as rules compare it: without case, accents or extra spaces."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


@dataclass(frozen=True, slots=True)
class Rule:
    """``column`` must hold one of ``values`` (``exclude``: must hold none of them).

    ``label`` is the rule as the officer wrote it (``--only beat=Culture``); ``where`` the file
    that holds it, if any.
    """

    label: str
    column: str
    values: tuple[str, ...]
    exclude: bool = False
    where: Location | None = None


@dataclass(frozen=True, slots=True)
class KeyRule:
    """Keep only the contacts whose key is in ``keys`` (``exclude``: leave those out)."""

    label: str
    keys: frozenset[str]
    exclude: bool = False


#: A contact's values for one rule, folded.
_Getter = Callable[[int, Contact], frozenset[str]]


class _Columns:
    """What the rules can look at: every field of the merged lists, the lists, the language."""

    def __init__(self, merged: MergedTable, book: ContactBook) -> None:
        self.merged = merged
        self.book = book
        self.fields = set(merged.fields)
        self._lists: list[frozenset[str]] | None = None

    def resolve(self, column: str) -> str | None:
        """The field a rule's column names ("list" and "language" are their own)."""
        key = header_key(column)
        if key in _LIST:
            return "list"
        if key in _LANGUAGE:
            return "language"
        alias = ALIASES.get(key)
        if alias == "name":
            alias = "full_name"
        for name in (alias, field_name(column)):
            if name and name in self.fields:
                return name
        return None

    def known(self) -> list[str]:
        """The columns a rule can name."""
        names = {"list", "language", *self.fields} - {"email", "first_name", "last_name"}
        return sorted(names)

    def list_names(self, position: int) -> frozenset[str]:
        """The names of the lists contact ``position`` is on (as written)."""
        if self._lists is None:
            src = self.merged.rows["_src"].to_numpy().tolist()
            names = [p.name for p in self.merged.prepared]
            self._lists = [frozenset(names[src[i]] for i in g) for g in self.merged.groups()]
        return self._lists[position]

    def shown(self, field: str, position: int, contact: Contact) -> str:
        """A contact's value for ``field`` as written, for the officer."""
        if field == "list":
            return ", ".join(sorted(self.list_names(position)))
        if field == "language":
            return contact.language
        return contact.fields.get(field, "")

    def values_seen(self, field: str) -> Counter[str]:
        """Every value of ``field`` in every row read (as written), with how many rows."""
        if field == "list":
            return Counter(p.name for p in self.merged.prepared)
        if field == "language":
            return Counter(c.language for c in self.book.contacts)
        seen: Counter[str] = Counter()
        for cell, count in self.merged.rows[field].value_counts().items():
            for value in _split(str(cell), field):
                seen[value] += int(count)
        return seen

    def getter(self, field: str) -> _Getter:
        if field == "list":
            return lambda i, contact: frozenset(fold(n) for n in self.list_names(i))
        if field == "language":
            return lambda i, contact: frozenset({contact.language})
        memo: dict[str, frozenset[str]] = {}

        def get(i: int, contact: Contact) -> frozenset[str]:
            cell = contact.fields.get(field, "")
            found = memo.get(cell)
            if found is None:
                found = memo[cell] = frozenset(fold(v) for v in _split(cell, field))
            return found

        return get


def _split(cell: str, field: str) -> list[str]:
    parts = _SPLIT.split(cell) if field in _MULTI else [cell]
    return [p.strip() for p in parts if p.strip()]


def _key(field: str, value: str) -> str:
    """A rule's value as compared (languages as codes: "English" is en)."""
    return (parse_language(value) or fold(value)) if field == "language" else fold(value)


def _known_list(seen: Counter[str]) -> str:
    spelled: dict[str, tuple[str, int]] = {}
    for value, count in seen.most_common():
        key = fold(value)
        if key not in spelled:
            spelled[key] = (value, count)
        else:
            spelled[key] = (spelled[key][0], spelled[key][1] + count)
    ordered = [spelled[k] for k in sorted(spelled)]
    shown = ", ".join(f"{value} ({count})" for value, count in ordered[:_SHOWN])
    more = f", … and {len(ordered) - _SHOWN} more" if len(ordered) > _SHOWN else ""
    return (shown + more) or "none: the column is empty"


def _checked(
    rules: Sequence[Rule | KeyRule], columns: _Columns
) -> list[tuple[Rule | KeyRule, str, frozenset[str]]]:
    """Resolve each rule's column and values; raise `AudienceError` listing every problem."""
    problems: list[Problem] = []
    resolved: list[tuple[Rule | KeyRule, str, frozenset[str]]] = []
    for rule in rules:
        if isinstance(rule, KeyRule):
            resolved.append((rule, "", rule.keys))
            continue
        field = columns.resolve(rule.column)
        if field is None:
            known = ", ".join(columns.known())
            message = f"{rule.label}: no list has a column {rule.column!r} (columns: {known})"
            problems.append(Problem(message, rule.where, "audience-column"))
            continue
        wanted = frozenset(_key(field, v) for v in rule.values)
        seen = columns.values_seen(field)
        present = {fold(v) for v in seen} | (
            {parse_language(v) or "" for v in seen} if field == "language" else set()
        )
        for value in rule.values:
            if _key(field, value) not in present:
                message = (
                    f"{rule.label}: no contact has {rule.column} {value!r}"
                    f" (the lists have: {_known_list(seen)})"
                )
                problems.append(Problem(message, rule.where, "audience-value"))
        resolved.append((rule, field, wanted))
    if problems:
        raise AudienceError(problems, "the audience cannot be chosen:")
    return resolved


def apply_audience(
    book: ContactBook, merged: MergedTable, rules: Iterable[Rule | KeyRule]
) -> ContactBook:
    """Keep the contacts of ``book`` (built from ``merged``) that every rule admits.

    Raise `AudienceError` when a rule names a column no list has or a value no row holds.
    """
    rules = tuple(rules)
    if not rules:
        return book
    columns = _Columns(merged, book)
    resolved = _checked(rules, columns)
    getters = {field: columns.getter(field) for _, field, _ in resolved if field}
    kept: list[Contact] = []
    outside: list[Problem] = []
    left_out: Counter[str] = Counter()
    for position, contact in enumerate(book.contacts):
        reason = None
        for rule, field, wanted in resolved:
            if isinstance(rule, KeyRule):
                if (contact.key in wanted) == rule.exclude:
                    reason = rule.label
            else:
                has = getters[field](position, contact)
                if bool(has & wanted) == rule.exclude:
                    value = columns.shown(field, position, contact) or "blank"
                    reason = f"{rule.label} ({rule.column}: {value})"
            if reason is not None:
                left_out[rule.label] += 1
                break
        if reason is None:
            kept.append(contact)
        else:
            where = contact.sources[0] if contact.sources else None
            outside.append(Problem(f"{contact.email}: not in the audience: {reason}", where))
    members = {c.key for c in kept}
    dropped = {id(p) for key, p in book.fallbacks.items() if key not in members}
    return replace(
        book,
        contacts=tuple(kept),
        outside=tuple(outside),
        before_audience=book.contacts,
        warnings=tuple(w for w in book.warnings if id(w) not in dropped),
        fallbacks={k: p for k, p in book.fallbacks.items() if k in members},
        audience=AudienceSummary(
            rules=tuple(rule.label for rule in rules),
            merged=len(book.contacts),
            kept=len(kept),
            left_out=dict(left_out),
        ),
    )
