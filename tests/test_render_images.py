"""Images in the release, the logo and Markdown tables (issue 13, part B).

An image written ``![légende](photo.png)`` arrives as a part of a ``multipart/related`` beside
the HTML, which shows it by ``cid:`` (or attached, with ``[press] images = "attachments"``); the
logo of ``[press] logo`` tops the HTML part the same way.  Checked by parsing the messages with
the standard library, and in headless Chromium for what a mail client shows.  Tables become HTML
tables and aligned text.  An image that cannot be sent is a problem naming the file and line.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
import struct
import zlib
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign_helpers import write_campaign
from distrib.errors import ReleaseError, RenderError
from distrib.markdown_text import markdown_to_text
from distrib.release import load_release, read_release
from distrib.render import Renderer
from distrib.render.mime import make_message_id
from render_helpers import (
    DATE,
    FR_FRONT,
    REPO,
    make_campaign,
    make_contact,
    simple_templates,
    write_document,
    write_release,
    write_templates,
)
from smtp_server import SMTPTestServer

runner = CliRunner()


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real PNG of ``width`` × ``height`` pixels of one colour (zlib and struct only)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


PHOTO = png(40, 30)
LOGO = png(90, 30, (20, 60, 140))


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def release_with(folder: Path, body: str, files: dict[str, bytes] | None = None) -> Path:
    """A French-only release whose body is ``body``, with ``files`` in its folder."""
    write_document(folder, "fr", FR_FRONT, body)
    for name, data in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return folder


def problems_of(folder: Path, **press: Any) -> list[str]:
    from distrib.config import PressConfig

    with pytest.raises(ReleaseError) as caught:
        read_release(folder, press=PressConfig(**press), domain="agapc.example")
    return [str(problem) for problem in caught.value.problems]


def render(tmp_path: Path, release: Path, *, fast: bool = True, **keys: Any) -> EmailMessage:
    templates = write_templates(tmp_path / "templates", simple_templates())
    campaign = make_campaign(tmp_path, release=release, templates=templates, **keys)
    renderer = Renderer(campaign, load_release(campaign), fast_path=fast)
    message_id = make_message_id("run", "zoe", campaign.sender.domain)
    return parse(renderer.render(make_contact(), message_id=message_id, date=DATE).data)


def cids(html: str) -> list[str]:
    return re.findall(r'src="cid:([^"]+)"', html)


# -- images that cannot be sent ------------------------------------------------------------------


def test_every_image_that_cannot_be_sent_is_a_problem_with_its_file_and_line(
    tmp_path: Path,
) -> None:
    (tmp_path / "secret.png").write_bytes(PHOTO)
    body = (
        "Premier paragraphe.\n"  # line 6 of fr.md (5 lines of front matter)
        "\n"
        "![Distante](https://cdn.example/photo.png)\n"  # 8
        "\n"
        "![Absente](absente.png)\n"  # 10
        "\n"
        "Texte, puis ![Déguisée](fiche.png) au milieu\n"  # 12
        "\n"
        "![Dehors](../secret.png)\n"  # 14
        "\n"
        "![Vectorielle](logo.svg)\n"  # 16
    )
    folder = release_with(
        tmp_path / "release",
        body,
        {"fiche.png": b"%PDF-1.4 not an image", "logo.svg": b"<svg><script/></svg>"},
    )
    found = problems_of(folder)
    shown = str(folder / "fr.md")
    assert len(found) == 5, found
    assert found[0].startswith(f"{shown}:8: image: 'https://cdn.example/photo.png' is a remote")
    assert "distrib does not fetch images" in found[0]
    assert found[1] == f"{shown}:10: image: 'absente.png': file not found in the release folder"
    assert found[2].startswith(f"{shown}:12: image: 'fiche.png' is not a PNG, JPEG, GIF or WebP")
    assert "by its content" in found[2]
    assert found[3].startswith(f"{shown}:14: image: '../secret.png': '..' is not allowed")
    assert found[4].startswith(f"{shown}:16: image: 'logo.svg' is not a PNG")


def test_an_image_over_the_limit_and_images_over_the_total_are_problems(tmp_path: Path) -> None:
    big = PHOTO + bytes(30_000)  # still a PNG by its content
    folder = release_with(
        tmp_path / "release",
        "![Un](a.png)\n\n![Deux](b.png)\n\n![Trois](c.png)\n",
        {"a.png": big, "b.png": big + b"1", "c.png": PHOTO},
    )
    found = problems_of(folder, max_image_mb=0.02)
    shown = str(folder / "fr.md")
    assert [p.split(": image: ")[0] for p in found] == [f"{shown}:6", f"{shown}:8"]
    assert "over the 20 KB limit per image ([press] max_image_mb)" in found[0]
    together = problems_of(folder, max_images_mb=0.05)
    assert together == [
        f"{shown}: images: the images add up to 60 KB, over the 50 KB limit"
        " ([press] max_images_mb); use fewer or smaller images, or link to a gallery"
    ]


def test_an_image_name_that_could_inject_a_header_is_refused(tmp_path: Path) -> None:
    name = "=?utf-8?q?x=0D=0AX-Injected:_yes?=.png"
    folder = release_with(tmp_path / "release", f"![Photo](<{name}>)\n", {name: PHOTO})
    [problem] = problems_of(folder)
    assert "RFC 2047 encoded word" in problem
    assert problem.startswith(f"{folder / 'fr.md'}:6: image:")


# -- inline images in the message ---------------------------------------------------------------


@pytest.mark.parametrize("fast", [True, False], ids=["fast-writer", "standard-library"])
def test_an_image_arrives_as_a_related_part_the_html_shows_by_cid(
    tmp_path: Path, fast: bool
) -> None:
    folder = release_with(
        tmp_path / "release",
        "Le marché ![Le marché des Cèdres](<photos/marché été.png>) ouvre.\n",
        {"photos/marché été.png": PHOTO},
    )
    message = render(tmp_path, folder, fast=fast)
    assert message.get_content_type() == "multipart/alternative"
    text_part, related = message.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html_part, image = related.iter_parts()
    assert html_part.get_content_type() == "text/html"
    html = html_part.get_content()
    [cid] = cids(html)
    assert image["Content-ID"] == f"<{cid}>"
    assert cid.endswith("@agapc.example")
    assert image.get_content_type() == "image/png"
    assert image.get_content_disposition() == "inline"
    assert image.get_filename() == "marché été.png"
    assert image.get_payload(decode=True) == PHOTO
    assert 'alt="Le marché des Cèdres"' in html
    assert "[Image: Le marché des Cèdres]" in text_part.get_content()
    assert "cid:" not in text_part.get_content()


def test_content_ids_are_the_same_in_every_message_and_on_every_render(tmp_path: Path) -> None:
    folder = release_with(tmp_path / "release", "![Photo](p.png)\n", {"p.png": PHOTO})
    templates = write_templates(tmp_path / "templates", simple_templates())
    campaign = make_campaign(tmp_path, release=folder, templates=templates)
    seen = set()
    for attempt in range(2):  # a resumed run builds a new renderer
        renderer = Renderer(campaign, load_release(campaign))
        for key in ("zoe", "marc"):
            message_id = make_message_id("run", key, "agapc.example")
            rendered = renderer.render(make_contact(), message_id=message_id, date=DATE)
            [image] = [
                p for p in parse(rendered.data).walk() if p.get_content_maintype() == "image"
            ]
            seen.add(image["Content-ID"])
            if attempt == 1 and key == "zoe":
                first = rendered
    assert len(seen) == 1
    again = Renderer(campaign, load_release(campaign)).render(
        make_contact(), message_id=first.message_id, date=DATE
    )
    assert again.data == first.data  # resume re-renders the very same bytes
    assert again.content_hash == first.content_hash


def test_a_bilingual_message_carries_an_image_both_languages_show_once(tmp_path: Path) -> None:
    folder = write_release(
        tmp_path / "release", fr_body="![Photo](p.png)\n", en_body="![Photo](p.png)\n"
    )
    (folder / "p.png").write_bytes(PHOTO)
    campaign = make_campaign(tmp_path, release=folder, templates=REPO / "templates")
    renderer = Renderer(campaign, load_release(campaign))
    for language in ("fr", "en", "both"):
        rendered = renderer.render(
            make_contact(language=language),
            message_id=make_message_id("r", language, "agapc.example"),
            date=DATE,
        )
        parsed = parse(rendered.data)
        images = [p for p in parsed.walk() if p.get_content_maintype() == "image"]
        assert len(images) == 1, language
        assert rendered.html.count('src="cid:') == (2 if language == "both" else 1)


def test_with_images_as_attachments_they_are_attached_and_named(tmp_path: Path) -> None:
    folder = release_with(tmp_path / "release", "![Le marché](marche.png)\n", {"marche.png": PHOTO})
    message = render(tmp_path, folder, press={"images": "attachments"})
    assert message.get_content_type() == "multipart/mixed"
    assert not [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "marche.png"
    assert attached.get_payload(decode=True) == PHOTO
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "[Image: Le marché (marche.png, pièce jointe)]" in text.get_content()
    assert "cid:" not in html.get_content() and "marche.png, pièce jointe" in html.get_content()


# -- the logo ------------------------------------------------------------------------------------


def test_the_logo_tops_the_html_part_with_its_alt_and_width_and_never_the_text(
    tmp_path: Path,
) -> None:
    (tmp_path / "logo.png").write_bytes(LOGO)
    folder = release_with(tmp_path / "release", "Le texte.\n")
    campaign = make_campaign(
        tmp_path,
        release=folder,
        templates=REPO / "templates",
        press={"logo": "logo.png", "logo_alt": "AGAPC", "logo_width": 150},
    )
    renderer = Renderer(campaign, load_release(campaign))
    rendered = renderer.render(
        make_contact(), message_id=make_message_id("r", "z", "agapc.example"), date=DATE
    )
    message = parse(rendered.data)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = str(html_part.get_content())
    [img] = re.findall(r"<img [^>]*>", html)
    assert 'alt="AGAPC"' in img and 'width="150"' in img and "max-width: 100%" in img
    [image] = [p for p in message.walk() if p.get_content_maintype() == "image"]
    assert image["Content-ID"] == f"<{cids(html)[0]}>"
    assert image.get_payload(decode=True) == LOGO
    # The logo comes before the release's label.
    assert html.index("<img ") < html.index('class="label"')
    assert "logo" not in text_part.get_content().lower()
    assert rendered.preview_html.count("data:image/png;base64,") == 1


def test_a_logo_that_is_not_an_image_is_a_problem_naming_the_setting(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"<html>not a logo</html>")
    folder = release_with(tmp_path / "release", "Le texte.\n")
    campaign = make_campaign(tmp_path, release=folder, press={"logo": "logo.png"})
    with pytest.raises(RenderError) as caught:
        Renderer(campaign, load_release(campaign))
    [problem] = caught.value.problems
    assert str(problem).startswith(f"{tmp_path / 'campaign.toml'}: press.logo: 'logo.png' is not")


# -- tables --------------------------------------------------------------------------------------

TABLE = (
    "| Volet | Montant | Échéance |\n"
    "|:------|--------:|:--------:|\n"
    "| Éclairage | 185 000 $ | 1er déc. |\n"
    "| Animation | 300 000 $ | 15 janv. |\n"
)


def test_a_table_is_an_html_table_with_inline_styles_and_aligned_text(tmp_path: Path) -> None:
    folder = release_with(tmp_path / "release", "Le budget :\n\n" + TABLE)
    message = render(tmp_path, folder)
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = str(html_part.get_content())
    assert "overflow-x:auto" in html and "<table " in html
    assert re.search(r'<td style="border:1px solid #c8c8c0;[^"]*text-align:right">185', html)
    lines = text_part.get_content().replace("\r\n", "\n").split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Volet"))
    assert lines[start : start + 4] == [  # French spacing: 185 000 $ does not break
        "Volet        Montant  Échéance",
        "---------  ---------  --------",
        "Éclairage  185\u00a0000\u00a0$  1er déc.",
        "Animation  300\u00a0000\u00a0$  15 janv.",
    ]


def test_table_text_is_aligned_by_display_width() -> None:
    text = markdown_to_text(TABLE)
    assert text.split("\n") == [
        "Volet        Montant  Échéance",
        "---------  ---------  --------",
        "Éclairage  185 000 $  1er déc.",
        "Animation  300 000 $  15 janv.",
    ]
    # Accents written as combining marks take no room of their own; CJK characters take two.
    decomposed = markdown_to_text("| Nom | N |\n|--|--|\n| E\u0301mile | 1 |\n| 名前 | 2 |\n")
    assert decomposed.split("\n") == ["Nom    N", "-----  -", "E\u0301mile  1", "名前   2"]


def test_a_table_too_wide_for_78_columns_becomes_label_value_lines() -> None:
    wide = "| Outlet | Contact | Note |\n|--|--|--|\n| " + " | ".join(["x" * 30] * 3) + " |\n"
    wide += "| Radio | Zoé | " + "y" * 40 + " |\n"
    assert markdown_to_text(wide).split("\n") == [
        "Outlet: " + "x" * 30,
        "Contact: " + "x" * 30,
        "Note: " + "x" * 30,
        "",
        "Outlet: Radio",
        "Contact: Zoé",
        "Note: " + "y" * 40,
    ]


# -- end to end: sent, received, shown in Chromium ----------------------------------------------


def resolved_html(message: EmailMessage) -> str:
    """The HTML part with each cid: replaced by its part's bytes as a data: URL, as a mail client
    resolves it (done here from the parsed message, not by distrib)."""
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    for part in message.walk():
        content_id = part["Content-ID"]
        if content_id:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            data = base64.b64encode(payload).decode("ascii")
            url = f"data:{part.get_content_type()};base64,{data}"
            html = html.replace(f'"cid:{content_id.strip("<>")}"', f'"{url}"')
    return html


@pytest.mark.browser
def test_sent_images_and_logo_show_in_chromium(
    tmp_path: Path, smtp_server: SMTPTestServer, request: pytest.FixtureRequest
) -> None:
    files = write_campaign(
        tmp_path / "c",
        port=smtp_server.port,
        extra='[press]\nlogo = "logo.png"\nlogo_alt = "Coopérative des Quais"\n',
    )
    (files.folder / "logo.png").write_bytes(LOGO)
    release = files.folder / "release"
    (release / "atelier.png").write_bytes(PHOTO)
    for name in ("fr.md", "en.md"):
        text = (release / name).read_text(encoding="utf-8")
        extra = "\n![L'atelier](atelier.png)\n\n" + TABLE + "\n"
        (release / name).write_text(text.replace("\n\n", "\n" + extra, 1), encoding="utf-8")
    from distrib.cli import app

    result = runner.invoke(app, ["send", str(files.campaign), "--yes"])
    assert result.exit_code == 0, result.output
    assert smtp_server.messages
    received = parse(smtp_server.messages[0].data)
    html = resolved_html(received)
    assert "cid:" not in html
    browser = request.getfixturevalue("browser")  # after the send: see the fixture
    page = browser.new_page(viewport={"width": 390, "height": 900})
    try:
        page.set_content(html)
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.alt, e.naturalWidth, e.getBoundingClientRect().width])"
        )
        # The logo: decoded (90 px of its own), shown at logo_width (180 px by default).
        assert images[0] == ["Coopérative des Quais", 90, 180]
        assert images[1][1] == 40  # the photo, decoded
        assert page.locator("table.release-table").count() == 1
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{width} px wide on a 390-px phone"
    finally:
        page.close()
