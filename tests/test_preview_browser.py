"""The served preview in real headless Chromium: every recipient, filters, a message opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distrib.preview import PreviewSet
from distrib.web.preview_server import PreviewServer
from preview_helpers import preview_set

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PreviewServer]:
    collected: PreviewSet = preview_set(tmp_path)
    running = PreviewServer(collected).start()
    yield running
    running.stop()


def test_recipients_filters_and_a_message_in_chromium(
    browser: Any, server: PreviewServer, screenshots_dir: Path
) -> None:
    entries = server.preview.entries
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(server.url)
        rows = page.locator("tr.recipient")
        assert rows.count() == len(entries) == 7
        shown = set(page.locator("td.address").all_inner_texts())
        assert shown == {e.contact.address for e in entries}
        page.screenshot(path=str(screenshots_dir / "preview-recipients.png"), full_page=True)

        # Search by name, then filter by language: the page reloads with the matches only.
        page.fill("#q", "okafor")
        page.click("#apply")
        page.wait_for_url("**/?q=okafor*")
        assert page.locator("td.address").all_inner_texts() == ["sam.okafor@river.example"]
        page.fill("#q", "")
        page.select_option("#lang", "both")
        page.click("#apply")
        page.wait_for_url("**lang=both*")
        assert page.locator("td.address").all_inner_texts() == ["lea@deuxrives.example"]

        # Open the bilingual message: the HTML part shows in its sandboxed iframe.
        page.click("text=Léa Roy")
        page.wait_for_url("**/message/*")
        frame = page.frame_locator("#html-part")
        frame.locator("text=Bonjour Léa,").wait_for()
        assert frame.locator("text=Hello Léa,").count() == 1
        assert page.locator("#html-part").get_attribute("sandbox") == ""
        assert "Bonjour Léa," in page.locator("#text-part").inner_text()
        assert page.locator("#headers").inner_text().count("Content-Language") == 1
        page.screenshot(path=str(screenshots_dir / "preview-message.png"), full_page=True)

        # The problems view names the contact whose message cannot be rendered.
        page.click("#problems-link")
        page.wait_for_url("**/problems")
        assert "remi@radiotest.example" in page.locator("#blocking").inner_text()
        page.screenshot(path=str(screenshots_dir / "preview-problems.png"), full_page=True)
    finally:
        page.close()
