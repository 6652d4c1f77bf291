"""Read delimited text (CSV, TSV, TXT) into a grid of text cells, exactly as written.

The encoding is, unless the campaign file gives it: the byte-order mark if there is one (UTF-8,
UTF-16 as Excel's "Unicode text" writes it), else UTF-16 without a mark when every other byte
of the start is NUL, else strict UTF-8, else Windows-1252 (what Excel on Windows writes in North
America and Western Europe).  How it was decided is kept (`Decoded.basis`) so it can be shown.
The delimiter is sniffed among ``,`` ``;`` tab and ``|`` unless given.

Parsing checks the size of the grid it is about to build (`extent.TableLimits`) before building
it, and a line the csv module cannot read (a quote opened and never closed, so that one field
runs past 128 KB) is reported as ``file:row:``, never raised as the module's own error.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from distrib.contacts.extent import DEFAULT_TABLE_LIMITS, TableLimits, too_big
from distrib.errors import ContactsError, Location, Problem

__all__ = ["DELIMITERS", "Decoded", "decode", "grid", "parse_delimited", "sniff_delimiter"]

DELIMITERS = (",", ";", "\t", "|")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SNIFF_LINES = 50


@dataclass(frozen=True, slots=True)
class Decoded:
    """Decoded text, the encoding used and why: ``bom``, ``utf-16``, ``utf-8``, ``fallback``
    (not valid UTF-8, so Windows-1252) or ``campaign`` (given in the campaign file)."""

    text: str
    encoding: str
    basis: str


def _utf16_without_bom(data: bytes) -> str | None:
    """Return ``utf-16-le``/``utf-16-be`` when the start looks like UTF-16 text without a BOM."""
    head = data[:2000]
    if len(head) < 4 or len(head) % 2:
        head = head[: len(head) - len(head) % 2]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) >= 0.9 * len(odd) and even.count(0) == 0:
        return "utf-16-le"
    if even.count(0) >= 0.9 * len(even) and odd.count(0) == 0:
        return "utf-16-be"
    return None


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """Decode file bytes; return (text, encoding name).  Raise `UnicodeError` or `LookupError`."""
    found = decode_bytes(data, encoding)
    return found.text, found.encoding


def decode_bytes(data: bytes, encoding: str | None = None) -> Decoded:
    """Decode file bytes, saying how the encoding was chosen; raise `UnicodeError`/`LookupError`."""
    if encoding is not None:
        return Decoded(data.decode(encoding).removeprefix("\ufeff"), encoding, "campaign")
    for bom, name in _BOMS:
        if data.startswith(bom):
            return Decoded(data.decode(name).removeprefix("\ufeff"), name, "bom")
    utf16 = _utf16_without_bom(data)
    if utf16 is not None:
        return Decoded(data.decode(utf16), utf16, "utf-16")
    try:
        return Decoded(data.decode("utf-8"), "utf-8", "utf-8")
    except UnicodeDecodeError:
        return Decoded(data.decode("cp1252"), "cp1252", "fallback")


def decode_file(path: Path, display: str, data: bytes, encoding: str | None) -> Decoded:
    """Decode a text source; raise `ContactsError` naming the line that cannot be read."""
    where = Location(display)
    if data.startswith(b"PK\x03\x04"):
        message = "this is a zipped file (.xlsx or .ods); give it the right extension"
        raise ContactsError([Problem(message, where, "format")])
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        message = "this is an old Excel (.xls) file; save it as .xlsx or CSV"
        raise ContactsError([Problem(message, where, "format")])
    try:
        return decode_bytes(data, encoding)
    except LookupError:
        raise ContactsError(
            [Problem(f"unknown encoding {encoding!r}", where, "encoding")]
        ) from None
    except UnicodeDecodeError as exc:
        tried = encoding or "UTF-8 or Windows-1252"
        line = data[: exc.start].count(b"\n") + 1
        message = (
            f"cannot be read as {tried} (byte 0x{data[exc.start]:02x} on line {line}, "
            f"offset {exc.start}); save it as UTF-8 CSV or set `encoding` for this source"
        )
        raise ContactsError([Problem(message, Location(display, line), "encoding")]) from None


def _field_counts(sample: str, delimiter: str) -> list[int]:
    reader = csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter)
    try:
        return [len(record) for record in reader if any(cell.strip() for cell in record)]
    except csv.Error:
        return []


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the first lines into the most, most consistent fields."""
    sample = "\n".join(text[:200_000].splitlines()[:_SNIFF_LINES])
    best, best_score = ",", (0.0, 1)
    for delimiter in DELIMITERS:
        counts = _field_counts(sample, delimiter)
        if not counts or max(counts) < 2:
            continue
        widest = max(counts)
        score = (sum(c == widest for c in counts) / len(counts), widest)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def grid(records: Sequence[Sequence[str]]) -> pd.DataFrame:
    """Return records as a frame of text cells, short rows padded with blanks."""
    width = max((len(r) for r in records), default=0)
    padded = [list(r) + [""] * (width - len(r)) for r in records]
    return pd.DataFrame(padded, columns=range(width), dtype=object)


