"""Refuse header values that could inject headers, before any message is built.

CPython 3.11.7 (the interpreter this project targets) is affected by CVE-2024-6923: the email
package can serialise a newline inside an encoded word as a real line break, which lets a value
such as ``"Hi\\nBcc: victim@example"`` add a header.  The fix (``verify_generated_headers``) only
exists from 3.11.10, so distrib checks every header value itself, with a rule stricter than the
standard library's: anything that makes ``str.splitlines()`` split, every C0 and C1 control
character (tab included), DEL, and the Unicode line/paragraph separators are refused.
"""

from __future__ import annotations

import re

from distrib.errors import HeaderValueError

__all__ = ["FORBIDDEN_HEADER_CHARS", "check_header", "find_forbidden", "is_header_safe"]

# C0 controls (incl. TAB, LF, VT, FF, CR, FS, GS, RS), DEL, C1 controls (incl. NEL U+0085),
# LINE SEPARATOR and PARAGRAPH SEPARATOR.  This is a superset of the characters at which
# str.splitlines() splits; tests/test_headers.py proves that.
FORBIDDEN_HEADER_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

_NAMES = {
    "\r": "carriage return (CR)",
    "\n": "line feed (LF)",
    "\t": "tab",
    "\x00": "NUL",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x7f": "DEL",
    "\x85": "next line (NEL)",
    "\u2028": "line separator (U+2028)",
    "\u2029": "paragraph separator (U+2029)",
}


def find_forbidden(value: str) -> str | None:
    """Return a description of the first forbidden character in ``value``, or None if it is safe."""
    match = FORBIDDEN_HEADER_CHARS.search(value)
    if match is None:
        return None
    char = match.group()
    return _NAMES.get(char, f"control character U+{ord(char):04X}")


def is_header_safe(value: str) -> bool:
    """Tell whether ``value`` may go into a message header."""
    return FORBIDDEN_HEADER_CHARS.search(value) is None


def check_header(header: str, value: str) -> str:
    """Return ``value`` unchanged, or raise `HeaderValueError` if it holds a forbidden character."""
    reason = find_forbidden(value)
    if reason is not None:
        raise HeaderValueError(header, value, reason)
    return value
