"""Headers, attachments, SMTPUTF8 and warnings of rendered messages, parsed back by the stdlib."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

import pytest

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import NewMessage, open_log
from distrib.errors import RenderError
from distrib.release import load_release
from distrib.render import (
    RenderedMessage,
    Renderer,
    make_message_id,
    verify_token,
    workspace_scope,
)
from distrib.send import Outgoing, send_messages
from render_helpers import (
    DATE,
    EN_FRONT,
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
from smtp_server import SMTPTestServer


def renderer_for(tmp_path: Path, **options: object) -> Renderer:
    tmp_path.mkdir(parents=True, exist_ok=True)
    campaign = make_campaign(tmp_path, **options)
    return Renderer(campaign, load_release(campaign))


def render(renderer: Renderer, **contact: object) -> RenderedMessage:
    person = make_contact(**contact)
    return renderer.render(
        person, message_id=make_message_id("run", person.key, "agapc.example"), date=DATE
    )


def test_list_id_defaults_to_the_campaign_under_the_sender_domain(tmp_path: Path) -> None:
    message = parse(render(renderer_for(tmp_path)).data)
    assert (
        message["List-Id"]
        == "Association des gens d'affaires de la Pointe-aux-Cèdres <test.agapc.example>"
    )
    custom = parse(render(renderer_for(tmp_path / "b", list_id="communiques.agapc.example")).data)
    assert str(custom["List-Id"]).endswith(" <communiques.agapc.example>")


def test_per_recipient_unsubscribe_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    renderer = renderer_for(tmp_path, unsubscribe_url="https://agapc.example/u/{token}")
    zoe, marc = render(renderer), render(renderer, address="marc@x.example", key="marc@x.example")
    scope = workspace_scope("agapc.example", "test")  # the sender's domain, the campaign's name
    tokens = []
    for rendered, key in ((zoe, "zoe.belanger@exemple.ca"), (marc, "marc@x.example")):
        header = str(parse(rendered.data)["List-Unsubscribe"])
        url = header.split(">", maxsplit=1)[0].removeprefix("<")
        token = url.removeprefix("https://agapc.example/u/")
        assert len(token) == 22 and verify_token(SECRET.encode(), key, token, scope)
        assert key.split("@")[0] not in token
        tokens.append(token)
    assert tokens[0] != tokens[1]
    assert not verify_token(b"another secret entirely", "marc@x.example", tokens[1], scope)
    # The same secret and address in another workspace: another token; this one is refused.
    for other in (workspace_scope("agapc.example", "other"), workspace_scope("x.example", "test")):
        assert not verify_token(SECRET.encode(), "marc@x.example", tokens[1], other)


def test_unsubscribe_url_needs_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISTRIB_UNSUBSCRIBE_SECRET", raising=False)
    with pytest.raises(
        RenderError, match="set the environment variable DISTRIB_UNSUBSCRIBE_SECRET"
    ):
        renderer_for(tmp_path, unsubscribe_url="https://agapc.example/u")
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", "short")
    with pytest.raises(RenderError, match="too short"):
        renderer_for(tmp_path, unsubscribe_url="https://agapc.example/u")


def test_attachments_make_a_mixed_message(tmp_path: Path) -> None:
    release = tmp_path / "release"
    write_document(release, "fr", FR_FRONT + "attachments: [photos/marché.jpg, fiche.pdf]\n")
    write_document(release, "en", EN_FRONT + "attachments: [fiche.pdf]\n")
    (release / "photos").mkdir()
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    (release / "photos" / "marché.jpg").write_bytes(jpeg)
    (release / "fiche.pdf").write_bytes(b"%PDF-1.7\n")
    renderer = renderer_for(tmp_path, release=release)
    rendered = render(renderer)
    message = parse(rendered.data)
    assert message.get_content_type() == "multipart/mixed"
    body, *files = list(message.iter_parts())
    assert body.get_content_type() == "multipart/alternative"
    assert [(f.get_filename(), f.get_content_type(), f.get_content()) for f in files] == [
        ("marché.jpg", "image/jpeg", jpeg),
        ("fiche.pdf", "application/pdf", b"%PDF-1.7\n"),
    ]
    assert rendered.data.isascii()
    text = message.get_body(("plain",))
    assert text is not None and "marché.jpg" in text.get_content()
    # A bilingual message carries each file once; the content hash covers the files.
    both = render(renderer, language="both")
    assert [a.filename for a in both.attachments] == ["marché.jpg", "fiche.pdf"]
    (release / "fiche.pdf").write_bytes(b"%PDF-1.7\nchanged\n")
    changed = render(renderer_for(tmp_path / "again", release=release))
    assert changed.content_hash != rendered.content_hash


def test_utf8_local_part_renders_and_reaches_an_smtputf8_server(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    renderer = renderer_for(tmp_path)
    rendered = render(
        renderer, address="zoé@exemple.ca", key="zoé@exemple.ca", email="zoé@exemple.ca"
    )
    assert not rendered.data.isascii()
    message = email.message_from_string(rendered.data.decode("utf-8"), policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "zoé@exemple.ca"
    smtp = SMTPConfig(host="127.0.0.1", port=smtp_server.port, security="none", timeout=5)
    with open_log(tmp_path / "log.sqlite") as log:
        run = log.create_run("t", "campaign.toml")
        log.add_messages(
            run.id, [NewMessage(key="k", recipient="zoé@exemple.ca", address="zoé@exemple.ca")]
        )
        [row] = log.pending(run.id)
        out = Outgoing(
            row.id, rendered.envelope_from, rendered.recipient, rendered.data, rendered.message_id
        )
        report = asyncio.run(
            send_messages([out], log=log, smtp=smtp, limits=LimitsConfig(rate=0), password=None)
        )
    assert report.sent == 1
    [received] = smtp_server.messages
    assert received.rcpt_tos == ("zoé@exemple.ca",)
    assert "SMTPUTF8" in received.mail_options
    assert received.data.replace(b"\r\n", b"\n") == rendered.data.replace(b"\r\n", b"\n")


def test_warnings_for_long_subjects_and_big_html(tmp_path: Path) -> None:
    files = simple_templates(
        subject="{{ release.subject }} " + "x" * 80 + "\n", html="<p>" + "é" * 60_000 + "</p>\n"
    )
    templates = write_templates(tmp_path / "tpl", files)
    rendered = render(renderer_for(tmp_path, templates=templates))
    codes = {w.code: w.message for w in rendered.warnings}
    assert set(codes) == {"long-subject", "html-size"}
    assert codes["html-size"].startswith("the HTML part is 117 KB; Gmail clips")
    assert render(renderer_for(tmp_path / "b")).warnings == ()


def test_test_to_renders_for_the_officer(tmp_path: Path) -> None:
    person = make_contact()
    rendered = renderer_for(tmp_path).render(
        person,
        message_id=make_message_id("r", "k", "agapc.example"),
        date=DATE,
        test_to="moi@agapc.example",
    )
    message = parse(rendered.data)
    assert rendered.recipient == "moi@agapc.example"
    assert message["To"] == "moi@agapc.example"
    assert str(message["Subject"]).startswith("[TEST] Communiqué")
    assert "\n\nBonjour Zoé,\n" in parts(message)[0]  # still the contact's message


HOSTILE = [
    "<b>gras</b><img src=x onerror=alert(1)>",
    "{{ 7*7 }}{% raw %}",
    '=HYPERLINK("http://evil.example","clic")',
    "+33 1 23 45 67 89",
    "Ligne 1\r\nBcc: victime@example.org",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_fields_are_inert_in_every_part(tmp_path: Path, payload: str) -> None:
    files = simple_templates(
        text="{{ contact.beat }}|{{ contact.outlet }}\n",
        html="<p>{{ contact.beat }}</p><p>{{ contact.outlet }}</p>\n",
    )
    renderer = renderer_for(tmp_path, templates=write_templates(tmp_path / "tpl", files))
    rendered = render(renderer, outlet=payload, fields={"beat": payload})
    message = parse(rendered.data)
    assert message.defects == [] and message["Bcc"] is None
    text, html = parts(message)
    assert text == f"{payload}|{payload}\n".replace("\r\n", "\n")
    assert "<img" not in html and "<b>" not in html and "49" not in html
    assert "Bcc:" not in rendered.data.split(b"\r\n\r\n", 1)[0].decode()


def test_every_default_message_parses_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    renderer = renderer_for(tmp_path, unsubscribe_url="https://agapc.example/u")
    names = [("Zoé", "Bélanger"), ("François", "Côté-Lévesque"), ("", ""), ("Ægir", "Ørsted « Ñ »")]
    for language in ("fr", "en", "both"):
        for first, last in names:
            rendered = render(renderer, language=language, first_name=first, last_name=last)
            message = parse(rendered.data)
            assert message.defects == []
            assert message["Subject"] == rendered.subject
            [to] = message["To"].addresses
            assert (to.display_name, to.addr_spec) == (
                f"{first} {last}".strip(),
                "Zoe.Belanger@exemple.ca",
            )
            for header in ("From", "To", "Date", "Message-ID", "List-Id", "List-Unsubscribe",
                           "List-Unsubscribe-Post", "Content-Language", "Reply-To"):  # fmt: skip
                assert message[header] is not None, header
            text, html = parts(message)
            assert text == rendered.text and html == rendered.html
            assert (first or "Bonjour" if language != "en" else first or "Hello") in text
            lines = rendered.data.split(b"\r\n")
            assert max(len(line) for line in lines) <= 998
