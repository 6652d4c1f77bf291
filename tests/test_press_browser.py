"""What journalists and directors see, in real headless Chromium, on a desktop (1366 px) and a
phone (390 px): a French, an English and a bilingual message of the example release (built-in
templates, under embargo), the preview's index and served list, and the HTML report in English
and French.  Nothing may scroll sideways on the phone.  The screenshots are written to
test-artifacts/ (see docs/templates-and-preview.md, "Screenshots")."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from audit_helpers import PEOPLE, Clock, Person, add_run, open_log
from distrib.app import collect_preview, open_release, write_preview
from distrib.audit import report
from distrib.audit.html import render_html
from distrib.preview import PreviewSet
from distrib.web.preview_server import PreviewServer
from render_helpers import EXAMPLE_RELEASE, REPO

pytestmark = pytest.mark.browser

DESKTOP, PHONE = 1366, 390
FIRST = EXAMPLE_RELEASE.name
EMBARGO = "2099-03-01T09:00:00-05:00"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> PreviewSet:
    """The example campaign, its release under embargo, with distrib's built-in templates."""
    folder = tmp_path_factory.mktemp("example")
    shutil.copytree(REPO / "example", folder / "example")
    shutil.copytree(REPO / "lists", folder / "lists")
    release = folder / "example" / "releases" / FIRST
    for name in ("fr.md", "en.md"):
        text = (release / name).read_text(encoding="utf-8")
        (release / name).write_text(text.replace("---\n", f"---\nembargo: {EMBARGO}\n", 1))
    campaign = open_release(release)
    builtin = campaign.model_copy(update={"templates": REPO / "templates"})
    return collect_preview(builtin)


def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"{page.url}: {width} px wide in a {viewport}-px window"


def shoot(browser: Any, url: str, name: str, folder: Path) -> Iterator[Any]:
    """Open ``url`` at both widths; yield each page, then save it as ``name-WIDTH.png``."""
    for width in (DESKTOP, PHONE):
        page = browser.new_page(viewport={"width": width, "height": 900})
        try:
            page.goto(url)
            yield page
            no_sideways_scroll(page)
            page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
        finally:
            page.close()


def test_messages_on_a_desktop_and_a_phone(
    browser: Any, example: PreviewSet, tmp_path: Path, screenshots_dir: Path
) -> None:
    for language in ("fr", "en", "both"):
        entry = next(e for e in example.entries if e.language == language and e.contact.name)
        html = tmp_path / f"{language}.html"
        html.write_text(example.render(entry, sign=False).html, encoding="utf-8")
        for page in shoot(browser, html.as_uri(), f"message-{language}", screenshots_dir):
            # The preheader is for the inbox only; the embargo notice is the first thing seen.
            assert not page.locator(".preheader").is_visible()
            label = page.locator("p.label").first
            assert label.is_visible() and "EMBARGO" in label.inner_text()
            first_text = page.locator("td.content p").first.inner_text()
            if language == "both":
                assert first_text == "English follows"
                page.click("p.jump a")
                assert page.evaluate("location.hash") == "#en"
            else:
                assert "EMBARGO" in first_text


def test_the_preview_index_and_list_on_a_phone(
    browser: Any, example: PreviewSet, tmp_path: Path, screenshots_dir: Path
) -> None:
    written = write_preview(example, tmp_path / "preview")
    for page in shoot(browser, written.index.as_uri(), "preview-index", screenshots_dir):
        assert page.locator("tbody tr").count() == written.written
    server = PreviewServer(example).start()
    try:
        for page in shoot(browser, server.url, "preview-recipients", screenshots_dir):
            assert page.locator("tr.recipient").count() == len(example.entries)
        for page in shoot(browser, server.url + "problems", "preview-problems", screenshots_dir):
            assert page.locator("#blocking").is_visible()
    finally:
        server.stop()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_html_report_on_a_phone(
    browser: Any, language: str, tmp_path: Path, screenshots_dir: Path
) -> None:
    clock = Clock()
    crowd = [
        Person(f"journaliste{i}@media{i % 6}.example", f"Journaliste {i}", f"Média {i % 6}",
               "fr" if i % 3 else "en", "failed" if i % 23 == 5 else "sent")
        for i in range(40)
    ]  # fmt: skip
    with open_log(tmp_path / "distrib-log.sqlite", clock) as log:
        run = add_run(log, clock, [*PEOPLE, *crowd], rate=4, spacing=0.22)
        target = tmp_path / "report.html"
        target.write_text(render_html(report(log, run), language=language), encoding="utf-8")
    for page in shoot(browser, target.as_uri(), f"report-{language}", screenshots_dir):
        page.click("#recipients summary")  # the recipients open on a click, without a script
        assert page.locator("table.recipients tbody tr").first.is_visible()
        assert page.locator("html").get_attribute("lang") == language
