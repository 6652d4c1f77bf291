"""Column-at-a-time helpers over numpy arrays of `str` (what the readers produce).

A million-row list has millions of cells, and almost all of them are already clean: NFC, no
surrounding spaces, no control character, no mojibake.  So each column is first looked at as a
whole (`Scan`): its cells are joined with `SEP` into one string, ``unicodedata.is_normalized``
runs on it, and its code points go into a numpy array where "is there a control character?",
"is there a space at the start or end of a cell?" or "is there a character that can start a
mojibake sequence, followed by one that can continue it?" are a few vectorised comparisons.
Python only touches the cells one by one when such a whole-column answer says some cell needs
it.  Every whole-column test can only err towards "maybe" (e.g. a cell that itself holds `SEP`
looks like two cells), which costs a needless per-cell pass, never a missed problem.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import cached_property
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from distrib.errors import Location

__all__ = [
    "SEP",
    "Scan",
    "Strings",
    "clean",
    "clean_scan",
    "find_cells",
    "frame_of",
    "locations",
    "nonblank",
    "per_unique",
    "strings",
]

SEP = "|"  # printable ASCII, neither whitespace nor a control character
Strings = npt.NDArray[np.object_]
Bools = npt.NDArray[np.bool_]


def _lookup(points: Sequence[int]) -> Bools:
    """A table saying, for each code point up to the largest given, whether it is given."""
    table = np.zeros(max(points) + 2, dtype=bool)  # the last entry stands for "beyond"
    table[list(points)] = True
    return table


def _member(points: npt.NDArray[Any], table: Bools) -> Bools:
    """Tell, per code point, whether ``table`` holds it (a lookup, much faster than np.isin)."""
    if points.dtype == np.uint8:
        found: Bools = (
            table[:256][points] if len(table) >= 256 else table[np.minimum(points, len(table) - 1)]
        )
        return found
    found = table[np.minimum(points, np.uint32(len(table) - 1))]
    return found


# Every character str.isspace() (hence str.strip()) treats as whitespace.
_SPACE = _lookup([c for c in range(0x3001) if chr(c).isspace()])
# Characters `distrib.headers` refuses: C0 and C1 controls, DEL, U+2028 and U+2029.
_CONTROL_MAX, _DEL, _C1_MAX = 0x1F, 0x7F, 0x9F
_SEPARATORS = _lookup([0x2028, 0x2029])
# What Windows-1252 (or Latin-1) makes of the UTF-8 continuation bytes 0x80-0xBF.
_FOLLOW = _lookup(
    [*range(0x80, 0xC0), *(ord(c) for c in bytes(range(0x80, 0xA0)).decode("cp1252", "ignore"))]
)


class Scan:
    """One column joined into one string, with whole-column answers computed on demand."""

    def __init__(self, values: Strings) -> None:
        self.values = values
        self.text = SEP.join(values.tolist())

    @cached_property
    def points(self) -> npt.NDArray[Any]:
        """The code points of the joined text (bytes when it is ASCII)."""
        if self.text.isascii():
            return np.frombuffer(self.text.encode("ascii"), dtype=np.uint8)
        return np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)

    @cached_property
    def seps(self) -> npt.NDArray[np.intp]:
        """Where `SEP` sits in the joined text (between cells, and inside any cell holding it)."""
        found: npt.NDArray[np.intp] = np.flatnonzero(self.points == ord(SEP))
        return found

    def longest(self) -> int:
        """Return the length of the longest cell."""
        if not len(self.values):
            return 0
        if len(self.seps) != len(self.values) - 1:  # some cell holds SEP: measure each one
            return max(map(len, self.values.tolist()))
        bounds = np.concatenate(([-1], self.seps, [len(self.points)]))
        return int((np.diff(bounds) - 1).max())

    def _split(self) -> bool:
        """Tell whether `seps` are exactly the boundaries between cells (no cell holds SEP)."""
        return len(self.seps) == len(self.values) - 1

    def _edges(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Return where each cell starts and where it ends (one past its last character)."""
        starts = np.concatenate(([0], self.seps + 1))
        ends = np.concatenate((self.seps, [len(self.points)]))
        return starts, ends

    def holding(self, char: str) -> Bools:
        """Tell, per cell, whether it holds ``char`` (one character, not `SEP`)."""
        if not self._split():
            return np.array([char in v for v in self.values.tolist()], dtype=bool)
        found = np.zeros(len(self.values), dtype=bool)
        # The cell holding position p is the one after the separators before p.
        found[np.searchsorted(self.seps, np.flatnonzero(self.points == ord(char)))] = True
        return found

    def empty(self) -> Bools:
        """Tell, per cell, whether it is the empty string."""
        if not self._split():
            return np.asarray(self.values == "", dtype=bool)
        starts, ends = self._edges()
        return np.asarray(starts == ends, dtype=bool)

    def padded_cells(self) -> npt.NDArray[np.intp]:
        """Return the positions of the cells that start or end with whitespace."""
        if not self._split():
            return np.flatnonzero([v != v.strip() for v in self.values.tolist()])
        starts, ends = self._edges()
        filled = np.flatnonzero(starts < ends)
        first = _member(self.points[starts[filled]], _SPACE)
        last = _member(self.points[ends[filled] - 1], _SPACE)
        return filled[first | last]

    def nfc(self) -> bool:
        """Tell whether every cell is in Unicode NFC."""
        return self.text.isascii() or unicodedata.is_normalized("NFC", self.text)

    def padded(self) -> bool:
        """Tell whether some cell may start or end with whitespace."""
        if not self.text:
            return False
        points = self.points
        seps = self.seps
        # Only the first and last character of each cell matter: look those up, not every one.
        edges = np.concatenate(([0, len(points) - 1], seps[seps > 0] - 1, seps + 1))
        edges = edges[(edges >= 0) & (edges < len(points))]
        return bool(_member(points[edges], _SPACE).any())

    def controls(self) -> bool:
        """Tell whether some cell may hold a character refused in headers."""
        if self.text.isascii():
            points = self.points
            return bool(((points <= _CONTROL_MAX) | (points == _DEL)).any())
        points = self.points
        return bool(
            ((points <= _CONTROL_MAX) | ((points >= _DEL) & (points <= _C1_MAX))).any()
            or _member(points, _SEPARATORS).any()
        )

    def mojibake(self) -> bool:
        """Tell whether some cell may hold a mojibake sequence (see `contacts.mojibake`)."""
        if self.text.isascii():
            return False
        points = self.points
        leads = np.flatnonzero((points[:-1] >= 0xC2) & (points[:-1] <= 0xF4))
        return bool(_member(points[leads + 1], _FOLLOW).any())


