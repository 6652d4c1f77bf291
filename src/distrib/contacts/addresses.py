"""Validate a column of addresses fast, with exactly the answers of `normalize.normalize_address`.

`normalize_address` (email-validator) costs tens of microseconds per address, most of it in
Unicode and IDNA checks that plain ASCII addresses do not need: a million-row list would spend
over a minute there.  So this module hand-writes a *strict ASCII fast path*, checked over all
the addresses at once (the local parts with numpy over their bytes, each distinct domain with a
regular expression), that accepts only a subset of what email-validator accepts:

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
from operator import is_not, itemgetter

import numpy as np
import numpy.typing as npt

from distrib.addrspec import ATEXT, DOT_ATOM
from distrib.contacts.normalize import AddressError, domain_refusal, normalize_address
from distrib.contacts.vector import Strings

__all__ = ["FAST_DOMAIN", "FAST_LOCAL", "AddressColumns", "fast_addresses", "validate_addresses"]

Bools = npt.NDArray[np.bool_]
_MAX_LENGTH = 254
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SPECIAL = r"(?i:arpa|invalid|local|localhost|onion|test)"
FAST_LOCAL = DOT_ATOM
FAST_DOMAIN = rf"(?!.*--)(?:{_LABEL}\.)+(?!{_SPECIAL}\Z)[A-Za-z]{{1,63}}"
_DOMAIN = re.compile(FAST_DOMAIN)
_FIRST, _LAST = itemgetter(0), itemgetter(2)


def _domain_form(domain: str) -> str | None:
    """Return the lower-cased domain if the fast path accepts it, else None."""
    return domain.lower() if domain.isascii() and _DOMAIN.fullmatch(domain) else None


# The bytes a dot-atom may hold (`ATEXT`, the dot) and the newline that joins the parts.
_LOCAL_BYTES = np.zeros(256, dtype=bool)
_LOCAL_BYTES[[c for c in range(128) if re.fullmatch(ATEXT, chr(c))] + [ord("."), ord("\n")]] = True


def _dot_atoms(text: str, locals_: list[str]) -> Bools:
    """Tell, per local part, whether it is a dot-atom of ``atext`` (what `FAST_LOCAL` says).

    ``text`` is the local parts joined by newlines, all ASCII.  One pass of numpy over its
    bytes: characters outside ``atext``, empty parts, and dots leading, trailing or doubled.
    """
    codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    lengths = np.fromiter(map(len, locals_), dtype=np.int64, count=len(locals_))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    ends = starts + lengths  # one past the last character
    good = lengths > 0
    dots = codes == ord(".")
    bad = ~_LOCAL_BYTES[codes]
    bad[1:] |= dots[1:] & dots[:-1]  # ".." (a dot before a newline or after one is caught below)
    owner = np.searchsorted(starts, np.flatnonzero(bad), side="right") - 1
    good[owner] = False
    nonempty = np.flatnonzero(good)
    good[nonempty] &= ~dots[starts[nonempty]] & ~dots[ends[nonempty] - 1]
    return good


def fast_addresses(
    emails: Sequence[str],
) -> tuple[Bools, list[str], list[str], list[str], list[str]]:
    """Check clean addresses with the fast path.

    Returns (accepted, wire address, key, suppression key, domain): the lists hold a value for
    every address, "" where not accepted.  The local parts are checked by one
    pass of numpy over all of them (`_dot_atoms`, what `FAST_LOCAL` describes); each distinct
    domain (a list has few) is checked once with `FAST_DOMAIN`.
    """
    count = len(emails)
    if not count:
        return np.zeros(0, dtype=bool), [], [], [], []
    # map() and itemgetter keep these million-long loops in C.
    parts = list(map(str.rpartition, emails, repeat("@")))
    locals_ = list(map(_FIRST, parts))
    domains = list(map(_LAST, parts))
    known = {d: _domain_form(d) for d in set(domains)}
    lowered = list(map(known.__getitem__, domains))
    lengths = np.fromiter(map(len, emails), dtype=np.int64, count=count)
    # No "@" leaves an empty local part, which `_dot_atoms` refuses.
    accepted = np.fromiter(map(is_not, lowered, repeat(None)), dtype=bool, count=count)
    accepted &= lengths <= _MAX_LENGTH
    text = "\n".join(locals_)
    if not (text.isascii() and text.count("\n") == count - 1):
        # A non-ASCII or multi-line local part: leave those out of the byte scan.
        accepted &= np.array([e.isascii() and "\n" not in e for e in emails], dtype=bool)
        locals_ = [p if ok else "" for p, ok in zip(locals_, accepted.tolist(), strict=True)]
        text = "\n".join(locals_)
    accepted &= _dot_atoms(text, locals_)
    # Most addresses are lower-case and untagged: all their forms are the address itself.
    plain = accepted & ~_has_capital_or_plus(emails)
    address = _objects(list(emails))
    address[~accepted] = ""
    key, skey = address.copy(), address.copy()
    domain = _objects(lowered)
    domain[~accepted] = ""  # also where the domain was refused (None)
    for i in np.flatnonzero(accepted & ~plain).tolist():
        email, local, low = emails[i], locals_[i], domain[i]
        if email.islower():
            address[i] = key[i] = email
        else:
            address[i], key[i] = f"{local}@{low}", email.lower()
        skey[i] = (
            key[i]
            if "+" not in local
            else f"{local.lower().partition('+')[0] or local.lower()}@{low}"
        )
    return accepted, address.tolist(), key.tolist(), skey.tolist(), domain.tolist()


def _has_capital_or_plus(emails: Sequence[str]) -> Bools:
    """Tell, per address, whether it holds a capital letter or a "+" (bytes, when ASCII)."""
    text = "\n".join(emails)
    if not (text.isascii() and text.count("\n") == len(emails) - 1):
        return np.array([not e.islower() or "+" in e for e in emails], dtype=bool)
    codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    lengths = np.fromiter(map(len, emails), dtype=np.int64, count=len(emails))
    starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))
    marked = np.flatnonzero(((codes >= ord("A")) & (codes <= ord("Z"))) | (codes == ord("+")))
    found = np.zeros(len(emails), dtype=bool)
    found[np.searchsorted(starts, marked, side="right") - 1] = True
    # islower() is False for an address without any letter: treat those as "capital" too.
    found |= lengths == 0
    return found


def _objects(values: Sequence[object]) -> Strings:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


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


def _slow(value: str, domains: dict[str, str | None]) -> tuple[str, str, str, str, bool, str]:
    """Return (address, key, suppression key, reason, SMTPUTF8, domain) for a value the fast
    path left: from its domain alone when that decides (`domain_refusal`), else
    `normalize_address`."""
    refused = domain_refusal(value, domains)
    if refused is not None:
        return "", "", "", refused, False, ""
    try:
        found = normalize_address(value)
    except AddressError as exc:
        return "", "", "", exc.reason, False, ""
    domain = found.address.rpartition("@")[2]
    return found.address, found.key, found.suppression_key, "", found.smtputf8, domain


def validate_addresses(emails: Strings) -> AddressColumns:
    """Validate a column of clean (NFC, trimmed) address cells.

    The fast path runs on every cell (most addresses of a list are distinct, so grouping them
    first would cost more than it saves); email-validator runs once per distinct other value,
    or once per distinct domain for plain addresses at a domain it refuses (`_slow`).
    """
    values: list[str] = emails.tolist()
    accepted, address, key, skey, domain = fast_addresses(values)
    reason = [""] * len(values)
    utf8 = np.zeros(len(values), dtype=bool)
    slow: dict[str, tuple[str, str, str, str, bool, str]] = {}
    domains: dict[str, str | None] = {}  # see normalize.domain_refusal
    for i in np.flatnonzero(~accepted).tolist():
        value = values[i]
        if value not in slow:
            slow[value] = _slow(value, domains)
        address[i], key[i], skey[i], reason[i], utf8[i], domain[i] = slow[value]
    return AddressColumns(
        _objects(address), _objects(key), _objects(skey), _objects(reason), utf8,
        _objects(domain),
    )  # fmt: skip
