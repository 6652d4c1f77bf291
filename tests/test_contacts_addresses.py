"""The strict ASCII fast path for addresses gives exactly email-validator's answers.

`addresses.fast_addresses` accepts a subset of what `normalize.normalize_address` (built on
email-validator) accepts and computes the same forms for it; `validate_addresses` falls back to
`normalize_address` for everything else.  These tests compare the two on a large randomised
corpus of near-addresses: every address the fast path accepts must be valid for email-validator
with identical forms, and the combined column answer must equal email-validator's, reason and
all, for every cell.
"""

from __future__ import annotations

import random
import string

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from distrib.contacts.addresses import fast_addresses, validate_addresses
from distrib.contacts.normalize import AddressError, domain_refusal, normalize_address

# Characters that make addresses interesting: atext specials, separators, case, non-ASCII.
_LOCAL = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-." + '"(),:;<>[\\] é@'
_DOMAIN = string.ascii_lowercase + "ABCXYZ" + string.digits + "-.._é"
_TLDS = ["example", "com", "ca", "TEST", "test", "local", "localhost", "onion", "arpa",
         "invalid", "c0m", "x", "xn--bcher-kva", "ex-ample", "museum", "Invalid"]  # fmt: skip


def _label(rng: random.Random) -> str:
    size = rng.choice([1, 2, 5, 12, 62, 63, 64])
    return "".join(rng.choice(_DOMAIN) for _ in range(size))


def _near_address(rng: random.Random) -> str:
    local = "".join(rng.choice(_LOCAL) for _ in range(rng.choice([0, 1, 3, 8, 20, 70])))
    if rng.random() < 0.6:  # mostly plausible locals
        local = rng.choice(["zoe", "Zoe.Gagnon", "a+b", "+tag", "jean-luc", "x_y", "a..b", ".a"])
    labels = [_label(rng) if rng.random() < 0.15 else rng.choice(["courrier", "Radio-Est", "b"])
              for _ in range(rng.choice([0, 1, 2, 3]))]  # fmt: skip
    tld = rng.choice(_TLDS) if rng.random() < 0.5 else rng.choice(["example", "com", "Ca"])
    domain = ".".join([*labels, tld])
    if rng.random() < 0.05:
        domain = domain + rng.choice([".", "-", "--x", ".-a"])
    if rng.random() < 0.02:
        local = local * 20  # over the 254-character limit
    return f"{local}@{domain}" if rng.random() < 0.97 else local + domain


def _expected(value: str) -> tuple[str, str, str, str, bool]:
    try:
        found = normalize_address(value)
    except AddressError as exc:
        return "", "", "", exc.reason, False
    return found.address, found.key, found.suppression_key, "", found.smtputf8


def _check(values: list[str]) -> int:
    """Compare both paths on ``values``; return how many the fast path accepted."""
    accepted, address, key, skey, domain = fast_addresses(values)
    for i in np.flatnonzero(accepted).tolist():
        assert _expected(values[i]) == (address[i], key[i], skey[i], "", False), values[i]
        assert domain[i] == address[i].rpartition("@")[2]
    column = validate_addresses(np.array(values, dtype=object))
    for i, value in enumerate(values):
        got = (column.address[i], column.key[i], column.suppression_key[i], column.reason[i],
               bool(column.smtputf8[i]))  # fmt: skip
        assert got == _expected(value), value
    return int(accepted.sum())


def test_fast_path_equals_email_validator_on_a_random_corpus() -> None:
    rng = random.Random(20261125)
    corpus = [_near_address(rng) for _ in range(10_000)]
    accepted = _check(corpus)
    # The corpus exercises both paths substantially.
    assert 1_500 < accepted < 8_500


@settings(max_examples=300, deadline=None)
@given(st.lists(st.emails() | st.text(alphabet=_LOCAL + _DOMAIN, max_size=30), max_size=20))
def test_fast_path_equals_email_validator_on_generated_addresses(values: list[str]) -> None:
    _check(values)


def test_known_edges() -> None:
    values = [
        "Zoe.Gagnon+presse@Courrier.EXAMPLE",  # fast: domain lowered, key lowered, tag dropped
        "+tag@x.example",  # fast: an empty local before "+" keeps the whole local part
        "a@x.test",  # special-use: refused by both
        "a@xn--bcher-kva.example",  # Punycode: slow path, valid
        "zoé@bücher.example",  # non-ASCII: slow path, SMTPUTF8
        "a@" + "x" * 64 + ".example",  # label too long: refused
        "",
    ]
    accepted, _, _, _, _ = fast_addresses(values)
    assert accepted.tolist() == [True, True, False, False, False, False, False]
    _check(values)
    column = validate_addresses(np.array(values, dtype=object))
    assert column.suppression_key[0] == "zoe.gagnon@courrier.example"
    assert column.address[4] == "zoé@xn--bcher-kva.example" and column.smtputf8[4]
    assert column.domain[4] == "xn--bcher-kva.example"


def test_domain_refusal_answers_like_email_validator_when_it_answers() -> None:
    """`domain_refusal` (one email-validator domain check per distinct domain) gives
    `normalize_address`'s reason whenever it decides, and decides for the common broken
    domains; it leaves everything else (None) to `normalize_address`."""
    rng = random.Random(20261126)
    corpus = [_near_address(rng) for _ in range(10_000)]
    corpus += ["jean@@media.example", "jean@media", "Zoé@media", "a@x.test", "a@b..example"]
    memo: dict[str, str | None] = {}
    decided = 0
    for value in corpus:
        reason = domain_refusal(value, memo)
        if reason is not None:
            decided += 1
            assert reason == _expected(value)[3], value
    assert decided > 1_000
    assert domain_refusal("jean@@media.example", memo) is not None
    assert domain_refusal("jean@media", memo) is not None
    assert domain_refusal("Zoé@media", memo) is None  # not ASCII: email-validator decides
    assert domain_refusal("zoe@courrier.example", memo) is None  # a valid domain