def strings(values: pd.Series[Any] | Sequence[str] | Strings) -> Strings:
    """Return ``values`` as a numpy object array of `str` (no copy when it already is one)."""
    array: Strings = np.asarray(values, dtype=object)
    return array


def clean(values: Strings) -> Strings:
    """Return the cells in NFC without surrounding whitespace (`normalize.clean_text`)."""
    return clean_scan(values)[0]


def clean_scan(values: Strings) -> tuple[Strings, Scan]:
    """Return the clean cells (see `clean`) and their `Scan`, reused when nothing changed."""
    scan = Scan(values)
    if not scan.nfc():
        values = np.array([unicodedata.normalize("NFC", v) for v in values.tolist()], dtype=object)
        scan = Scan(values)
    if scan.padded():
        cells = scan.padded_cells()  # strip only those: most cells of a padded column are not
        values = values.copy()
        values[cells] = [v.strip() for v in values[cells].tolist()]
        scan = Scan(values)
    return values, scan


def nonblank(values: Strings) -> Bools:
    """Tell, per cell, whether it holds anything but whitespace."""
    if Scan(values).padded():
        return np.array([bool(v.strip()) for v in values.tolist()], dtype=bool)
    filled: Bools = values != ""
    return filled


def find_cells(
    values: Strings,
    pattern: re.Pattern[str],
    maybe: Callable[[Scan], bool],
    scan: Scan | None = None,
) -> Bools:
    """Tell, per cell, whether ``pattern`` matches in it; skip the cells when ``maybe`` says no
    cell of the column can match (``scan``: the column's `Scan`, if already made)."""
    if not len(values) or not maybe(scan if scan is not None else Scan(values)):
        return np.zeros(len(values), dtype=bool)
    return np.array([pattern.search(v) is not None for v in values.tolist()], dtype=bool)


def per_unique(values: Strings, func: Callable[[str], Any]) -> Strings:
    """Apply ``func`` once per distinct value and spread the results back over the cells."""
    codes, uniques = pd.factorize(values)
    results = np.fromiter((func(u) for u in uniques.tolist()), dtype=object, count=len(uniques))
    spread: Strings = results[codes] if len(values) else np.empty(0, dtype=object)
    return spread


def frame_of(columns: dict[str, npt.NDArray[Any]]) -> pd.DataFrame:
    """Build a frame from numpy columns as they are: object columns stay object (pandas would
    otherwise convert each one to its string dtype, which costs a pass over every cell)."""
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object, copy=False) if values.dtype == object else values
            for name, values in columns.items()
        },
        copy=False,
    )


def locations(
    paths: Sequence[str],
    rows: Sequence[int | None],
    sheets: Sequence[str | None],
    columns: Sequence[str | None] | None = None,
) -> list[Location]:
    """Return ``Location(path, row, sheet, column)`` for each item of the columns given.

    The same records as calling `Location`, built by ``tuple.__new__`` on zipped columns so the
    whole loop runs in C (a Python-level constructor call per record costs about twice as much,
    and the stage builds one per row of provenance).  The columns must have the same length.
    """
    if columns is None:
        columns = [None] * len(paths)
    rows_of = zip(paths, rows, sheets, columns, strict=True)
    return list(map(tuple.__new__, repeat(Location), rows_of))
