"""The preview, test send, send, Stop/Resume and report pages of `distrib ui` in headless
Chromium, in French and in English: a real SMTP server, a real SQLite log, a contact whose name
is markup (shown as text, never run).  The send is held at a message by the SMTP server (an
event), never by time.  These pages are photographed at both widths and checked with axe-core
by the officer's journeys (`test_web_journeys.py`), which go through each of them."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from distrib import app as verbs
from smtp_server import SMTPTestServer
from test_web_sending import EVERYONE, HOSTILE, ws  # noqa: F401 - the workspace fixture
from web_helpers import TOKEN, ui_server
from workspace_helpers import FIRST, WorkspaceFiles

pytestmark = pytest.mark.browser

WORDS = {
    "fr": {"send": "Envoyer à", "stop": "Arrêter", "resume": "Reprendre l’envoi 2",
           "test": "Envoyer le test", "report": "Ouvrir le rapport de l’envoi 2"},
    "en": {"send": "Send to", "stop": "Stop", "resume": "Resume run 2",
           "test": "Send the test", "report": "Open the report of run 2"},
}  # fmt: skip


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_preview_test_send_send_reload_stop_resume_and_report(
    lang: str,
    ws: WorkspaceFiles,  # noqa: F811
    smtp_server: SMTPTestServer,
    browser: Any,
) -> None:
    words = WORDS[lang]
    # One connection: while the third message is held nothing else leaves, so the Stop lands
    # before the end whatever the machine's speed (a second connection would race it).
    settings = ws.root / "distrib.toml"
    settings.write_text(settings.read_text().replace("connections = 2", "connections = 1"))
    reached, go = threading.Event(), threading.Event()
    with ui_server(ws.root, typed_confirmation=5) as server:
        context = browser.new_context(locale="fr-CA" if lang == "fr" else "en-CA")
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        base = server.url()
        page.goto(f"{base}?token={TOKEN}")

        page.goto(f"{base}releases/{FIRST}/preview")
        page.locator("p.notice").wait_for()  # the background check ended (the page reloaded)
        assert HOSTILE in page.inner_text("main")  # the name, shown as text
        page.get_by_role("link", name="Sam Okafor").click()
        assert page.locator("iframe").get_attribute("sandbox") == ""
        assert "Subject" in page.inner_text("table.headers")

        page.goto(f"{base}releases/{FIRST}/test")
        page.locator("#to").fill("officer@desk.example")
        page.locator("#as").fill("zoe@fleuve.example")
        page.get_by_role("button", name=words["test"]).click()
        page.locator("p.notice").wait_for()
        assert [m.rcpt_tos for m in smtp_server.messages] == [("officer@desk.example",)]

        smtp_server.script("DOT", skip=2, times=1, action=lambda _: reached.set(), hold=go)
        page.goto(f"{base}releases/{FIRST}/send")
        page.locator("#confirm").fill(str(len(EVERYONE)))
        page.get_by_role("button", name=words["send"]).click()
        page.wait_for_url("**/send")
        assert reached.wait(30)
        page.reload()  # mid-send: the page finds the send again and follows it live
        assert page.locator("[data-reload-on-end]").count() == 1
        assert page.inner_text('[data-field="run"]') == "2"
        page.get_by_role("button", name=words["stop"]).click()
        page.locator('[data-field="status"]').filter(has_text="stopping").wait_for()
        go.set()  # the stop is asked: the held message may finish
        resume = page.get_by_role("button", name=words["resume"])
        resume.wait_for()  # the run stopped; the page reloaded itself
        resume.click()
        page.get_by_role("link", name=words["report"]).wait_for()
        page.locator("p.notice").wait_for()  # finished: every message was sent

        page.get_by_role("link", name=words["report"]).click()
        assert page.locator("iframe").get_attribute("sandbox") == ""
        assert HOSTILE in page.inner_text("main")
        with page.expect_download() as download:
            page.get_by_role("link", name="CSV").click()
        assert download.value.suggested_filename == "run-2.csv"
        page.goto(f"{base}runs")
        assert dialogs == []
        context.close()
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages if m.accepted)
    assert received == Counter({**dict.fromkeys(EVERYONE, 1), "officer@desk.example": 1})
    with verbs.open_log(ws.root, read_only=True) as log:
        assert verbs.run_report(log, 2).by_state == {"sent": len(EVERYONE)}
