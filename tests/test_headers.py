"""The header guard refuses every character that could start a new header line."""

from __future__ import annotations

import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distrib.errors import HeaderValueError
from distrib.headers import check_header, find_forbidden, is_header_safe


def test_every_char_splitlines_splits_on_is_forbidden() -> None:
    # Scan the whole Unicode range so a future Python adding a line boundary is caught.
    splitters = [chr(c) for c in range(sys.maxunicode + 1) if len(f"a{chr(c)}b".splitlines()) > 1]
    assert {"\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"} <= set(splitters)
    assert [c for c in splitters if is_header_safe(c)] == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Zoé\r\nBcc: victim@example.org", "carriage return (CR)"),
        ("Zoé\nBcc: victim@example.org", "line feed (LF)"),
        ("a\x00b", "NUL"),
        ("a\tb", "tab"),
        ("a\u2028b", "line separator (U+2028)"),
        ("a\x85b", "next line (NEL)"),
        ("a\x1bb", "control character U+001B"),
        ("a\x7fb", "DEL"),
    ],
)
def test_forbidden_characters_are_named(value: str, reason: str) -> None:
    assert find_forbidden(value) == reason
    with pytest.raises(HeaderValueError) as info:
        check_header("Subject", value)
    assert info.value.header == "Subject"
    assert reason in str(info.value)


@pytest.mark.parametrize("value", ["Zoé Bélanger", "« Rues vivantes » : 2,4 M$", "日本語", ""])
def test_ordinary_text_passes_unchanged(value: str) -> None:
    assert check_header("To", value) == value


@given(st.text())
def test_safe_values_never_split_into_lines(value: str) -> None:
    if is_header_safe(value):
        assert len(f"x{value}x".splitlines()) == 1
