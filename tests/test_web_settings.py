"""The settings page's relay check ("Test the connection", `distrib.app.relay_check`) against
real local SMTP servers, one that passes and one that refuses the sign-in, and the logo upload,
which points ``[press] logo`` at the stored image so that every message (the preview's first)
shows it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from import_helpers import png_bytes
from smtp_server import SMTPTestServer
from web_helpers import csrf_of, signed_in, ui_server
from workspace_helpers import FIRST, write_workspace

PASSWORD = "wrong-secret-value-never-shown"


def _steps(page: str) -> dict[str, tuple[str, str]]:
    """The relay check's table: step name -> (status, detail)."""
    row = r'<tr class="step-(\w+)" data-step="(\w+)"><td>[^<]*</td><td[^>]*>[^<]*</td>'
    rows = re.findall(row + r"<td>([^<]*)</td>", page)
    return {name: (status, detail) for status, name, detail in rows}


def test_test_the_connection_shows_each_step_of_a_relay_that_passes(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    ws = write_workspace(tmp_path / "ws", port=smtp_server.port)
    with ui_server(ws.file) as server:
        client = signed_in(server)
        page = client.get("/settings").text
        assert 'action="/settings/relay-check"' in page
        answer = client.post("/settings/relay-check", data={"csrf": csrf_of(page)})
        assert answer.status_code == 200, answer.text
        steps = _steps(answer.text)
        assert steps["connect"][0] == "ok" and f"127.0.0.1:{smtp_server.port}" in answer.text
        assert "failed" not in {status for status, _detail in steps.values()}
        assert "The relay is ready" in answer.text or "Le relais est prêt" in answer.text
        assert client.post("/settings/relay-check", data={}).status_code == 403  # CSRF
    assert smtp_server.messages == []  # nothing was sent


def test_test_the_connection_says_plainly_that_the_sign_in_was_refused(
    tmp_path: Path,
    make_smtp_server: Callable[..., SMTPTestServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    relay = make_smtp_server(tls="starttls", users={"presse": "right"}, auth_required=True)
    ws = write_workspace(tmp_path / "ws", port=relay.port)
    assert relay.tls_files is not None
    text = ws.file.read_text(encoding="utf-8").replace(
        'security = "none"',
        f'security = "starttls"\nusername = "presse"\npassword_env = "QUAYS_PW"\n'
        f'ca_file = "{relay.tls_files.ca_file}"',
    )
    ws.file.write_text(text, encoding="utf-8")
    monkeypatch.setenv("QUAYS_PW", PASSWORD)
    with ui_server(ws.file) as server:
        client = signed_in(server)
        client.post("/lang", data={"csrf": csrf_of(client.get("/").text), "lang": "en"})
        page = client.get("/settings").text
        answer = client.post("/settings/relay-check", data={"csrf": csrf_of(page)})
        assert answer.status_code == 200, answer.text
        steps = _steps(answer.text)
        assert steps["tls"][0] == "ok"
        assert steps["auth"][0] == "failed" and "535" in steps["auth"][1], steps
        assert "A send would stop here" in answer.text
        assert PASSWORD not in answer.text
    assert relay.messages == []


def test_the_logo_upload_writes_the_settings_and_the_preview_shows_it(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", port=25)
    with ui_server(ws.file) as server:
        client = signed_in(server)
        page = client.get("/settings").text
        answer = client.post(
            "/settings/logo",
            data={"csrf": csrf_of(page), "logo_alt": "Les Quais", "logo_width": "120"},
            files={"file": ("../logo quais.png", png_bytes(40, 20), "image/png")},
        )
        assert answer.status_code == 303, answer.text
        press = tomllib.loads(ws.file.read_text(encoding="utf-8"))["press"]
        assert re.fullmatch(r"uploads/[0-9a-f]{32}\.png", press["logo"]), press
        assert (press["logo_alt"], press["logo_width"]) == ("Les Quais", 120)
        assert (ws.root / press["logo"]).read_bytes() == png_bytes(40, 20)
        assert press["logo"] in client.get("/settings").text

        # Saving the other settings keeps the logo (the form does not carry its keys).
        form = {"csrf": csrf_of(page), "sender.name": "Presse des Quais"}
        assert client.post("/settings", data=form).status_code == 303
        assert tomllib.loads(ws.file.read_text(encoding="utf-8"))["press"]["logo"] == press["logo"]

        message = client.get(f"/releases/{FIRST}/preview/1")
        assert message.status_code == 200, message.text
        frame = re.search(r'<iframe[^>]* src="(/frame/[^"]+)"', message.text)
        assert frame is not None, message.text
        html = client.get(frame.group(1)).text
        logo = re.search(r"<img[^>]*>", html)
        assert logo is not None and 'src="cid:' in logo.group(0), html[:2000]
        assert 'alt="Les Quais"' in logo.group(0) and "120" in logo.group(0)

        # A width out of bounds is refused with the key named; nothing is written.
        before = ws.file.read_bytes()
        wrong = client.post(
            "/settings/logo",
            data={"csrf": csrf_of(page), "logo_width": "5000"},
            files={"file": ("logo.png", png_bytes(), "image/png")},
        )
        assert wrong.status_code == 400 and "logo_width" in wrong.text
        assert ws.file.read_bytes() == before
        assert len(list((ws.root / "uploads").glob("*.png"))) == 1  # the refused one removed


def test_remove_the_logo_takes_its_keys_away_and_messages_go_without(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", port=25)
    with ui_server(ws.file) as server:
        client = signed_in(server)
        client.post("/lang", data={"csrf": csrf_of(client.get("/").text), "lang": "en"})
        answer = client.post(
            "/settings/logo",
            data={"csrf": csrf_of(client.get("/settings").text), "logo_alt": "Les Quais"},
            files={"file": ("logo.png", png_bytes(40, 20), "image/png")},
        )
        assert answer.status_code == 303, answer.text
        page = client.get("/settings").text
        assert 'action="/settings/logo/remove"' in page and "Remove the logo" in page
        removed = client.post("/settings/logo/remove", data={"csrf": csrf_of(page)})
        assert removed.status_code == 303, removed.text
        settings = tomllib.loads(ws.file.read_text(encoding="utf-8"))
        assert not {"logo", "logo_alt", "logo_width"} & set(settings.get("press", {}))
        page = client.get(removed.headers["location"]).text
        assert "The logo was removed" in page and "Remove the logo" not in page

        message = client.get(f"/releases/{FIRST}/preview/1")
        frame = re.search(r'<iframe[^>]* src="(/frame/[^"]+)"', message.text)
        assert frame is not None, message.text
        assert "<img" not in client.get(frame.group(1)).text
        # Without its CSRF token the button's form is refused, as every form.
        assert client.post("/settings/logo/remove").status_code == 403


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://désabonnement.quais.example/u/{token}", "xn--dsabonnement-beb.quais.example"),
        ("https://quais.example/se désabonner/{token}", "spaces"),
        ("https://quais.example/u/\x01{token}", "control character"),
        ("https://quais.example/u/\u00e9{token}", "ASCII"),
    ],
)
def test_the_settings_refuse_an_unsubscribe_link_that_no_message_could_carry(
    tmp_path: Path, url: str, reason: str
) -> None:
    """What the renderer would refuse in every message's List-Unsubscribe is refused at save,
    with the key named, by the same rule (`distrib.config.unsubscribe_url_problem`)."""
    from distrib.render.unsubscribe import check_url

    ws = write_workspace(tmp_path / "ws", port=25)
    before = ws.file.read_bytes()
    with ui_server(ws.file) as server:
        client = signed_in(server)
        form = {"csrf": csrf_of(client.get("/settings").text), "sender.unsubscribe_url": url}
        answer = client.post("/settings", data=form)
        assert answer.status_code == 400, answer.text
        assert "unsubscribe_url" in answer.text and reason in answer.text, answer.text
        assert ws.file.read_bytes() == before
        fixed = url.replace("désabonnement", "desabonnement").replace("se désabonner", "stop")
        fixed = fixed.replace("\x01", "").replace("\u00e9", "")
        form["sender.unsubscribe_url"] = fixed
        assert client.post("/settings", data=form).status_code == 303
    assert tomllib.loads(ws.file.read_text(encoding="utf-8"))["sender"]["unsubscribe_url"] == fixed
    assert check_url(url) is not None and check_url(fixed) is None  # the renderer's check


def test_sign_in_to_the_relay_from_the_settings_page(
    tmp_path: Path, token_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relay that signs in with OAuth2 (Microsoft 365's device code, against the local token
    service): the settings page offers "Sign in to the relay", the next page shows the address
    to open and the code, follows the sign-in, and says where it is kept (the file a send
    reads, 0600); no token appears in any page."""
    import stat
    import time

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = token_server.state.signed_in_as
    ws = write_workspace(tmp_path / "ws", port=25)
    ca = token_server.ca_file
    oauth = (
        f'preset = "microsoft365"\nauth = "oauth2"\nusername = "{user}"\n'
        f'oauth = {{ tenant = "agapc", client_id = "c0ffee", authority_host = '
        f'"{token_server.base}", ca_file = "{ca}" }}\n'
    )
    text = ws.file.read_text(encoding="utf-8").replace("[smtp]\n", f"[smtp]\n{oauth}", 1)
    ws.file.write_text(text.replace('security = "none"', 'security = "starttls"'), "utf-8")
    pages: list[str] = []

    def follow(until: str) -> str:
        """The sign-in page, read again (as its refresh does) until it says ``until``."""
        for _ in range(600):  # a guard against a hung test, not a timing assertion
            page = client.get("/settings/relay-login").text
            pages.append(page)
            if until in page:
                return page
            time.sleep(0.1)
        raise AssertionError(page)

    with ui_server(ws.file) as server:
        client = signed_in(server)
        client.post("/lang", data={"csrf": csrf_of(client.get("/").text), "lang": "en"})
        settings = client.get("/settings").text
        assert 'action="/settings/relay-login"' in settings
        assert client.post("/settings/relay-login", data={}).status_code == 403  # CSRF
        answer = client.post("/settings/relay-login", data={"csrf": csrf_of(settings)})
        assert answer.status_code == 303 and answer.headers["location"] == "/settings/relay-login"
        waiting = follow('id="sign-in-code"')
        assert 'href="https://microsoft.com/devicelogin"' in waiting
        assert 'http-equiv="refresh"' in waiting  # the page follows the sign-in by itself
        assert re.search(r'id="sign-in-code">AGPC[0-9A-F]{4}<', waiting)
        token_server.approve()  # the officer signs in at the address shown
        done = follow("Signed in as")
        assert 'http-equiv="refresh"' not in done
    (kept,) = list((tmp_path / "xdg" / "distrib" / "tokens").iterdir())
    assert f"Signed in as {user}. The sign-in is kept in {kept}" in done
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    secrets = list(token_server.state.access) + list(token_server.state.refresh)
    assert secrets and not any(s in page for s in secrets for page in pages)


def test_a_relay_with_a_password_offers_no_sign_in(tmp_path: Path) -> None:
    ws = write_workspace(tmp_path / "ws", port=25)
    with ui_server(ws.file) as server:
        client = signed_in(server)
        assert 'action="/settings/relay-login"' not in client.get("/settings").text
        page = client.get("/settings/relay-login").text
        assert "No sign-in under way" in page or "Aucune connexion en cours" in page
