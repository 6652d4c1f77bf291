"""Write the merged list and its rejected rows, through `distrib.export` (formula-safe cells).

The merged list has one row per contact: the address as written and on the wire, the language
that will be used, every field (standard ones first, then each source's extra columns), whether
the address needs SMTPUTF8, the winning row (``source``) and every row the contact came from
(``provenance``: ``file[:sheet]:row; …``, which is what CASL's record of conspicuous publication
needs).  The rejects file has one row per rejected row: where, why, and the address cell.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from distrib.contacts.model import ContactBook
from distrib.errors import Problem
from distrib.export import Format, write_table

__all__ = ["FORMATS", "MERGED_META", "REJECT_COLUMNS", "rejects_path", "write_merged"]

FORMATS: Mapping[str, Format] = {".csv": "csv", ".xlsx": "xlsx"}
MERGED_META = ("address", "smtputf8", "outlet_slug", "source", "provenance")
REJECT_COLUMNS = ("file", "sheet", "row", "column", "code", "reason")


def rejects_path(output: Path) -> Path:
    """Return where the rejects go beside ``output``: ``merged.csv`` -> ``merged.rejects.csv``."""
    return output.with_name(f"{output.stem}.rejects{output.suffix}")


def _contact_rows(book: ContactBook, names: list[str]) -> Iterator[dict[str, Any]]:
    for contact in book.contacts:
        row: dict[str, Any] = {name: contact.fields.get(name, "") for name in names}
        row.update(
            email=contact.email,
            address=contact.address,
            language=contact.language,
            smtputf8="yes" if contact.smtputf8 else "",
            outlet_slug=contact.outlet_slug,
            source=str(contact.sources[0]) if contact.sources else "",
            provenance="; ".join(str(where) for where in contact.sources),
        )
        yield row


def _reject_rows(problems: tuple[Problem, ...]) -> Iterator[dict[str, Any]]:
    for problem in problems:
        where = problem.where
        yield {
            "file": where.path if where else "",
            "sheet": (where.sheet or "") if where else "",
            "row": where.row if where and where.row is not None else "",
            "column": (where.column or "") if where else "",
            "code": problem.code,
            "reason": problem.message,
        }


def write_merged(book: ContactBook, output: Path) -> Path:
    """Write the merged list to ``output`` (.csv or .xlsx) and the rejects beside it.

    Returns the rejects file's path.  Raises `ValueError` for another extension.
    """
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise ValueError(f"{output.name}: write .csv or .xlsx")
    names: list[str] = []
    for contact in book.contacts:
        names = list(contact.fields)
        break
    first = ["email", "address", "language"]
    columns = [*first, *(n for n in names if n not in first), *MERGED_META[1:]]
    write_table(output, columns, _contact_rows(book, names), fmt, sheet="contacts")
    rejects = rejects_path(output)
    write_table(rejects, list(REJECT_COLUMNS), _reject_rows(book.rejected), fmt, sheet="rejects")
    return rejects
