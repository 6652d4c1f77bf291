"""`distrib ui` in headless Chromium: every page at 1366 and 390 pixels (screenshots in
test-artifacts/), axe-core's accessibility rules, the keyboard, and markup from contact data
and received files that never runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from audit_helpers import Clock, Person, add_run, open_log
from campaign_helpers import CampaignFiles, write_campaign
from distrib.app import add_account
from distrib.optout import unsubscribe_addresses
from test_unsubscribe_server import axe_serious
from web_helpers import TOKEN, ui_server

pytestmark = pytest.mark.browser

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(2)>'
WIDTHS = ((1366, 768), (390, 844))
HTML_PAGE = (
    b"<!doctype html><html><body><h1>Communiqu\xc3\xa9</h1><p id=p>texte</p>"
    b"<script>document.getElementById('p').textContent='RAN';parent.alert('escaped')</script>"
    b"<form action=https://evil.example><input name=q></form></body></html>"
)


@pytest.fixture
def workspace(tmp_path: Path) -> CampaignFiles:
    files = write_campaign(tmp_path / "ws", port=25)
    clock = Clock()
    with open_log(files.log, clock) as log:
        people = [
            Person("zoe@fleuve.example", HOSTILE, HOSTILE, "fr"),
            Person("sam@river.example", "Sam", "The Daily River", "en"),
        ]
        add_run(log, clock, people, campaign=HOSTILE)
        add_run(log, clock, people, campaign="quays")
        unsubscribe_addresses(log, ["zoe@fleuve.example"], note=HOSTILE)
    return files


class Visit:
    """One browser page on the server, recording dialogs (an alert means markup ran)."""

    def __init__(self, browser: Any, base: str, width: int, height: int, **context: Any) -> None:
        context.setdefault("locale", "fr-CA")  # the browser's language: the interface's default
        self.context = browser.new_context(viewport={"width": width, "height": height}, **context)
        self.page = self.context.new_page()
        self.base = base
        self.width = width
        self.dialogs: list[str] = []
        self.page.on(
            "dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss())
        )

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path.lstrip("/"))

    def shoot(self, folder: Path, name: str) -> list[str]:
        """Screenshot, then the page's serious and critical axe violations."""
        self.page.screenshot(path=str(folder / f"ui-{name}-{self.width}.png"), full_page=True)
        return axe_serious(self.page)

    def close(self) -> None:
        self.context.close()


def test_every_page_at_both_widths_is_accessible_and_inert(
    workspace: CampaignFiles, browser: Any, screenshots_dir: Path, tmp_path: Path
) -> None:
    list_file = tmp_path / f"{HOSTILE.replace('/', '')}.csv"
    list_file.write_bytes(b"email\nzoe@fleuve.example\n")
    page_file = tmp_path / "communique.html"
    page_file.write_bytes(HTML_PAGE)
    disguised = tmp_path / "contacts.xlsx"
    disguised.write_bytes(b"#!/bin/sh\necho pwned\n")
    violations: dict[str, list[str]] = {}
    with ui_server(workspace.campaign) as server:
        for width, height in WIDTHS:
            visit = Visit(browser, server.url(), width, height)
            denied = visit.go("/")
            assert denied.status == 401
            violations[f"denied-{width}"] = visit.shoot(screenshots_dir, "denied")
            visit.go(f"/?token={TOKEN}")
            assert "token" not in visit.page.url  # the key left the address bar
            violations[f"home-{width}"] = visit.shoot(screenshots_dir, "home")
            assert HOSTILE in visit.page.inner_text("main")  # shown, as text

            visit.go("/uploads")
            visit.page.set_input_files("#file", str(list_file))
            visit.page.get_by_role("button", name="Déposer").click()
            visit.page.wait_for_url("**/uploads")
            visit.page.set_input_files("#file", str(page_file))
            visit.page.get_by_role("button", name="Déposer").click()
            visit.page.wait_for_url("**/uploads")
            violations[f"uploads-{width}"] = visit.shoot(screenshots_dir, "uploads")

            visit.page.get_by_role("link", name="Voir communique.html").last.click()
            frame_element = visit.page.locator("iframe")
            assert frame_element.get_attribute("sandbox") == ""
            frame = visit.page.frame_locator("iframe")
            assert frame.locator("#p").inner_text() == "texte"  # its script never ran
            violations[f"frame-{width}"] = visit.shoot(screenshots_dir, "received-page")

            visit.go("/uploads")
            visit.page.set_input_files("#file", str(disguised))
            visit.page.get_by_role("button", name="Déposer").click()
            assert "n’est pas un classeur Excel" in visit.page.inner_text("main")
            violations[f"refused-{width}"] = visit.shoot(screenshots_dir, "refused")

            visit.go("/nowhere")
            violations[f"not-found-{width}"] = visit.shoot(screenshots_dir, "not-found")

            with visit.page.expect_navigation():
                visit.page.get_by_role("button", name="English").click()
            assert "Home" in visit.page.inner_text("nav")
            visit.go("/")
            violations[f"home-en-{width}"] = visit.shoot(screenshots_dir, "home-en")
            assert visit.dialogs == []  # no markup from data or files ran anywhere
            scripts = visit.page.eval_on_selector_all("script", "s => s.map(e => e.src)")
            assert scripts == [f"{server.url()}static/app.js"]
            visit.close()
    assert violations == {name: [] for name in violations}


def test_the_sign_in_page_of_a_team_server(
    workspace: CampaignFiles, browser: Any, screenshots_dir: Path
) -> None:
    add_account(workspace.folder / "users.toml", "camille", "correct horse battery")
    violations: dict[str, list[str]] = {}
    with ui_server(workspace.campaign, team=True) as server:
        for width, height in WIDTHS:
            visit = Visit(browser, server.url(), width, height, locale="en-CA")
            visit.go("/")
            assert visit.page.url.endswith("/login")
            violations[f"login-{width}"] = visit.shoot(screenshots_dir, "login")
            visit.page.get_by_label("Account name").fill("camille")
            visit.page.get_by_label("Password").fill("correct horse battery")
            visit.page.get_by_role("button", name="Sign in").click()
            visit.page.wait_for_url(server.url())
            assert "Sign out (camille)" in visit.page.inner_text("header")
            visit.close()
    assert violations == {name: [] for name in violations}


def test_the_keyboard_reaches_everything_with_a_visible_focus(
    workspace: CampaignFiles, browser: Any
) -> None:
    with ui_server(workspace.campaign) as server:
        visit = Visit(browser, server.url(), 1366, 768)
        visit.go(f"/?token={TOKEN}")
        page = visit.page
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid"
        page.keyboard.press("Enter")  # an in-page link: no navigation
        assert page.evaluate("document.activeElement.id") == "main"
        reached = []
        visit.go("/")  # from the top of the page again
        for _ in range(12):
            page.keyboard.press("Tab")
            reached.append(page.evaluate("document.activeElement.textContent.trim()"))
        assert {"Accueil", "Fichiers reçus", "Français", "English"} <= set(reached)
        # The language switch works from the keyboard.
        while page.evaluate("document.activeElement.textContent.trim()") != "English":
            page.keyboard.press("Tab")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.evaluate("document.documentElement.lang") == "en"
        visit.close()
