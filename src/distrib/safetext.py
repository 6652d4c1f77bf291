"""Untrusted text made safe to show or to store: invisible characters become visible escapes.

SMTP replies, contact files, bounces and the delivery log hold whatever their authors wrote,
any bytes at all.  Printed as they are, an ESC starts a terminal escape sequence (colours, a new
window title, a cursor moved to overwrite what was printed), a CR or BS overwrites a line, and a
bidirectional override reorders it.  Written to an XLSX file, one BEL makes the whole export
fail, since XML cannot hold it.

Both cases write each such character as a Python-style escape, ``\\x1b``, ``\\x07``,
``\\u202e``: the officer sees that something was there, and what, and nothing is lost silently.
Other text, accents and emoji included, is left exactly as it is.
"""

from __future__ import annotations

import re

__all__ = ["for_terminal", "for_xml"]

# C0 controls (but TAB and LF), DEL, C1 controls, the line and paragraph separators, the
# bidirectional embeddings, overrides and isolates, and unpaired surrogates (what a decoder's
# "surrogateescape" leaves of invalid UTF-8; a terminal cannot be sent them at all).
_TERMINAL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# What XML 1.0 cannot hold: C0 controls but TAB, LF and CR; U+FFFE, U+FFFF; unpaired surrogates.
_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str) -> str:
    """Return ``text`` with every character that could drive a terminal written as an escape.

    TAB and LF are kept (tables and lines need them); CR is escaped (it overwrites a line).
    """
    return _TERMINAL.sub(_escape, text) if _TERMINAL.search(text) else text


def for_xml(text: str) -> str:
    """Return ``text`` with every character an XML document cannot hold written as an escape."""
    return _XML.sub(_escape, text) if _XML.search(text) else text
