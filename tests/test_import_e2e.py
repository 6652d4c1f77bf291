"""From Word to the journalists' inboxes: import a .docx per language, preview, send, look.

The received HTML is opened in headless Chromium and compared by content (headings, list items,
table, images), not pixels.  An imported image travels as an inline part of the message's
``multipart/related``: the HTML names it ``cid:<Content-ID>``, as a mail client reads it.  The
test gives each ``cid:`` the bytes of the part with that Content-ID (as a ``data:`` URL, read
from the parsed message), so the image Chromium decodes is the one the message carries.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign_helpers import parse, write_campaign
from distrib.cli import app
from import_helpers import english_docx, french_docx, png_bytes
from smtp_server import SMTPTestServer

pytestmark = pytest.mark.browser

runner = CliRunner()


def distrib(*args: str, cwd: Path) -> tuple[int, str]:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        result = runner.invoke(app, list(args))
    finally:
        os.chdir(old)
    return result.exit_code, result.output


def _open_received(data: bytes, folder: Path) -> tuple[Path, list[str]]:
    """Write the received HTML part with each ``cid:`` resolved to its part's bytes; return it
    and the Content-IDs the HTML names, in order."""
    message = parse(data)
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    named = [s.split('"')[0].removeprefix("cid:") for s in html.split('src="')[1:]]
    assert not list(message.iter_attachments())  # the image is not an attachment any more
    for part in message.walk():
        content_id = part["Content-ID"]
        if content_id is None:
            continue
        assert part.get_content_disposition() == "inline"
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        url = f"data:{part.get_content_type()};base64,{base64.b64encode(payload).decode()}"
        html = html.replace(f'src="cid:{content_id.strip("<>")}"', f'src="{url}"')
    page = folder / "message.html"
    page.write_text(html, encoding="utf-8")
    return page, named


def _look(browser: Any, page_path: Path, screenshot: Path) -> dict[str, Any]:
    page = browser.new_page(viewport={"width": 900, "height": 1400})
    try:
        page.goto(page_path.as_uri())
        page.screenshot(path=str(screenshot), full_page=True)
        return dict(
            page.evaluate(
                """() => ({
                h1: [...document.querySelectorAll('h1')].map(e => e.innerText.trim()),
                h2: [...document.querySelectorAll('h2')].map(e => e.innerText.trim()),
                items: [...document.querySelectorAll('.content li')].map(e => e.innerText.trim()),
                cells: [...document.querySelectorAll('.content td')].map(e => e.innerText.trim()),
                preheader: (document.querySelector('.preheader') || {}).textContent || '',
                images: [...document.querySelectorAll('img')].map(
                    i => ({data: i.getAttribute('src').startsWith('data:'),
                           width: i.naturalWidth})),
            })"""
            )
        )
    finally:
        page.close()


def test_from_word_to_the_inbox(
    tmp_path: Path,
    make_smtp_server: Callable[..., SMTPTestServer],
    screenshots_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    server = make_smtp_server()
    files = write_campaign(tmp_path / "c", port=server.port)
    release = files.folder / "release"
    for lang in ("fr", "en"):
        (release / f"{lang}.md").unlink()  # the helper's hand-written release
    french_docx(image=png_bytes(24, 16, (200, 30, 30))).save(tmp_path / "communique.docx")
    english_docx(image=png_bytes(24, 16, (10, 90, 200))).save(tmp_path / "release.docx")

    code, out = distrib(
        "release", "import", str(tmp_path / "communique.docx"), str(tmp_path / "release.docx"),
        cwd=files.folder,
    )  # fmt: skip
    assert code == 0, out
    assert "  created   release/fr.md" in out and "  created   release/en.md" in out
    code, out = distrib("preview", str(files.campaign), "--out", str(tmp_path / "p"), cwd=tmp_path)
    assert code == 0, out
    result = runner.invoke(app, ["send", str(files.campaign), "--yes"])
    assert result.exit_code == 0, (result.output, result.exception)
    # Only now: while Playwright's sync API is open, the sender's asyncio.run() cannot run.
    browser = request.getfixturevalue("browser")

    expected = {
        "sam.okafor@river.example": (
            "Winter Storefronts: $485,000 for our streets",
            ["What the program includes"],
            ["Six heated rest stops", "The Cèdres Market, every Saturday"],
            "images/en-1.png",
        ),
        "zoe.belanger@fleuve.example": (
            "Hiver en vitrine\u00a0: 485\u00a0000\u00a0$ pour nos rues",
            ["Ce que prévoit le programme"],
            ["Six haltes chauffées", "Le marché des Cèdres, chaque samedi",
             "Un passeport\u00a0: dix commerces"],
            "images/fr-1.png",
        ),
    }  # fmt: skip
    for address, (title, headings, items, image) in expected.items():
        (received,) = server.received_for(address)
        folder = tmp_path / "inbox" / address
        folder.mkdir(parents=True)
        page, named = _open_received(received.data, folder)
        assert len(named) == 1 and named[0].startswith("img.")  # the imported image, by cid:
        assert image in (files.folder / "release" / f"{image[7:9]}.md").read_text("utf-8")
        seen = _look(browser, page, screenshots_dir / f"import-e2e-{address.split('@')[0]}.png")
        assert seen["h1"] == [title]
        assert seen["h2"] == headings
        assert seen["items"][: len(items)] == items
        assert seen["images"] == [{"data": True, "width": 24}]  # decoded: the imported PNG
        if address.startswith("zoe"):  # the Word table, a table in the message
            assert seen["cells"][:2] == ["Haltes", "120\u00a0000\u00a0$"]
            # Word's subtitle is the release's summary: the inbox preheader.
            assert seen["preheader"].strip() == "Un programme pour animer les rues commerciales"
