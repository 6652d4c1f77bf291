"""Read a vCard file (``.vcf``, as address books export them) into a grid of text cells.

Each card becomes one row under fixed headers that the column aliases already know.  The file
is cut into cards at its ``BEGIN:VCARD`` lines, and each card is parsed on its own with vobject,
so one broken card is one rejected row, not a lost file.  A card's row number is the line of
its ``BEGIN:VCARD``, so ``contacts.vcf:40`` points at the card in any text editor.

Address choice: the ``EMAIL`` marked preferred (``TYPE=PREF`` or ``PREF=1``), else the first;
the others are kept in the ``other_emails`` field, never sent to.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pandas as pd

from distrib.contacts.workbook import CellNote

__all__ = ["HEADERS", "read_vcards"]

HEADERS = (
    "Email", "First name", "Last name", "Full name", "Organization", "Title", "Phone",
    "City", "Language", "Note", "Categories", "Other emails",
)  # fmt: skip
_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)


def _cards(text: str) -> Iterator[tuple[int, str]]:
    """Yield (line number of BEGIN:VCARD, the card's text) for every card in ``text``."""
    start: int | None = None
    lines: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if _BEGIN.match(line):
            if start is not None:  # a card without END: give it what it has
                yield start, "\r\n".join(lines)
            start, lines = number, [line]
        elif start is not None:
            lines.append(line)
            if _END.match(line):
                yield start, "\r\n".join(lines) + "\r\n"
                start, lines = None, []
    if start is not None:
        yield start, "\r\n".join(lines)


def _is_preferred(line: Any) -> bool:
    params = {k.upper(): [str(v).upper() for v in vs] for k, vs in line.params.items()}
    return "PREF" in params.get("TYPE", []) or "PREF" in params


def _first(card: Any, name: str) -> Any:
    lines = card.contents.get(name, [])
    preferred = [line for line in lines if _is_preferred(line)]
    return (preferred or lines or [None])[0]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value if v)
    return str(value)


def _row(card: Any) -> list[str]:
    emails = card.contents.get("email", [])
    chosen = _first(card, "email")
    name = card.contents.get("n", [None])[0]
    org = card.contents.get("org", [None])[0]
    adr = _first(card, "adr")
    values = {
        "Email": _text(chosen.value) if chosen is not None else "",
        "First name": _text(name.value.given) if name is not None else "",
        "Last name": _text(name.value.family) if name is not None else "",
        "Full name": _text(card.fn.value) if "fn" in card.contents else "",
        "Organization": _text(org.value[0] if org is not None and org.value else ""),
        "Title": _text(card.title.value) if "title" in card.contents else "",
        "Phone": _text(_first(card, "tel").value) if "tel" in card.contents else "",
        "City": _text(adr.value.city) if adr is not None else "",
        "Language": _text(_first(card, "lang").value) if "lang" in card.contents else "",
        "Note": _text(card.note.value) if "note" in card.contents else "",
        "Categories": _text(card.categories.value) if "categories" in card.contents else "",
        "Other emails": "; ".join(_text(e.value) for e in emails if e is not chosen),
    }
    return [values[h] for h in HEADERS]


def read_vcards(text: str) -> tuple[pd.DataFrame, tuple[CellNote, ...]]:
    """Return the cards as a frame (header at index 0, each card at its line number) and notes
    for the cards that cannot be parsed (kind ``unreadable``)."""
    import vobject

    rows: list[list[str]] = [list(HEADERS)]
    index = [0]
    notes = []
    for line, chunk in _cards(text):
        try:
            card = vobject.readOne(chunk)
            row = _row(card)
        except Exception as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            notes.append(CellNote(line, 0, "unreadable", f"this card cannot be read ({reason})"))
            row = [""] * len(HEADERS)
            row[3] = "?"  # not blank: the row must be accounted for, as rejected
        rows.append(row)
        index.append(line)
    frame = pd.DataFrame(rows, index=index, columns=range(len(HEADERS)), dtype=object)
    return frame, tuple(notes)
