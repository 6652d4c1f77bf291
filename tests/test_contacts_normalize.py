"""Normalising one value: languages, addresses, keys, slugs (with property tests)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distrib.contacts import (
    AddressError,
    normalize_address,
    normalize_language,
    parse_language,
    slugify,
    suppression_key,
)
from distrib.contacts.normalize import clean_text, split_full_name


@pytest.mark.parametrize(
    ("written", "code"),
    [
        ("Français", "fr"),
        ("francais", "fr"),
        ("FRANÇAIS", "fr"),
        ("FR", "fr"),
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("fr_CA", "fr"),
        ("fr-ca", "fr"),
        ("French", "fr"),
        ("French (Canada)", "fr"),
        ("fra", "fr"),
        (" F ", "fr"),
        ("English", "en"),
        ("EN", "en"),
        ("en-CA", "en"),
        ("en_US", "en"),
        ("EN-GB", "en"),
        ("Anglais", "en"),
        ("anglais", "en"),
        ("English (Canada)", "en"),
        ("Eng", "en"),
        ("A", "en"),
        ("", None),
        ("   ", None),
        ("Espagnol", None),
        ("Spanish", None),
        ("x", None),
        ("?", None),
    ],
)
def test_language_table(written: str, code: str | None) -> None:
    assert normalize_language(written) == code
    assert parse_language(written) == code


@pytest.mark.parametrize(
    "written",
    ["Bilingue", "bilingual", "both", "Les deux", "fr/en", "FR-EN", "Français et anglais"],
)
def test_bilingual_is_recognised_but_not_a_single_language(written: str) -> None:
    assert parse_language(written) == "both"
    assert normalize_language(written) is None


def test_address_forms() -> None:
    found = normalize_address("  Jean.Tremblay@Courrier-Du-Fleuve.EXAMPLE ")
    assert found.email == "Jean.Tremblay@Courrier-Du-Fleuve.EXAMPLE"
    assert found.address == "Jean.Tremblay@courrier-du-fleuve.example"  # local part as written
    assert found.key == "jean.tremblay@courrier-du-fleuve.example"


def test_international_domain_goes_on_the_wire_as_a_label() -> None:
    found = normalize_address("Zoé@Bücher.example")
    assert found.address == "Zoé@xn--bcher-kva.example"
    assert found.key == "zoé@xn--bcher-kva.example"
    assert normalize_address("zoé@xn--bcher-kva.example").key == found.key


def test_key_is_nfc_and_casefolded() -> None:
    decomposed = "Zoe\u0301@exemple.example"
    assert normalize_address(decomposed).key == normalize_address("ZOÉ@EXEMPLE.example").key


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("", "no address"),
        ("a@@b.fr", "not a valid address"),
        ("a@b", "It should have a period"),
        ("a@b.fr.", "cannot end with a period"),
        ("jean.example", "must have an @-sign"),
        ("a@b.example, c@d.example", "two addresses in one cell"),
        ("a@b.example c@d.example", "two addresses in one cell"),
        ("a@b.example;c@d.example", "two addresses in one cell"),
        ("Jean <a@b.example>", "without a name, <> or mailto:"),
        ("mailto:a@b.example", "without a name, <> or mailto:"),
        ("a\nb@c.example", "line feed (LF) in the address"),
        ("a@b.exam\u2028ple", "line separator (U+2028) in the address"),
        ("a b@c.example", "not a valid address"),
    ],
)
def test_invalid_addresses(written: str, reason: str) -> None:
    with pytest.raises(AddressError, match=re.escape(reason)):
        normalize_address(written)


@pytest.mark.parametrize(
    "written",
    [
        "Jean+presse@Exemple.example",
        "  jean@exemple.example  ",
        "JEAN@EXEMPLE.EXAMPLE",
        "jean+a+b@exemple.example",
    ],
)
def test_suppression_key_ignores_case_whitespace_and_tags(written: str) -> None:
    assert suppression_key(written) == "jean@exemple.example"
    assert normalize_address(written).suppression_key == "jean@exemple.example"


@pytest.mark.parametrize(
    ("outlet", "slug"),
    [
        ("Le Courrier du Fleuve", "le-courrier-du-fleuve"),
        ("L'Écho de Laval", "l-echo-de-laval"),
        ("  Radio Ridge 98.5 ", "radio-ridge-98-5"),
        ("Cœur & Âme", "coeur-ame"),
        ("", ""),
    ],
)
def test_outlet_slug(outlet: str, slug: str) -> None:
    assert slugify(outlet) == slug


def test_split_full_name_trims() -> None:
    assert split_full_name("Tremblay ,  Marie ") == ("Marie", "Tremblay")


@given(st.text())
def test_clean_text_and_slug_are_idempotent(value: str) -> None:
    assert clean_text(clean_text(value)) == clean_text(value)
    assert slugify(slugify(value)) == slugify(value)
    assert slugify(value) == "" or slugify(value).isascii()


@given(st.text())
def test_language_codes_are_fixed_points(value: str) -> None:
    code = parse_language(value)
    assert code is None or parse_language(code) == code


@given(st.emails() | st.text())
def test_address_normalising_is_idempotent(value: str) -> None:
    try:
        found = normalize_address(value)
    except AddressError:
        return
    again = normalize_address(found.address)
    assert again.address == found.address
    assert again.key == found.key
    assert normalize_address(found.key).key == found.key
    assert suppression_key(found.suppression_key) == found.suppression_key
