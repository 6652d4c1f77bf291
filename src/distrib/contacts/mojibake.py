"""Spot mojibake: UTF-8 text that was decoded as Windows-1252 (or Latin-1) somewhere upstream.

"Zoé" saved as UTF-8 and read as Windows-1252 becomes "ZoÃ©": each accented letter turns into
a lead character (``Â``–``ô``) followed by one to three characters standing for UTF-8
continuation bytes.  `MOJIBAKE` finds that shape; `explain_mojibake` confirms it by turning the
characters back into bytes and decoding them as UTF-8, which succeeds only when they really are
UTF-8 sequences, so genuine French or English text is not flagged.
"""

from __future__ import annotations

import re

__all__ = ["MOJIBAKE", "explain_mojibake"]

# What the bytes 0x80-0xBF become when decoded as Windows-1252 (or, for 0x80-0x9F, Latin-1).
_CONTINUATION = (
    "\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152"
    "\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
)
MOJIBAKE = re.compile(
    f"[\u00c2-\u00df][{_CONTINUATION}]"
    f"|[\u00e0-\u00ef][{_CONTINUATION}]{{2}}"
    f"|[\u00f0-\u00f4][{_CONTINUATION}]{{3}}"
)


def _byte(char: str) -> bytes:
    try:
        return char.encode("cp1252")
    except UnicodeEncodeError:
        return char.encode("latin-1")  # C1 controls, as a Latin-1 decoder leaves them


def explain_mojibake(value: str) -> str | None:
    """Return "'Ã©' would be 'é'" for the first real mojibake in ``value``, else None."""
    for match in MOJIBAKE.finditer(value):
        fragment = match.group()
        try:
            repaired = b"".join(_byte(c) for c in fragment).decode("utf-8")
        except (UnicodeDecodeError, UnicodeEncodeError):
            continue
        return f"{fragment!r} would be {repaired!r}"
    return None
