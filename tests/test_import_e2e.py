"""From Word to the journalists' inboxes: import a .docx per language, preview, send, look.

The received HTML is opened in headless Chromium and compared by content (headings, list items,
images), not pixels.  distrib does not yet embed body images as ``multipart/related`` parts with
``cid:`` references (issue 13): today an imported image travels as an attachment and the body's
``<img src="images/en-1.png">`` names it.  The test resolves each ``src`` to the message's own
attachment of that name — what a ``cid:`` reference will do — so the check is that the image
arrives and is the one the body points at.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath
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


def _open_received(data: bytes, folder: Path) -> Path:
    """Write the received HTML part and, beside it, each attachment its <img> names."""
    message = parse(data)
    html_part = message.get_body(("html",))
    assert html_part is not None
    html = str(html_part.get_content())
    for part in message.iter_attachments():
        filename = part.get_filename()
        assert filename is not None and "/" not in filename
        for src in {s.split('"')[0] for s in html.split('src="')[1:]}:
            if PurePosixPath(src).name == filename:
                path = folder / PurePosixPath(src)
                path.parent.mkdir(parents=True, exist_ok=True)
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                path.write_bytes(payload)
    page = folder / "message.html"
    page.write_text(html, encoding="utf-8")
    return page


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
                images: [...document.querySelectorAll('img')].map(
                    i => ({src: i.getAttribute('src'), width: i.naturalWidth})),
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
        page = _open_received(received.data, folder)
        seen = _look(browser, page, screenshots_dir / f"import-e2e-{address.split('@')[0]}.png")
        assert seen["h1"] == [title]
        assert seen["h2"] == headings
        assert seen["items"][: len(items)] == items
        assert [i["src"] for i in seen["images"]] == [image]
        assert seen["images"][0]["width"] == 24  # the PNG decoded: it is the imported image
