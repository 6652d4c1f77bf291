"""Helpers shared by the tests/test_contacts*.py files: write real lists, load them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

from distrib.config import SourceConfig
from distrib.contacts import ContactBook, read_contacts
from distrib.contacts.read import Table, locate_header

Rows = Sequence[Sequence[Any]]


def write_csv(
    path: Path,
    rows: Rows,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    newline: str = "\n",
) -> Path:
    """Write ``rows`` as a delimited file; values are written as given (quote them yourself)."""
    text = newline.join(delimiter.join(str(c) for c in row) for row in rows) + newline
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: Rows, *, sheet: str = "Feuil1", first: str | None = None) -> Path:
    """Write ``rows`` to a sheet of a new workbook (after an unrelated ``first`` sheet if given)."""
    book = openpyxl.Workbook()
    default = book.active
    assert default is not None
    if first is not None:
        default.title = first
        default.append(["nothing here"])
        ws = book.create_sheet(sheet)
    else:
        default.title = sheet
        ws = default
    for row in rows:
        ws.append(list(row))
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as Excel stores 'text
    book.save(path)
    return path


def load(
    *paths: Path | SourceConfig,
    suppression: Sequence[Path] = (),
    default_language: str = "fr",
) -> ContactBook:
    """Load sources (paths or configs) in priority order, as `load_contacts` does."""
    sources = [p if isinstance(p, SourceConfig) else SourceConfig(path=p) for p in paths]
    assert default_language in ("fr", "en")
    return read_contacts(sources, suppression, "fr" if default_language == "fr" else "en")


def memory_table(rows: Rows, name: str = "list.xlsx") -> Table:
    """Build a table in memory, as if read from a sheet (row 1 = the header)."""
    frame = pd.DataFrame([[str(c) for c in row] for row in rows], dtype=str)
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return Table(Path(name), frame, sheet="Feuil1")


__all__ = ["load", "locate_header", "memory_table", "write_csv", "write_xlsx"]
