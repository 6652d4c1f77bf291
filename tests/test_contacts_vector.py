"""The whole-column shortcuts of `contacts.vector` give exactly the per-cell answers.

Each helper first asks one question of the whole column and skips the cells when the answer is
"no"; these property tests check that the shortcut never hides a cell that needs work, on text
full of what matters: spaces of every kind, control characters, the separator itself,
combining accents and mojibake.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from distrib.contacts.mojibake import MOJIBAKE
from distrib.contacts.normalize import clean_text
from distrib.contacts.vector import SEP, Scan, clean, find_cells, nonblank
from distrib.headers import FORBIDDEN_HEADER_CHARS

TRICKY = (
    " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000"
    f"\x00\x7f\x9f{SEP}é\u0301eZoÃ©â€™ÂàÎ€"
)
cells = st.lists(st.text(alphabet=st.sampled_from(TRICKY) | st.characters(), max_size=8))


def array(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object) if values else np.empty(0, dtype=object)


@settings(max_examples=300, deadline=None)
@given(cells)
def test_clean_equals_clean_text_per_cell(values: list[str]) -> None:
    assert clean(array(values)).tolist() == [clean_text(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(cells)
def test_nonblank_and_longest_equal_the_per_cell_answers(values: list[str]) -> None:
    assert nonblank(array(values)).tolist() == [bool(v.strip()) for v in values]
    assert Scan(array(values)).longest() == max(map(len, values), default=0)


@settings(max_examples=300, deadline=None)
@given(cells)
def test_control_and_mojibake_shortcuts_never_hide_a_cell(values: list[str]) -> None:
    column = array(values)
    controls = find_cells(column, FORBIDDEN_HEADER_CHARS, Scan.controls)
    assert controls.tolist() == [FORBIDDEN_HEADER_CHARS.search(v) is not None for v in values]
    mojibake = find_cells(column, MOJIBAKE, Scan.mojibake)
    assert mojibake.tolist() == [MOJIBAKE.search(v) is not None for v in values]


def test_shortcuts_skip_clean_columns() -> None:
    scan = Scan(array(["zoe@courrier.example", "Zoé Gagnon", "Le Courrier"]))
    assert scan.nfc() and not scan.padded() and not scan.controls() and not scan.mojibake()
    assert Scan(array(["a", " b"])).padded() and Scan(array(["ZoÃ©"])).mojibake()
