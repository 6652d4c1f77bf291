"""`distrib ui` on a folder without a workspace: every page leads to the new workspace's form,
which writes the workspace through `distrib.app.start_workspace` (nothing when a field is
wrong, each field named), then the home page; from the command line and in Chromium."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from distrib.app import load_campaign, workspace_file
from test_web_browser import Visit
from test_web_cli import distrib_ui
from web_helpers import TOKEN, csrf_of, signed_in, ui_server

HOSTILE = '<script>alert("x")</script>'


def _form(client: httpx.Client, **values: str) -> dict[str, str]:
    form = {
        "csrf": csrf_of(client.get("/setup").text),
        "organisation": "Coopérative des Quais",
        "name": "Service de presse",
        "address": "presse@quais.example",
        "time_zone": "Europe/Paris",
        "language": "en",
    }
    return {**form, **values}


@pytest.mark.parametrize("made", [False, True], ids=["missing-folder", "empty-folder"])
def test_a_folder_without_a_workspace_is_created_from_the_form(tmp_path: Path, made: bool) -> None:
    folder = tmp_path / "bureau"
    if made:
        folder.mkdir()
    with ui_server(folder, setup=True) as server:
        client = signed_in(server)
        for path in ("/", "/settings", "/lists", "/releases", "/runs"):
            answer = client.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/setup", path
        for lang, title in (("fr", "Nouvel espace de travail"), ("en", "New workspace")):
            client.post("/lang", data={"csrf": csrf_of(client.get("/setup").text), "lang": lang})
            page = client.get("/setup")
            assert page.status_code == 200 and title in page.text
            assert f'<html lang="{lang}">' in page.text
            assert 'href="/settings"' not in page.text  # no menu of pages that do not exist yet

        assert client.post("/setup", data={**_form(client), "csrf": ""}).status_code == 403
        wrong = client.post(
            "/setup", data=_form(client, address="nobody", time_zone="Mars/Olympus", name="")
        )
        assert wrong.status_code == 400
        for field in ("sender.address", "timezone", "sender.name"):
            assert field in wrong.text
        assert not (folder / "distrib.toml").exists()  # nothing written

        made_answer = client.post("/setup", data=_form(client, organisation=HOSTILE))
        assert made_answer.status_code == 303 and made_answer.headers["location"] == "/"
        home = client.get("/")
        assert home.status_code == 200
        assert "&lt;script&gt;alert" in home.text and HOSTILE not in home.text
        assert client.get("/setup").headers["location"] == "/"  # once only
        assert client.get("/settings").status_code == 200

    saved = tomllib.loads((folder / "distrib.toml").read_text(encoding="utf-8"))
    assert saved["timezone"] == "Europe/Paris" and saved["default_language"] == "en"
    assert "reply_to" not in saved["sender"]  # not the starter's example address
    campaign = load_campaign(workspace_file(folder))
    assert campaign.sender.organisation == HOSTILE
    assert campaign.sender.address == "presse@quais.example"


def test_a_folder_with_a_workspace_is_not_offered_for_creation(tmp_path: Path) -> None:
    from distrib.app import start_workspace, workspace_to_create

    assert workspace_to_create(tmp_path / "new") == tmp_path / "new"
    assert workspace_to_create(tmp_path) == tmp_path
    assert workspace_to_create(tmp_path / "typo.toml") is None  # a file name: reported as missing
    start_workspace(tmp_path)
    assert workspace_to_create(tmp_path) is None


def test_distrib_ui_on_an_empty_folder_offers_to_create_it(tmp_path: Path) -> None:
    (tmp_path / "vide").mkdir()
    with distrib_ui("vide", cwd=tmp_path) as (_process, lines):
        assert "no workspace in vide yet" in lines[0], lines
        found = re.search(r"Open (http://127\.0\.0\.1:\d+/)\?token=([\w-]{43})", lines[1])
        assert found is not None, lines
        with httpx.Client(base_url=found.group(1)) as client:
            client.get(f"/?token={found.group(2)}")
            answer = client.get("/", follow_redirects=True)
            assert answer.status_code == 200 and 'action="/setup"' in answer.text


def test_a_team_server_does_not_create_a_workspace(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from distrib.cli import app as cli

    result = CliRunner().invoke(cli, ["ui", str(tmp_path), "--team", "--no-browser"])
    assert result.exit_code == 2
    assert "no workspace here" in " ".join(result.output.split())
    assert not (tmp_path / "distrib.toml").exists()


@pytest.mark.browser
def test_creating_a_workspace_in_the_browser_lands_on_the_home_page(
    tmp_path: Path, browser: Any, screenshots_dir: Path
) -> None:
    folder = tmp_path / "bureau"
    with ui_server(folder, setup=True) as server:
        visit = Visit(browser, server.url(), 1366, 768, locale="fr-CA")
        visit.go(f"/?token={TOKEN}")
        page = visit.page
        assert page.url.endswith("/setup")
        violations = visit.shoot(screenshots_dir, "setup")
        page.get_by_label("Organisation").fill(HOSTILE)
        page.get_by_label("Nom de l’expéditeur").fill("Service de presse")
        page.get_by_label("Adresse de l’expéditeur").fill("presse@quais.example")
        page.get_by_role("button", name="Créer l’espace de travail").click()
        page.wait_for_url(server.url())
        assert HOSTILE in page.inner_text("main")  # shown, as text
        assert visit.dialogs == []
        visit.close()
    assert violations == []
    assert workspace_file(folder) == folder / "distrib.toml"
