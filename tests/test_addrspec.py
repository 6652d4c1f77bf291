"""The plain address is defined once (`distrib.addrspec`) and every stage uses that definition."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import distrib
from distrib.addrspec import ATEXT, DOT_ATOM, PLAIN_ADDRESS, dot_atom, plain_address

SRC = Path(distrib.__file__).parent


def test_the_atext_class_is_written_in_one_place_only() -> None:
    # The characters that only RFC 5322 atext lists together (after the letters and digits).
    marker = re.compile(r"!#\$?%&'\*\+/=\?\^_`\{\|\}~")
    found = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if marker.search(path.read_text(encoding="utf-8").replace("\\", ""))
    )
    assert found == ["addrspec.py"]


def test_every_stage_takes_its_fast_path_from_the_one_definition() -> None:
    from distrib.contacts import addresses, normalize
    from distrib.render import fastmime, mime
    from distrib.send import transport

    assert addresses.FAST_LOCAL == DOT_ATOM
    assert normalize.dot_atom is mime.dot_atom is dot_atom
    assert fastmime.plain_address is transport.plain_address is plain_address


@given(st.from_regex(PLAIN_ADDRESS, fullmatch=True))
def test_a_plain_address_is_a_dot_atom_at_a_host(address: str) -> None:
    local, _, host = address.rpartition("@")
    assert dot_atom.fullmatch(local)
    assert all(re.fullmatch(ATEXT, c) or c == "." for c in local)
    assert host and ".." not in host


@pytest.mark.parametrize("local", ["", ".a", "a.", "a..b", "a b", 'a"b', "é", "a@b"])
def test_what_is_not_a_dot_atom(local: str) -> None:
    assert not dot_atom.fullmatch(local)
