"""Validate a column of addresses fast, with exactly the answers of `normalize.normalize_address`.

`normalize_address` (email-validator) costs tens of microseconds per address, most of it in
Unicode and IDNA checks that plain ASCII addresses do not need: a million-row list would spend
over a minute there.  So this module hand-writes a *strict ASCII fast path*: one regular
expression, run once over all the distinct addresses joined by newlines (so the regex engine,
not Python, walks the million lines), that accepts only a subset of what email-validator
accepts:

- 254 characters at most, all ASCII;
- a local part that is a dot-atom of RFC 5322 ``atext`` characters (no quotes, no leading,
  trailing or doubled dot);
- a domain of two or more labels of letters, digits and hyphens, 1 to 63 characters each, no
  label starting or ending with a hyphen, no ``--`` anywhere (so no Punycode ``xn--`` and no
  RFC 5890 R-LDH label), ending in an all-letter label that is not one of email-validator's
  special-use names (``arpa``, ``invalid``, ``local``, ``localhost``, ``onion``, ``test``).

For those, the address forms are computed directly: domain lower-cased; key lower-cased (what
case-folding and NFC do to ASCII); suppression key without the ``+tag``.  Everything else
(non-ASCII, quoted, odd or invalid) goes through `normalize_address` unchanged, so the fast path
can only make a valid address cheaper, never change an answer.
`tests/test_contacts_addresses.py` checks the two give identical results on a large randomised
corpus.  Each distinct address is validated once (``pandas.factorize``), then spread back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from distrib.contacts.normalize import AddressError, normalize_address
from distrib.contacts.vector import Strings

__all__ = ["FAST_ADDRESS", "AddressColumns", "fast_addresses", "validate_addresses"]

Bools = npt.NDArray[np.bool_]
_MAX_LENGTH = 254
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SPECIAL = r"(?i:arpa|invalid|local|localhost|onion|test)"
FAST_ADDRESS = (
    rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
    rf"@(?![^@\n]*--)(?:{_LABEL}\.)+(?!{_SPECIAL}$)[A-Za-z]{{1,63}}"
)
# Matches every line that is *not* a fast-path address (multi-line mode: one address a line).
# The 254-character limit is checked apart, on the lengths.
_NOT_FAST = re.compile(rf"^(?!{FAST_ADDRESS}$).*$", re.MULTILINE)


def _forms(email: str) -> tuple[str, str, str]:
    """Return (wire address, key, suppression key) of an address the fast path accepted."""
    if email.islower():  # nothing to lower-case (the usual case)
        address = key = email
    else:
        local, _, domain = email.rpartition("@")
        address, key = f"{local}@{domain.lower()}", email.lower()
    if "+" not in key:
        return address, key, key
    local, _, domain = key.rpartition("@")
    return address, key, f"{local.partition('+')[0] or local}@{domain}"


def fast_addresses(emails: Sequence[str]) -> tuple[Bools, list[str], list[str], list[str]]:
    """Check clean addresses with the fast path; return (accepted, address, key, suppression key).

    The three lists hold a value for every address, "" where not accepted.
    """
    count = len(emails)
    lengths = np.fromiter(map(len, emails), dtype=np.int64, count=count)
    text = "\n".join(emails)
    if text.isascii() and text.count("\n") == count - 1:
        candidates = np.flatnonzero(lengths <= _MAX_LENGTH)
    else:
        plain = [e.isascii() and "\n" not in e for e in emails]
        candidates = np.flatnonzero(np.array(plain, dtype=bool) & (lengths <= _MAX_LENGTH))
    if len(candidates) != count:
        text = "\n".join([emails[i] for i in candidates.tolist()])
    accepted = np.zeros(count, dtype=bool)
    accepted[candidates] = True
    rejected = [m.start() for m in _NOT_FAST.finditer(text)] if len(candidates) else []
    if rejected:
        starts = np.concatenate(([0], np.cumsum(lengths[candidates] + 1)))
        accepted[candidates[np.searchsorted(starts, rejected, side="right") - 1]] = False
    none = ("", "", "")
    forms = [_forms(e) if ok else none for e, ok in zip(emails, accepted.tolist(), strict=True)]
    if not forms:
        return accepted, [], [], []
    address, key, skey = (list(column) for column in zip(*forms, strict=True))
    return accepted, address, key, skey


@dataclass(frozen=True, slots=True)
class AddressColumns:
    """Per row: the wire address, the dedup key, the suppression key ("" when invalid), the
    rejection reason ("" when valid), whether the local part needs SMTPUTF8, and the domain
    (A-label)."""

    address: Strings
    key: Strings
    suppression_key: Strings
    reason: Strings
    smtputf8: Bools
    domain: Strings


def _column(values: list[str], codes: npt.NDArray[np.intp]) -> Strings:
    if not len(codes):
        return np.empty(0, dtype=object)
    array = np.empty(len(values), dtype=object)
    array[:] = values
    taken: Strings = array[codes]
    return taken


def validate_addresses(emails: Strings) -> AddressColumns:
    """Validate a column of clean (NFC, trimmed) address cells, each distinct value once."""
    codes, uniques = pd.factorize(emails)
    values: list[str] = uniques.tolist()
    accepted, address, key, skey = fast_addresses(values)
    reason = [""] * len(values)
    utf8 = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(~accepted).tolist():
        try:
            found = normalize_address(values[i])
        except AddressError as exc:
            reason[i] = exc.reason
            continue
        address[i], key[i], skey[i], utf8[i] = (
            found.address, found.key, found.suppression_key, found.smtputf8,
        )  # fmt: skip
    shared: dict[str, str] = {}  # a few thousand domains for a million addresses: share them
    domain = [shared.setdefault(d, d) for d in (a.rpartition("@")[2] for a in address)]
    return AddressColumns(
        _column(address, codes), _column(key, codes), _column(skey, codes),
        _column(reason, codes), utf8[codes], _column(domain, codes),
    )  # fmt: skip