# Encodings pandas' C parser decodes itself, from the bytes (faster than re-encoding the text).
_NATIVE = frozenset({"utf-8", "utf-8-sig", "cp1252"})
_LINE_END = re.compile(r"[\r\n]")


def _refuse(display: str, message: str, row: int | None = None) -> ContactsError:
    return ContactsError([Problem(message, Location(display, row), "size")])


def _records(text: str, delimiter: str, display: str) -> Iterator[list[str]]:
    """Yield the records of ``text``; a record the csv module cannot read is a `ContactsError`
    naming its row (the spreadsheet's row number: the record's, not the line's)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    row = 0
    try:
        for row, record in enumerate(reader, start=1):  # noqa: B007 (row is used below)
            yield record
    except csv.Error as exc:
        where = row + 1
        if "field limit" in str(exc):
            message = (
                f"a field in this row is longer than {csv.field_size_limit():,} characters"
                ' (often a quote (") that is never closed, which makes the rest of the file one'
                " field); check the quotes from here on"
            )
        else:
            message = f"cannot be read as delimited text ({exc})"
        raise ContactsError([Problem(message, Location(display, where), "format")]) from None


def _line_count(text: str) -> int:
    """At least the number of records in ``text`` (a quoted line break makes it more)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n") + 1


def _first_width(text: str, delimiter: str, display: str) -> int:
    """The number of fields in the first record: how wide pandas' C parser makes every row."""
    end = _LINE_END.search(text)
    line = text if end is None else text[: end.start()]
    if '"' not in line:
        return line.count(delimiter) + 1
    try:
        return len(next(_records(text, delimiter, display), []))
    except ContactsError:  # an endless first field: the C parser reports it, then `_padded`
        return line.count(delimiter) + 1


def _check_grid(text: str, delimiter: str, display: str, limits: TableLimits) -> None:
    """Refuse, before pandas builds it, a grid wider or larger than the limits."""
    width = _first_width(text, delimiter, display)
    lines = _line_count(text)
    if too_big(lines, width, limits) is None:
        return
    # The line count only bounds the records: count them when the bound is not enough.
    records = sum(1 for _ in _records(text, delimiter, display))
    reason = too_big(records, width, limits, f"the first row has {width:,} fields")
    if reason is not None:
        raise _refuse(display, reason)


def _padded(text: str, delimiter: str, display: str, limits: TableLimits) -> pd.DataFrame:
    """Read records one by one, refusing as soon as the padded grid would be too large."""
    records: list[list[str]] = []
    width, widest = 0, 0
    for number, record in enumerate(_records(text, delimiter, display), start=1):
        if len(record) > width:
            width, widest = len(record), number
        if too_big(number, width, limits) is not None:
            # The grid pads every row to the widest: say how big it would be in the end.
            rows = max(number, sum(1 for _ in _records(text, delimiter, display)))
            reason = too_big(rows, width, limits, f"row {widest:,} has {width:,} fields")
            raise _refuse(display, str(reason))
        records.append(record)
    return grid(records)


def parse_delimited(
    text: str,
    delimiter: str,
    data: bytes | None = None,
    encoding: str | None = None,
    *,
    display: str = "<text>",
    limits: TableLimits = DEFAULT_TABLE_LIMITS,
) -> pd.DataFrame:
    """Parse text into object columns of `str`; blank lines stay as rows so row numbers hold.

    ``data`` and ``encoding``, when given, are the bytes ``text`` was decoded from; ``display``
    names the file in problems.  Raise `ContactsError` for a table larger than ``limits`` or a
    record that cannot be read.
    """
    _check_grid(text, delimiter, display, limits)
    native = data is not None and encoding in _NATIVE
    source = io.BytesIO(data) if data is not None and native else io.StringIO(text)
    try:
        frame = pd.read_csv(
            source, sep=delimiter, header=None, dtype=object, na_filter=False,
            keep_default_na=False, skip_blank_lines=False, engine="c",
            encoding=encoding if native else None,
        )  # fmt: skip
    except pd.errors.ParserError:
        # Rows wider than the first one (or an unclosed quote): the C parser refuses them, so
        # read them with the csv module and pad them ourselves.
        return _padded(text, delimiter, display, limits)
    except pd.errors.EmptyDataError:
        return pd.DataFrame(dtype=object)
    reason = too_big(frame.shape[0], frame.shape[1], limits)
    if reason is not None:
        raise _refuse(display, reason)
    return frame
