"""The press officer's whole journey in `distrib ui`, in headless Chromium, once with the
interface in French and once in English: from an empty folder to a second release that skips
the journalist who unsubscribed from the first.

Real parts: Debian's Chromium (Playwright), a real SMTP server (aiosmtpd on 127.0.0.1), the
delivery log a real SQLite file, the one-click unsubscribe server (`distrib
unsubscribe-server`'s application) on the same workspace.  What the SMTP server received and
what the log holds are checked, not only what the pages say.  The Stop lands while the SMTP
server holds a message (an event), never after a delay; one connection, so nothing else leaves
meanwhile.  Every page visited is photographed at 1366 and 390 pixels (test-artifacts/
journey-*) and checked with axe-core (no serious or critical violation)."""

from __future__ import annotations

import csv
import re
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from campaign_helpers import parse
from distrib import app as verbs
from distrib.web.unsubscribe_server import create_unsubscribe_app
from smtp_server import SMTPTestServer
from test_unsubscribe_server import axe_serious
from web_helpers import TOKEN, served, ui_server

pytestmark = pytest.mark.browser

SECRET = "journey-secret-for-one-click-unsubscribe-links"
# The officer types the accented name of the unsubscribe host: a List-Unsubscribe header must
# be ASCII, so the settings page refuses it (naming the key and the host's xn-- form); the fix
# is the ASCII name.
ACCENTED_URL = "https://désabonnement.quais.example/u/{token}"
ASCII_URL = "https://desabonnement.quais.example/u/{token}"

# The newsroom list: cp1252, ';', a French header whose address column distrib does not
# recognise ("Adresse du journaliste"), one address that is not one.
FRENCH_LIST = (
    "Adresse du journaliste;Prénom;Nom;Média;Langue;Rubrique\n"
    "zoe@fleuve.example;Zoé;Bélanger;Le Fleuve;Français;Culture\n"
    "marc@fleuve.example;Marc;Tremblay;Le Fleuve;fr;Politique\n"
    "lea@estrie.example;Léa;Roy;La Voix de l'Estrie;fr;Culture\n"
    "pas-une-adresse;Paul;Côté;Le Fleuve;fr;Culture\n"  # row 5: rejected
).encode("cp1252")
# The English sheet: one address the French list has already (a duplicate).
ENGLISH_ROWS = [
    ("sam@river.example", "Sam", "Wilson", "The Daily River", "English", "Culture"),
    ("mia@river.example", "Mia", "Chen", "The Daily River", "English", "Business"),
    ("Zoe@Fleuve.example", "Zoe", "Belanger", "Le Fleuve", "French", "Culture"),  # duplicate
]
OURS = {"zoe@fleuve.example", "marc@fleuve.example", "lea@estrie.example",
        "sam@river.example", "mia@river.example"}  # fmt: skip
LEAVING = "mia@river.example"  # unsubscribes from the first release's message
OFFICER = "officer@desk.example"

TEXTS = {
    "fr": {"title": "Les Quais ouvrent leurs portes", "subject": "Portes ouvertes aux Quais",
           "summary": "Une journée pour découvrir la coopérative.",
           "body": "La **Coopérative des Quais** ouvre ses portes le 5 juin.\n\n– 30 –"},
    "en": {"title": "The Quays open their doors", "subject": "Open day at the Quays",
           "summary": "A day to discover the cooperative.",
           "body": "The **Quays Cooperative** opens its doors on June 5.\n\n-30-"},
}  # fmt: skip
SECOND = {
    "fr": {"title": "Bilan des portes ouvertes", "subject": "Trois mille visiteurs aux Quais",
           "summary": "", "body": "Trois mille personnes sont venues.\n\n– 30 –"},
    "en": {"title": "Open day: the results", "subject": "Three thousand visitors at the Quays",
           "summary": "", "body": "Three thousand people came.\n\n-30-"},
}  # fmt: skip
FIRST_SLUG, SECOND_SLUG = "2027-06-portes-ouvertes", "2027-06-bilan"
#: Words of the interface that show which language it speaks.
WORDS = {"fr": ("Paramètres", "Envoyer à"), "en": ("Settings", "Send to")}


def write_lists(folder: Path) -> tuple[Path, Path]:
    """The two files the officer drops on the lists page."""
    folder.mkdir()
    french = folder / "medias-quebec.csv"
    french.write_bytes(FRENCH_LIST)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email", "First Name", "Last Name", "Outlet", "Language", "Beat"])
    for row in ENGLISH_ROWS:
        sheet.append(list(row))
    english = folder / "english-media.xlsx"
    book.save(english)
    return french, english


