"""Normalise single values: text, languages, addresses, suppression keys and slugs.

Each function works on one value and is pure, so the table steps call it once per *unique* value
(``Series.unique`` then ``Series.map``) rather than once per row: a million-row list usually
holds far fewer distinct languages, outlets or addresses than rows.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import email_validator
from email_validator import EmailNotValidError, validate_email
from email_validator import syntax as _syntax

from distrib.addrspec import dot_atom
from distrib.headers import find_forbidden

__all__ = [
    "Address",
    "AddressError",
    "LanguageCode",
    "ascii_fold",
    "clean_text",
    "domain_refusal",
    "normalize_address",
    "normalize_language",
    "parse_language",
    "slugify",
    "split_full_name",
    "suppression_key",
]

LanguageCode = Literal["fr", "en", "both"]

# Letters NFKD does not decompose into ASCII.
_LIGATURES = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L",
     "đ": "d", "Đ": "D", "’": "'"}
)  # fmt: skip

_FRENCH = frozenset({"fr", "fra", "fre", "f", "francais", "french", "francophone", "franc"})
_ENGLISH = frozenset({"en", "eng", "e", "a", "ang", "anglais", "english", "anglophone", "angl"})
_BILINGUAL = frozenset({"both", "bilingue", "bilingual", "bil", "lesdeux", "lesdeuxlangues"})


def clean_text(value: str) -> str:
    """Return ``value`` in Unicode NFC with surrounding whitespace removed."""
    return unicodedata.normalize("NFC", value).strip()


def ascii_fold(value: str) -> str:
    """Return ``value`` lower-cased, with accents and ligatures reduced to plain ASCII."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    return decomposed.encode("ascii", "ignore").decode("ascii").casefold()


def slugify(value: str, separator: str = "-") -> str:
    """Return an ASCII slug of ``value``: "Le Courrier du Fleuve" -> ``le-courrier-du-fleuve``."""
    return re.sub(r"[^a-z0-9]+", separator, ascii_fold(value)).strip(separator)


def parse_language(value: str) -> LanguageCode | None:
    """Read a language as people write it ("Français", "en-CA", "French (Canada)", "bilingue").

    Returns ``fr``, ``en``, ``both`` (two languages, or "bilingue"), or None when blank or unknown.
    Region suffixes and words after the first are ignored unless they name the other language.
    """
    words = re.findall(r"[a-z]+", ascii_fold(value))
    if not words:
        return None
    if words[0] in _BILINGUAL or "".join(words) in _BILINGUAL:
        return "both"
    first: Literal["fr", "en"] | None = (
        "fr" if words[0] in _FRENCH else "en" if words[0] in _ENGLISH else None
    )
    if first is None:
        return None
    # Single letters after the first word are too ambiguous ("à", "e") to mean a second language.
    other = _ENGLISH if first == "fr" else _FRENCH
    if any(len(word) > 1 and word in other for word in words[1:]):
        return "both"
    return first


def normalize_language(value: str) -> Literal["fr", "en"] | None:
    """Return ``fr`` or ``en`` for a language as written, or None if blank, unknown or both."""
    code = parse_language(value)
    return None if code == "both" else code


