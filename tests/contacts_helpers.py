"""Helpers shared by the tests/test_contacts*.py files: write real lists, load them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
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


def write_ods(path: Path, sheets: dict[str, Rows]) -> Path:
    """Write an OpenDocument spreadsheet with odfpy; a cell "of:=…" becomes a formula without a
    saved value (what a program that does not compute formulas writes)."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table as OdfTable
    from odf.table import TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = OdfTable(name=name)
        for row in rows:
            tr = TableRow()
            for value in row:
                text = str(value)
                if text.startswith("of:="):
                    cell = TableCell(formula=text)
                else:
                    cell = TableCell(valuetype="string")
                    if text:
                        cell.addElement(P(text=text))
                tr.addElement(cell)
            table.addElement(tr)
        document.spreadsheet.addElement(table)
    document.save(str(path))
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


class DNSStub:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP) answering from a fixed zone."""

    def __init__(self, mx: dict[str, list[str]]) -> None:
        self.mx = mx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.asked: list[str] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while self.running:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            question = query.question[0]
            name = question.name.to_text().rstrip(".")
            self.asked.append(name)
            response = dns.message.make_response(query)
            if name in self.mx:
                if self.mx[name]:
                    response.answer.append(
                        dns.rrset.from_text(question.name, 300, "IN", "MX", *self.mx[name])
                    )
            else:
                response.set_rcode(dns.rcode.NXDOMAIN)
            self.sock.sendto(response.to_wire(), peer)

    def __enter__(self) -> DNSStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()
        self.sock.close()


__all__ = [
    "DNSStub",
    "load",
    "locate_header",
    "memory_table",
    "write_csv",
    "write_ods",
    "write_xlsx",
]