class Officer:
    """The officer's browser tab: goes to pages, photographs them, runs axe in each."""

    def __init__(self, page: Any, base: str, lang: str, folder: Path) -> None:
        self.page, self.base, self.lang, self.folder = page, base, lang, folder
        self.violations: dict[str, list[str]] = {}
        self.dialogs: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def go(self, path: str) -> Any:
        return self.page.goto(self.base + path.lstrip("/"))

    def shoot(self, name: str) -> None:
        """Screenshots at both widths (then back to the wide one), then axe."""
        for width, height in ((390, 844), (1366, 768)):
            self.page.set_viewport_size({"width": width, "height": height})
            path = self.folder / f"journey-{self.lang}-{name}-{width}.png"
            self.page.screenshot(path=str(path), full_page=True)
        assert self.page.evaluate("document.documentElement.lang") == self.lang
        self.violations[name] = axe_serious(self.page)

    def field(self, name: str) -> Any:
        return self.page.locator(f'[id="{name}"]')

    def submit(self, action: str) -> None:
        """Press the submit button of the form posting to ``action``."""
        self.page.locator(f'form[action="{action}"] button[type="submit"]').click()

    def write_text(self, slug: str, lang: str, values: dict[str, str]) -> None:
        self.go(f"/releases/{slug}/text/{lang}")
        for name, value in values.items():
            self.field(name).fill(value)
        self.submit(f"/releases/{slug}/text/{lang}")
        self.page.wait_for_url(f"**/releases/{slug}/text/{lang}?saved=1")

    def settings(self, **values: str) -> None:
        self.go("/settings")
        for name, value in values.items():
            if name == "smtp.security":
                self.field(name).select_option(value)
            else:
                self.field(name).fill(value)
        self.submit("/settings")
        self.page.wait_for_url("**/settings?saved=1")

    def send(self, slug: str, count: int) -> None:
        """Confirm the send by typing the count, and press the button."""
        self.go(f"/releases/{slug}/send")
        assert self.page.inner_text("dd.count") == str(count)
        self.shoot(f"{slug}-confirm")
        self.field("confirm").fill(str(count))
        self.submit(f"/releases/{slug}/send")
        self.page.wait_for_url(f"**/releases/{slug}/send")


