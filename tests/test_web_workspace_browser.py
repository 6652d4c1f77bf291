"""The workspace's own pages of `distrib ui` in headless Chromium: each page in French and in
English at 1366 and 390 pixels (screenshots in test-artifacts/), axe-core's serious and
critical rules, the live preview of a release's body and the live audience count, and markup
from contact data, file names and release titles that never runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from test_web_browser import WIDTHS, Visit
from web_helpers import TOKEN, ui_server
from workspace_helpers import FIRST, write_workspace

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
PAGES = (
    ("settings", "/settings"),
    ("lists", "/lists"),
    ("suppression", "/suppression"),
    ("releases", "/releases"),
    ("release", f"/releases/{FIRST}/text/fr"),
    ("audience", f"/releases/{FIRST}/audience"),
    ("journalist", "/journalists/zoe@fleuve.example"),
    ("relay-login", "/settings/relay-login"),
)


def test_every_workspace_page_is_accessible_inert_and_bilingual(
    tmp_path: Path, browser: Any, screenshots_dir: Path
) -> None:
    ws = write_workspace(tmp_path / "ws", port=25)
    release = ws.release(FIRST) / "fr.md"
    release.write_text(
        release.read_text(encoding="utf-8").replace("title:", f"title: {HOSTILE}", 1),
        encoding="utf-8",
    )
    medias = ws.root / "medias.csv"
    medias.write_bytes(medias.read_bytes().replace("Bélanger".encode("cp1252"), HOSTILE.encode()))
    violations: dict[str, list[str]] = {}
    with ui_server(ws.file) as server:
        for width, height in WIDTHS:
            for locale, lang in (("fr-CA", "fr"), ("en-CA", "en")):
                visit = Visit(browser, server.url(), width, height, locale=locale)
                visit.go(f"/?token={TOKEN}")
                for name, path in PAGES:
                    answer = visit.go(path)
                    assert answer.status == 200, (path, answer.status)
                    assert visit.page.evaluate("document.documentElement.lang") == lang
                    suffix = "" if lang == "fr" else "-en"
                    violations[f"{name}{suffix}-{width}"] = visit.shoot(
                        screenshots_dir, f"{name}{suffix}"
                    )
                assert visit.dialogs == []  # no markup from data ran anywhere
                visit.close()
    assert violations == {name: [] for name in violations}


def test_the_body_preview_and_the_audience_count_follow_the_form(
    tmp_path: Path, browser: Any
) -> None:
    ws = write_workspace(tmp_path / "ws", port=25)
    with ui_server(ws.file) as server:
        visit = Visit(browser, server.url(), 1366, 768, locale="en-CA")
        visit.go(f"/?token={TOKEN}")
        visit.go(f"/releases/{FIRST}/text/en")
        page = visit.page
        page.get_by_label("Text (Markdown)").fill(
            "A *fresh* start <script>parent.alert(1)</script>"
        )
        frame = page.frame_locator("#body-preview")
        frame.locator("em").wait_for()
        assert frame.locator("em").inner_text() == "fresh"
        assert page.locator("#body-preview").get_attribute("sandbox") == ""

        visit.go(f"/releases/{FIRST}/audience")
        merged = page.locator("#audience-count .merged").inner_text()
        assert page.locator("#audience-count .kept").inner_text() == merged
        page.get_by_role("group", name="Only: Beat").get_by_label("Culture", exact=True).check()
        page.locator("#audience-count tbody tr").first.wait_for()
        rule = page.locator("#audience-count tbody td").first.inner_text()
        assert "Culture" in rule
        kept = int(page.locator("#audience-count .kept").inner_text())
        assert 0 < kept < int(merged)
        assert visit.dialogs == []
        visit.close()
