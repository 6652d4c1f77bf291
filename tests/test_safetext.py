"""`distrib.safetext`: untrusted text shown with its control characters as visible escapes."""

from __future__ import annotations

import pytest

from distrib.safetext import for_terminal, for_xml


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),  # ESC: an escape sequence
        ("title\x07", "title\\x07"),  # BEL ends an OSC sequence
        ("250 OK\rspoof", "250 OK\\x0dspoof"),  # CR overwrites the line
        ("back\x08space", "back\\x08space"),
        ("del\x7f", "del\\x7f"),
        ("csi\x9b2J", "csi\\x9b2J"),  # C1 CSI, an escape sequence on its own
        ("evil\u202egnp.exe", "evil\\u202egnp.exe"),  # right-to-left override
        ("line\u2028sep", "line\\u2028sep"),
        ("lone \udcff surrogate", "lone \\udcff surrogate"),  # invalid UTF-8, escaped by Python
        ("tab\tand\nnewline", "tab\tand\nnewline"),  # kept: tables and lines need them
        ("Zoé Bélanger — « 30 » 😀", "Zoé Bélanger — « 30 » 😀"),
    ],
)
def test_for_terminal(text: str, shown: str) -> None:
    assert for_terminal(text) == shown
    assert "\x1b" not in for_terminal(text)


def test_for_xml_escapes_only_what_xml_cannot_hold() -> None:
    assert for_xml("a\x07b\x00c\ufffe") == "a\\x07b\\x00c\\ufffe"
    assert for_xml("tab\tcr\rlf\n\x9b é") == "tab\tcr\rlf\n\x9b é"