def one_click_path(message: bytes) -> str:
    """The path of the https link of a received message's List-Unsubscribe header."""
    header = str(parse(message)["List-Unsubscribe"])
    found = re.search(r"<https://desabonnement\.quais\.example(/u/[A-Za-z0-9_-]{22})>", header)
    assert found is not None, header
    return found.group(1)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_officer_goes_from_an_empty_folder_to_a_second_release_that_skips_an_opt_out(
    lang: str,
    tmp_path: Path,
    smtp_server: SMTPTestServer,
    browser: Any,
    screenshots_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    french_file, english_file = write_lists(tmp_path / "downloads")
    folder = tmp_path / "bureau"
    reached, go = threading.Event(), threading.Event()
    with ui_server(folder, setup=True, typed_confirmation=5) as server:
        context = browser.new_context(locale="fr-CA" if lang == "fr" else "en-CA")
        me = Officer(context.new_page(), server.url(), lang, screenshots_dir)
        page = me.page

        # An empty folder: the first page is the new workspace's form.
        me.go(f"/?token={TOKEN}")
        assert page.url.endswith("/setup")
        me.shoot("setup")
        me.field("organisation").fill("Coopérative des Quais")
        me.field("name").fill("Service de presse")
        me.field("address").fill("presse@quais.example")
        me.field("time_zone").fill("America/Toronto")
        me.submit("/setup")
        page.wait_for_url(server.url())
        assert WORDS[lang][0] in page.inner_text("nav")
        me.shoot("home")
        starter = folder / "contacts.csv"  # the starter's example list stays first
        with starter.open(encoding="utf-8") as rows:
            examples = {row[0].lower() for row in list(csv.reader(rows))[1:]}

        # The one-click link typed with an accent: refused at save, the key named.
        me.go("/settings")
        me.field("sender.unsubscribe_url").fill(ACCENTED_URL)
        me.submit("/settings")
        page.locator("main .error").first.wait_for()
        shown = page.inner_text("main")
        assert "sender.unsubscribe_url" in shown and "xn--dsabonnement" in shown, shown
        me.shoot("settings-problem")
        # The relay (a local test server), one connection, and the link in ASCII.
        me.settings(**{
            "smtp.host": "127.0.0.1", "smtp.port": str(smtp_server.port),
            "smtp.security": "none", "limits.rate": "0", "limits.connections": "1",
            "sender.postal_address": "10, rue du Port, Montréal (Québec)  H2X 1A1",
            "sender.unsubscribe_url": ASCII_URL,
        })  # fmt: skip
        me.shoot("settings")
        me.submit("/settings/relay-check")  # "Test the connection"
        page.locator("#relay-check").wait_for()
        assert page.locator('#relay-check tr[data-step="connect"].step-ok').count() == 1
        me.shoot("relay-check")

        # The two lists; the French one's address column is mapped from the drop-down.
        for file in (french_file, english_file):
            me.go("/lists")
            page.set_input_files("#list-file", str(file))
            me.submit("/lists")
            page.wait_for_url("**/lists*")
        assert "medias-quebec.csv" in page.inner_text("main")
        me.shoot("lists-unmapped")
        page.locator("#map-1-0").select_option("email")
        me.submit("/lists/1/columns")
        page.wait_for_url("**/lists*")
        accounting = page.locator("section[aria-labelledby=accounting] tbody tr")
        rows = {
            cells[0]: [int(n) for n in cells[2:]]
            for cells in (accounting.nth(i).locator("td").all_inner_texts()
                          for i in range(accounting.count()))
        }  # fmt: skip
        # Each list by the name of the file the officer dropped, never the stored copy's path.
        assert rows["medias-quebec.csv"] == [4, 3, 0, 1, 0]  # read = accepted + dup. + rej. + supp.
        assert rows["english-media.xlsx"] == [3, 2, 1, 0, 0]
        aside = page.inner_text("section[aria-labelledby=aside]")
        assert "medias-quebec.csv:5" in aside and "pas-une-adresse" in aside  # file and row
        assert "uploads/" not in page.inner_text("main")
        me.shoot("lists")

        # A bilingual release, written in the form.
        me.go("/releases")
        me.field("slug").fill(FIRST_SLUG)
        me.submit("/releases/new")
        page.wait_for_url(f"**/releases/{FIRST_SLUG}")
        me.write_text(FIRST_SLUG, "fr", TEXTS["fr"])

        # A real problem: no English text for the English journalists (the officer, meaning
        # to send in French only, deleted the starter's en.md from the release's folder; the
        # pages offer no way to delete a text).  The preview's check finds it, the send page
        # refuses; the officer writes the English text in the form, and the preview (made
        # again: its files changed) checks clean.
        (folder / "releases" / FIRST_SLUG / "en.md").unlink()
        me.go(f"/releases/{FIRST_SLUG}/preview")
        page.locator("#check ~ p.error").wait_for()  # the check ended with problems
        problems = page.inner_text("section[aria-labelledby=check]")
        assert "en.md" in problems, problems  # Sam and Mia (and any English example)
        me.shoot("preview-problem")
        refused = me.go(f"/releases/{FIRST_SLUG}/send")
        assert refused.status == 409
        assert "en.md" in page.inner_text("ul.problems")
        assert page.locator(f'a[href="/releases/{FIRST_SLUG}/preview?problems=1"]').count() == 1
        assert page.locator(f'form[action="/releases/{FIRST_SLUG}/send"]').count() == 0
        me.shoot("send-refused")
        me.go(f"/releases/{FIRST_SLUG}/text/en")
        assert me.field("dateline").input_value() == ""  # a new text: no starter's dateline
        me.write_text(FIRST_SLUG, "en", {**TEXTS["en"], "dateline": "MONTREAL, June 1, 2027 –"})
        page.frame_locator("#body-preview").locator("strong").wait_for()
        me.shoot("release")

        me.go(f"/releases/{FIRST_SLUG}/preview")
        page.locator("p.notice").wait_for()  # the full check ended without a problem
        everyone = OURS | examples
        listed = page.locator("section[aria-labelledby=recipients] tbody tr")
        assert listed.count() == len(everyone)
        me.shoot("preview")
        page.get_by_role("link", name="Zoé Bélanger").click()
        assert page.locator("iframe").get_attribute("sandbox") == ""
        assert TEXTS["fr"]["subject"] in page.inner_text("table.headers")
        me.shoot("preview-message")

        # A test to the officer's own address, as Sam.
        me.go(f"/releases/{FIRST_SLUG}/test")
        me.field("to").fill(OFFICER)
        me.field("as").fill("sam@river.example")
        me.submit(f"/releases/{FIRST_SLUG}/test")
        page.locator("p.notice").wait_for()
        assert [m.rcpt_tos for m in smtp_server.messages] == [(OFFICER,)]
        assert str(parse(smtp_server.messages[0].data)["Subject"]).endswith(TEXTS["en"]["subject"])
        me.shoot("test-send")

        # The send: the third message is held by the server while the officer presses Stop.
        smtp_server.script("DOT", skip=2, times=1, action=lambda _: reached.set(), hold=go)
        me.send(FIRST_SLUG, len(everyone))
        assert reached.wait(30)
        page.reload()  # the page finds the send where it is
        assert page.locator("[data-reload-on-end]").count() == 1
        first_run = int(page.inner_text('[data-field="run"]'))
        me.shoot("sending")
        me.submit(f"/releases/{FIRST_SLUG}/send/stop")
        page.locator('[data-field="status"]').filter(has_text="stopping").wait_for()
        go.set()  # the stop is asked: the held message may finish
        resume = page.locator(f'form[action="/releases/{FIRST_SLUG}/resume"] button')
        resume.wait_for()  # the run stopped; the page reloaded itself
        stopped_at = int(page.inner_text('[data-field="sent"]'))
        assert 3 <= stopped_at < len(everyone)
        me.shoot("stopped")
        resume.click()
        report = page.locator(f'a[href="/runs/{first_run}"]')
        report.wait_for()
        page.locator("p.notice").wait_for()  # finished: every message was sent
        me.shoot("finished")
        report.click()
        page.wait_for_url(f"**/runs/{first_run}")
        assert page.locator("iframe").get_attribute("sandbox") == ""
        me.shoot("report")

        # Mia presses "Unsubscribe" in her mail client: RFC 8058's POST to the link.
        (to_mia,) = [m for m in smtp_server.messages if m.rcpt_tos == (LEAVING,)]
        path = one_click_path(to_mia.data)
        index = verbs.token_index(verbs.load_campaign(folder / "distrib.toml"))
        with served(create_unsubscribe_app(folder / "distrib.toml", index)) as unsubscribe:
            answer = httpx.post(
                unsubscribe.url() + path.lstrip("/"), data={"List-Unsubscribe": "One-Click"}
            )
            assert answer.status_code == 200, answer.text
        me.go(f"/journalists/{LEAVING}")
        assert "one-click unsubscribe link" in page.inner_text("main")
        me.shoot("journalist")

        # The second release skips her.
        me.go("/releases")
        me.field("slug").fill(SECOND_SLUG)
        me.submit("/releases/new")
        page.wait_for_url(f"**/releases/{SECOND_SLUG}")
        for text_lang, values in SECOND.items():
            me.write_text(SECOND_SLUG, text_lang, values)
        me.send(SECOND_SLUG, len(everyone) - 1)
        page.locator("p.notice").wait_for()
        second_run = int(page.inner_text('[data-field="run"]'))
        me.shoot("second-finished")
        me.go("/runs")
        me.shoot("runs")
        assert me.dialogs == []
        context.close()

    def received(*subjects: str) -> Counter[str]:
        """Who received a message with one of ``subjects`` (test messages aside)."""
        found: Counter[str] = Counter()
        for message in smtp_server.messages:
            subject = str(parse(message.data)["Subject"])
            if message.accepted and subject in subjects:
                found[message.rcpt_tos[0].lower()] += 1
        return found

    first = received(TEXTS["fr"]["subject"], TEXTS["en"]["subject"])
    second = received(SECOND["fr"]["subject"], SECOND["en"]["subject"])
    assert first == Counter(dict.fromkeys(everyone, 1))  # each exactly once, Stop or not
    assert second == Counter(dict.fromkeys(everyone - {LEAVING}, 1))
    assert len(smtp_server.messages) == 1 + len(everyone) + len(everyone) - 1
    with verbs.open_log(folder, read_only=True) as log:
        assert verbs.run_report(log, first_run).by_state == {"sent": len(everyone)}
        assert verbs.run_report(log, second_run).by_state == {"sent": len(everyone) - 1}
        history = verbs.contact_history(log, LEAVING)
        assert [(e.run, e.status) for e in history.entries] == [(first_run, "sent")]
        assert [s.source for s in history.suppressions] == ["one-click unsubscribe link"]
    assert me.violations == {name: [] for name in me.violations}
