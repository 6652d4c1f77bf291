"""Rendered messages: structure, headers, Message-IDs, unsubscribe headers, header injection."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from distrib.errors import RenderError
from distrib.release import load_release
from distrib.render import RenderedMessage, Renderer, make_message_id
from distrib.render.mime import content_hash
from distrib.render.unsubscribe import unsubscribe_token, workspace_scope
from render_helpers import (
    DATE,
    FR_FRONT,
    SECRET,
    make_campaign,
    make_contact,
    parse,
    parts,
    simple_templates,
    write_document,
    write_templates,
)

RUN = "run-2027-11-04"


def renderer_for(tmp_path: Path, **sender: object) -> Renderer:
    campaign = make_campaign(tmp_path, **sender)
    return Renderer(campaign, load_release(campaign))


def render(renderer: Renderer, **contact: object) -> RenderedMessage:
    person = make_contact(**contact)
    return renderer.render(
        person, message_id=make_message_id(RUN, person.key, "agapc.example"), date=DATE
    )


FRENCH_SUBJECT = "Communiqué\u00a0: «\u00a0Hiver en vitrine\u00a0» à la Pointe-aux-Cèdres"


@pytest.fixture
def renderer(tmp_path: Path) -> Renderer:
    return renderer_for(tmp_path)


def test_message_structure_and_headers(renderer: Renderer) -> None:
    rendered = render(renderer)
    message = parse(rendered.data)
    assert message["From"].addresses[0].display_name == "Service de presse AGAPC"
    assert message["From"].addresses[0].addr_spec == "presse@agapc.example"
    [to] = message["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Zoé Bélanger", "Zoe.Belanger@exemple.ca")
    assert message["Reply-To"].addresses[0].addr_spec == "relations.medias@agapc.example"
    # French spacing: non-breaking spaces before the colon and inside « ».
    assert message["Subject"] == FRENCH_SUBJECT
    assert email.utils.parsedate_to_datetime(message["Date"]) == DATE
    assert message["Message-ID"] == rendered.message_id
    assert message["Content-Language"] == "fr-CA"
    assert message["MIME-Version"] == "1.0"
    assert message["List-Unsubscribe"] == "<mailto:presse@agapc.example?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] is None
    assert message["Bcc"] is None
    assert message.defects == []
    text, html = parts(message)
    assert text == rendered.text.replace("\r\n", "\n")
    assert html == rendered.html
    assert text.startswith("Pour diffusion immédiate\n\nBonjour Zoé,\n\n")  # no summary here
    assert "<strong>texte</strong>" in html


def test_rendered_message_fields(renderer: Renderer) -> None:
    rendered = render(renderer)
    assert rendered.language == "fr"
    assert rendered.recipient == "Zoe.Belanger@exemple.ca"
    assert rendered.envelope_from == "presse@agapc.example"
    assert rendered.subject == FRENCH_SUBJECT
    assert rendered.size == len(rendered.data)
    assert rendered.content_hash == content_hash(rendered.subject, rendered.text, rendered.html)


def test_bytes_are_crlf_7bit_and_short_lined(renderer: Renderer) -> None:
    data = render(renderer, first_name="Zoé " * 40).data
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 78


def test_raw_headers_are_encoded_words(renderer: Renderer) -> None:
    head = render(renderer).data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "Subject: =?utf-8?q?Communiqu=C3=A9" in head
    assert "To: =?utf-8?q?Zo=C3=A9_B=C3=A9langer?= <Zoe.Belanger@exemple.ca>" in head
    assert "?==?" not in head


def test_english_contact_gets_english_message(renderer: Renderer) -> None:
    rendered = render(renderer, language="en", first_name="Ève", outlet="CBC")
    message = parse(rendered.data)
    assert message["Content-Language"] == "en-CA"
    assert message["Subject"] == "News release – Winter Storefronts in Pointe-aux-Cèdres"
    text, _html = parts(message)
    assert text.startswith("For immediate release\n\nHello Ève,\n")


def test_date_defaults_to_now_and_must_be_aware(renderer: Renderer) -> None:
    person = make_contact()
    message_id = make_message_id(RUN, person.key, "agapc.example")
    before = datetime.now(UTC).replace(microsecond=0)
    rendered = renderer.render(person, message_id=message_id)
    sent = email.utils.parsedate_to_datetime(parse(rendered.data)["Date"])
    assert before <= sent <= datetime.now(UTC) + timedelta(seconds=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        renderer.render(person, message_id=message_id, date=datetime(2027, 11, 4, 9, 0))
    with pytest.raises(ValueError, match="Message-ID"):
        renderer.render(person, message_id="no-angle-brackets")


def test_content_hash_ignores_date_but_not_content(renderer: Renderer) -> None:
    first = render(renderer)
    person = make_contact()
    later = renderer.render(person, message_id=first.message_id, date=DATE + timedelta(hours=3))
    assert later.data != first.data
    assert later.content_hash == first.content_hash
    assert render(renderer, first_name="Marc").content_hash != first.content_hash


def test_message_id_is_stable_per_run_and_key() -> None:
    first = make_message_id("run-a", "zoe@exemple.ca", "agapc.example")
    assert first == make_message_id("run-a", "zoe@exemple.ca", "agapc.example")
    assert first != make_message_id("run-b", "zoe@exemple.ca", "agapc.example")
    assert first != make_message_id("run-a", "marc@exemple.ca", "agapc.example")
    assert first.startswith("<distrib.") and first.endswith("@agapc.example>")
    assert "zoe" not in first


@pytest.mark.parametrize(
    ("domain", "host"),
    [
        ("AGAPC.example", "agapc.example"),
        ("cèdres.example", "xn--cdres-4ra.example"),
        ("[192.0.2.1]", "[192.0.2.1]"),
    ],
)
def test_message_id_is_rfc5322_valid(domain: str, host: str) -> None:
    message_id = make_message_id("run token with spaces <>@\r\n", "clé", domain)
    assert message_id.endswith(f"@{host}>")
    header = parse(f"Message-ID: {message_id}\r\n\r\n".encode())["Message-ID"]
    assert header == message_id
    assert not header.defects


@pytest.mark.parametrize("bad", ["", "a b.example", "x@y"])
def test_message_id_refuses_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        make_message_id("run", "key", bad)
    with pytest.raises(ValueError):
        make_message_id("", "key", "agapc.example")


def test_one_click_unsubscribe_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    url = "https://agapc.example/desabonnement?liste=medias-2027-hiver-en-vitrine&source=courriel"
    renderer = renderer_for(
        tmp_path, unsubscribe_url=url, unsubscribe_mailto="desabonnement@agapc.example"
    )
    rendered = render(renderer)
    message = parse(rendered.data)
    scope = workspace_scope("agapc.example", "test")  # the sender's domain, the campaign
    token = unsubscribe_token(SECRET.encode(), "zoe.belanger@exemple.ca", scope)
    personal = f"{url}&token={token}"
    assert (
        message["List-Unsubscribe"]
        == f"<{personal}>, <mailto:desabonnement@agapc.example?subject=unsubscribe>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A long URL is folded between URIs, never turned into an encoded word.
    assert f"List-Unsubscribe: <{personal}>,\r\n <mailto:".encode() in rendered.data
    text, html = parts(message)
    assert personal in text and f'href="{personal.replace("&", "&amp;")}"' in html
    assert "desabonnement@agapc.example" in text


def test_no_reply_to_when_not_configured(tmp_path: Path) -> None:
    message = parse(render(renderer_for(tmp_path, reply_to=None)).data)
    assert message["Reply-To"] is None


INJECTIONS = [
    "\r\nBcc: victim@example.org",
    "\nBcc: victim@example.org",
    "\u2028Bcc: x",
    "Zoé\x00",
    "Zoé\tBélanger",
    "x\x85y",
]


@pytest.mark.parametrize("bad", INJECTIONS)
@pytest.mark.parametrize("field", ["first_name", "last_name"])
def test_header_injection_in_names_fails_that_contact(
    renderer: Renderer, field: str, bad: str
) -> None:
    with pytest.raises(RenderError) as info:
        render(renderer, **{field: "Zoé" + bad})
    [problem] = info.value.problems
    assert problem.code == "header"
    assert problem.message.startswith("header To: ")
    assert str(problem.where) == "contacts.csv:2"
    # The next contact still renders: the renderer is not poisoned.
    assert render(renderer).subject


@pytest.mark.parametrize("bad", INJECTIONS)
def test_header_injection_through_the_subject_template(tmp_path: Path, bad: str) -> None:
    templates = write_templates(
        tmp_path / "tpl", simple_templates(subject="{{ release.subject }} – {{ contact.outlet }}\n")
    )
    campaign = make_campaign(tmp_path, templates=templates)
    renderer = Renderer(campaign, load_release(campaign))
    assert render(renderer).subject.endswith("– Le Devoir")
    with pytest.raises(RenderError) as info:
        render(renderer, outlet="Le Devoir" + bad)
    [problem] = info.value.problems
    assert problem.message.startswith("header Subject: ")


def test_hostile_display_name_stays_one_recipient(renderer: Renderer) -> None:
    rendered = render(
        renderer, first_name='"Evil" <evil@example.org>,', last_name="victim@example.org"
    )
    [to] = parse(rendered.data)["To"].addresses
    assert to.addr_spec == "Zoe.Belanger@exemple.ca"
    assert to.display_name == '"Evil" <evil@example.org>, victim@example.org'


def test_literal_encoded_word_in_a_name_is_not_decoded(renderer: Renderer) -> None:
    rendered = render(renderer, first_name="=?utf-8?q?Bcc=3A_x?=")
    [to] = parse(rendered.data)["To"].addresses
    assert to.display_name == "=?utf-8?q?Bcc=3A_x?= Bélanger"


def test_runs_of_spaces_in_a_name_count_as_one(renderer: Renderer) -> None:
    # What every reader shows anyway (an RFC 5322 phrase), decided once by distrib.
    rendered = render(renderer, first_name="Zoé  Anne", last_name="  Bélanger")
    [to] = parse(rendered.data)["To"].addresses
    assert to.display_name == "Zoé Anne Bélanger"


def test_contact_without_name_gets_bare_address(renderer: Renderer) -> None:
    rendered = render(renderer, first_name="", last_name="")
    message = parse(rendered.data)
    assert message["To"] == "Zoe.Belanger@exemple.ca"
    assert parts(message)[0].startswith("Pour diffusion immédiate\n\nBonjour,\n\n")


@pytest.mark.parametrize("address", ["zoe@@exemple.ca", "zoe@exe mple.ca", "<zoe@x.ca>"])
def test_unusable_address_fails_that_contact(renderer: Renderer, address: str) -> None:
    # (A UTF-8 local part such as zoé@exemple.ca is usable: see test_render_headers.py.)
    with pytest.raises(RenderError) as info:
        render(renderer, address=address)
    [problem] = info.value.problems
    assert problem.code == "header"
    assert problem.message.startswith("cannot use the address")


def test_missing_language_document_fails_that_contact(tmp_path: Path) -> None:
    release = tmp_path / "only-fr"
    write_document(release, "fr", FR_FRONT)
    campaign = make_campaign(tmp_path, release=release)
    renderer = Renderer(campaign, load_release(campaign))
    assert render(renderer).language == "fr"
    with pytest.raises(RenderError) as info:
        render(renderer, language="en")
    [problem] = info.value.problems
    assert problem.code == "language"
    assert "no en.md" in problem.message