class AddressError(ValueError):
    """An address cell that cannot be sent to; ``reason`` says why in the officer's terms."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class Address:
    """A valid address: as written, on the wire, and the keys used to match it.

    ``address`` keeps the local part as written and lower-cases the domain in IDNA A-label form.
    ``key`` (deduplication) is the NFC case-folded whole address with the A-label domain.
    ``suppression_key`` also drops a ``+tag`` so unsubscribing one variant covers them all.
    ``smtputf8`` is true when the local part is not ASCII: only a relay offering SMTPUTF8 can
    deliver it (the domain never needs it: it goes on the wire as its IDNA A-label).
    """

    email: str
    address: str
    key: str
    suppression_key: str
    smtputf8: bool = False


def _precheck(value: str) -> None:
    """Raise `AddressError` for mistakes email-validator would describe less clearly."""
    if not value:
        raise AddressError("no address")
    forbidden = find_forbidden(value)
    if forbidden is not None:
        raise AddressError(f"{forbidden} in the address")
    if value.count("@") > 1 and re.search(r"[\s,;/]", value):
        raise AddressError("two addresses in one cell; put one address per row")
    if "<" in value or ">" in value or value.casefold().startswith("mailto:"):
        raise AddressError("write the address alone, without a name, <> or mailto:")


def _refused(exc: EmailNotValidError) -> str:
    return f"not a valid address ({exc})"


def normalize_address(value: str) -> Address:
    """Validate one address (syntax only, no DNS) and return its forms; raise `AddressError`."""
    email = clean_text(value)
    _precheck(email)
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(_refused(exc)) from None
    local = email.rpartition("@")[0]
    domain = checked.ascii_domain.lower()
    key = unicodedata.normalize("NFC", f"{local}@{domain}".casefold())
    return Address(
        email, f"{local}@{domain}", key, suppression_key(key), smtputf8=not local.isascii()
    )


# The step of validate_email that checks the domain (see `domain_refusal`); if a later
# email-validator moves it, every address gets the full call again.
_domain_check: Callable[..., object] | None = getattr(_syntax, "validate_email_domain_name", None)


def domain_refusal(value: str, memo: dict[str, str | None]) -> str | None:
    """Return the reason `normalize_address` refuses ``value`` when its domain alone decides it;
    None when it does not (ask `normalize_address`).  ``memo`` keeps each domain's answer.

    A list's broken addresses are mostly broken domains (``jean@@media.example``,
    ``jean@media``), many at the same domain, and a whole email-validator call costs about
    100 µs.  email-validator (``validate_email``) checks in this order: the split at the
    first ``@`` (no quotes or angle brackets here), the local part, the domain
    (``validate_email_domain_name``), then the lengths.  For an ASCII address whose local
    part is a plain dot-atom (RFC 5322 ``atext`` separated by single dots, which the local
    check always accepts), a failing domain check is therefore the answer whatever the
    local part: this runs that check once per distinct domain, with the arguments
    ``validate_email`` gives it, after the same `_precheck`.  A domain that passes still
    needs the full call (lengths, forms).  `tests/test_contacts_addresses.py` checks the
    answers equal `normalize_address`'s on a randomised corpus.
    """
    if _domain_check is None or clean_text(value) != value:
        return None
    try:
        _precheck(value)
    except AddressError as exc:
        return exc.reason
    local, _, domain = value.partition("@")
    if (
        not value.isascii()
        or '"' in value
        or "<" in value
        or not domain
        or domain.startswith("[")
        or not dot_atom.fullmatch(local)
    ):
        return None
    if domain not in memo:
        try:
            _domain_check(
                domain, test_environment=email_validator.TEST_ENVIRONMENT,
                globally_deliverable=email_validator.GLOBALLY_DELIVERABLE,
            )  # fmt: skip
        except EmailNotValidError as exc:
            memo[domain] = _refused(exc)
        else:
            memo[domain] = None
    return memo[domain]


def suppression_key(value: str) -> str:
    """Return the key a suppression list matches on: case-folded, trimmed, ``+tag`` dropped."""
    folded = unicodedata.normalize("NFC", clean_text(value).casefold())
    local, at, domain = folded.rpartition("@")
    if not at:
        return folded
    return f"{local.partition('+')[0] or local}@{domain}"


def split_full_name(value: str) -> tuple[str, str]:
    """Split a full name into (first, last): "Marie Tremblay" or "Tremblay, Marie".

    The first word is the first name and the rest the last name, so particles stay with the
    surname ("Jean de la Tour" -> "Jean", "de la Tour").
    """
    if "," in value:
        last, _, first = value.partition(",")
        return clean_text(first), clean_text(last)
    parts = value.split(maxsplit=1)
    if len(parts) < 2:
        return "", value.strip()
    return parts[0], parts[1]
