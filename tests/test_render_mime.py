"""The MIME layer: our header folding must give every reader the exact text back."""

from __future__ import annotations

import dataclasses
import email
import email.message
import email.policy
from email.headerregistry import Address

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distrib.headers import is_header_safe
from distrib.render.mime import HeaderValues, build_message, encode_words, make_message_id
from render_helpers import parse

header_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=300
).filter(lambda s: is_header_safe(s) and s.strip() == s and s != "")


def build(
    subject: str = "Bonjour", name: str = "Zoé Bélanger", unsubscribe: str | None = None
) -> bytes:
    headers = HeaderValues(
        sender=Address("Service de presse AGAPC", addr_spec="presse@agapc.example"),
        recipient=Address(name, addr_spec="zoe@exemple.ca"),
        subject=subject,
        date="Thu, 04 Nov 2027 09:00:00 -0500",
        message_id=make_message_id("run", "zoe", "agapc.example"),
        content_language="fr-CA",
        list_unsubscribe=unsubscribe or "<mailto:presse@agapc.example?subject=unsubscribe>",
    )
    return build_message(headers, "texte é\n", "<p>texte é</p>\n")


def header_lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")


@given(header_text)
def test_any_safe_subject_round_trips(subject: str) -> None:
    data = build(subject=subject)
    assert parse(data)["Subject"] == subject
    assert data.isascii()
    lines = header_lines(data)
    assert max(len(line) for line in lines) <= 998
    if not subject.isascii():
        subject_lines = [line for line in lines if b"=?utf-8?q?" in line]
        assert all(len(line) <= 76 for line in subject_lines)


# In an RFC 5322 phrase a run of spaces means one space (parsers collapse them), so the renderer
# collapses them before building To (tested in test_render.py); names here have single spaces.
def single_spaced(text: str) -> bool:
    return " ".join(part for part in text.split(" ") if part) == text


@given(header_text.filter(lambda s: len(s.encode()) <= 20 and single_spaced(s)))
def test_short_display_names_round_trip(name: str) -> None:
    [to] = parse(build(name=name))["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, "zoe@exemple.ca")


@pytest.mark.parametrize(
    "subject",
    [
        "L’AGAPC lance « Hiver en vitrine » : un programme de 485 000 $ pour nos rues",
        "Deux  espaces   et plus" + " mot" * 30,
        "=?utf-8?q?d=C3=A9j=C3=A0?= encodé",
        "x" * 950,
    ],
)
def test_awkward_subjects_round_trip(subject: str) -> None:
    assert parse(build(subject=subject))["Subject"] == subject


def test_encoded_words_respect_rfc2047_limits() -> None:
    words = encode_words("é" * 100 + " fin", 60)
    assert len(words[0]) <= 60
    assert all(len(word) <= 75 for word in words)
    assert all(word.startswith("=?utf-8?q?") and word.endswith("?=") for word in words)
    assert "".join(words).count("=C3=A9") == 100


def test_non_ascii_local_part_is_written_as_utf8_rfc6532() -> None:
    headers = HeaderValues(
        sender=Address("A", addr_spec="presse@agapc.example"),
        recipient=Address("Zoé", username="zoé", domain="exemple.ca"),
        subject="Communiqué",
        date="Thu, 04 Nov 2027 09:00:00 -0500",
        message_id="<a@b>",
        content_language="fr-CA",
        list_unsubscribe="<mailto:a@b>",
    )
    data = build_message(headers, "t", "h")
    assert "To: =?utf-8?q?Zo=C3=A9?= <zoé@exemple.ca>\r\n".encode() in data
    assert b"=?utf-8?q?Communiqu=C3=A9?=" in data  # the rest stays encoded as usual
    # A reader of RFC 6532 mail decodes the header block as UTF-8.
    message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoé", "zoé@exemple.ca")
    # An ASCII recipient keeps the message 7-bit.
    ascii_headers = dataclasses.replace(headers, recipient=Address("Zoé", "zoe", "x.ca"))
    assert build_message(ascii_headers, "t", "h").isascii()


# The standard library's folder loses text in these (see distrib.render.mime's docstring):
# distrib folds Subject, From, To and Reply-To itself.  Each of these fails if that workaround
# is removed (the subject or name left to the standard folder) on the Python that has the bug.
CPYTHON_FOLDING_BUGS = [
    # python/cpython#92081 (Python 3.11, this project's): the space before "la" is lost.
    "Communiqué : « Hiver en vitrine » à la Pointe-aux-Cèdres, écoles, élèves, événements et été",
    # python/cpython#144156 (3.12.5+, 3.13 until its 2026 fix): "?==?", which Yahoo rejects.
    "Re: [SOS-1495488] Commande et livraison - Demande de retour - bibijolie - 251210-AABBCC -"
    " Abo actualités digitales 20 semaines d’abonnement à 24 heures, Bilan, Tribune de Genève"
    " et tous les titres Tamedia",
]


@pytest.mark.parametrize("text", CPYTHON_FOLDING_BUGS, ids=["gh-92081", "gh-144156"])
def test_headers_the_standard_folder_breaks_come_back_exactly(text: str) -> None:
    data = build(subject=text)
    assert b"?==?" not in data
    assert parse(data)["Subject"] == text


def test_the_standard_folder_of_this_python_still_needs_the_workaround() -> None:
    """If this fails, this Python's folder no longer loses text: the workaround may go."""
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    losses = []
    for text in CPYTHON_FOLDING_BUGS:
        del message["Subject"]
        message["Subject"] = text
        data = message.as_bytes()
        back = email.message_from_bytes(data, policy=email.policy.default)["Subject"]
        losses.append(back != text or b"?==?" in data)
    assert any(losses)


def test_mime_imports_nothing_private_from_the_email_package() -> None:
    import ast
    from pathlib import Path

    import distrib.render.mime

    tree = ast.parse(Path(distrib.render.mime.__file__).read_text(encoding="utf-8"))
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    private = [m for m in imported if any(p.startswith("_") for p in m.split("."))]
    assert private == ["__future__"]
