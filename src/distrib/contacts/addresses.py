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
corpus.  Each distinct address the fast path leaves goes to email-validator once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from distrib.contacts.normalize import AddressError, normalize_address
from distrib.contacts.vector import Strings

__all__ = ["FAST_DOMAIN", "FAST_LOCAL", "AddressColumns", "fast_addresses", "validate_addresses"]

Bools = npt.NDArray[np.bool_]
_MAX_LENGTH = 254
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SPECIAL = r"(?i:arpa|invalid|local|localhost|onion|test)"
FAST_LOCAL = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
FAST_DOMAIN = rf"(?!.*--)(?:{_LABEL}\.)+(?!{_SPECIAL}\Z)[A-Za-z]{{1,63}}"
# Matches every line that is *not* a fast-path local part (multi-line mode: one a line).
_NOT_LOCAL = re.compile(rf"^(?!{FAST_LOCAL}$).*$", re.MULTILINE)
_DOMAIN = re.compile(FAST_DOMAIN)


def _domain_form(domain: str) -> str | None:
    """Return the lower-cased domain if the fast path accepts it, else None."""
    return domain.lower() if domain.isascii() and _DOMAIN.fullmatch(domain) else None


def fast_addresses(
    emails: Sequence[str],
) -> tuple[Bools, list[str], list[str], list[str], list[str]]:
    """Check clean addresses with the fast path.

    Returns (accepted, wire address, key, suppression key, domain): the lists hold a value for
    every address, "" where not accepted.  The local parts are checked by one regular
    expression over all of them; each distinct domain (a list has few) is checked once.
    """
    count = len(emails)
    if not count:
        return np.zeros(0, dtype=bool), [], [], [], []
    parts = list(map(str.rpartition, emails, repeat("@")))
    locals_ = [p[0] for p in parts]
    domains = [p[2] for p in parts]
    known = {d: _domain_form(d) for d in set(domains)}
    lowered = [known[d] for d in domains]
    text = "\n".join(locals_)
    plain = text.isascii() and text.count("\n") == count - 1
    ok = [
        low is not None and at == "@" and len(e) <= _MAX_LENGTH and (plain or e.isascii())
        for e, (_, at, _), low in zip(emails, parts, lowered, strict=True)
    ]
    if not plain:  # a non-ASCII or multi-line local part: leave those lines out of the scan
        ok = [
            flag and local.isascii() and "\n" not in local
            for flag, local in zip(ok, locals_, strict=True)
        ]
        locals_ = [local if flag else "" for local, flag in zip(locals_, ok, strict=True)]
        text = "\n".join(locals_)
    accepted = np.array(ok, dtype=bool)
    bad = [m.start() for m in _NOT_LOCAL.finditer(text)]
    if bad:
        lengths = np.fromiter(map(len, locals_), dtype=np.int64, count=count)
        starts = np.concatenate(([0], np.cumsum(lengths + 1)))
        accepted[np.searchsorted(starts, bad, side="right") - 1] = False
    address, key, skey, domain = [""] * count, [""] * count, [""] * count, [""] * count
    for i in np.flatnonzero(accepted).tolist():
        email, local, low = emails[i], locals_[i], lowered[i]
        assert low is not None
        if email.islower():  # nothing to lower-case (the usual case)
            address[i] = key[i] = email
        else:
            address[i], key[i] = f"{local}@{low}", email.lower()
        skey[i] = (
            key[i]
            if "+" not in local
            else f"{local.lower().partition('+')[0] or local.lower()}@{low}"
        )
        domain[i] = low
    return accepted, address, key, skey, domain


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


def _objects(values: list[str]) -> Strings:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def validate_addresses(emails: Strings) -> AddressColumns:
    """Validate a column of clean (NFC, trimmed) address cells.

    The fast path runs on every cell (most addresses of a list are distinct, so grouping them
    first would cost more than it saves); email-validator runs once per distinct other value.
    """
    values: list[str] = emails.tolist()
    accepted, address, key, skey, domain = fast_addresses(values)
    reason = [""] * len(values)
    utf8 = np.zeros(len(values), dtype=bool)
    slow: dict[str, tuple[str, str, str, str, bool, str]] = {}
    for i in np.flatnonzero(~accepted).tolist():
        value = values[i]
        if value not in slow:
            try:
                found = normalize_address(value)
            except AddressError as exc:
                slow[value] = ("", "", "", exc.reason, False, "")
            else:
                slow[value] = (
                    found.address, found.key, found.suppression_key, "", found.smtputf8,
                    found.address.rpartition("@")[2],
                )  # fmt: skip
        address[i], key[i], skey[i], reason[i], utf8[i], domain[i] = slow[value]
    return AddressColumns(
        _objects(address), _objects(key), _objects(skey), _objects(reason), utf8,
        _objects(domain),
    )  # fmt: skip
