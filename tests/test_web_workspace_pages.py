"""The workspace's own pages of `distrib ui` (settings, media lists, releases, audience,
suppression) through HTTP on a real server: what each form writes, read back by the same verbs
a send uses, every form's CSRF check, and hostile text shown as text."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx
import pytest

from audit_helpers import Clock, open_log
from distrib.app import (
    collect_preview,
    list_releases,
    open_release,
    suppression_list,
    unsubscribe,
)
from web_helpers import csrf_of, signed_in, ui_server
from workspace_helpers import FIRST, WorkspaceFiles, write_workspace

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def ws(tmp_path: Path) -> WorkspaceFiles:
    return write_workspace(tmp_path / "ws", port=25)


def _csrf(client: httpx.Client, path: str = "/") -> str:
    return csrf_of(client.get(path).text)


def test_every_new_page_renders_in_french_and_english(ws: WorkspaceFiles) -> None:
    pages = ["/settings", "/lists", "/suppression", "/releases", f"/releases/{FIRST}",
             f"/releases/{FIRST}/text/en", f"/releases/{FIRST}/audience",
             "/journalists/zoe@fleuve.example"]  # fmt: skip
    with ui_server(ws.file) as server:
        client = signed_in(server)
        for lang, word in (("fr", "Paramètres"), ("en", "Settings")):
            client.post("/lang", data={"csrf": _csrf(client), "lang": lang, "next": "/"})
            for path in pages:
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.text)
                assert f'<html lang="{lang}">' in answer.text
                assert word in answer.text  # the navigation, in the chosen language
                assert "Content-Security-Policy".lower() in answer.headers


def test_settings_are_saved_kept_in_place_and_refused_with_the_field_named(
    ws: WorkspaceFiles,
) -> None:
    ws.file.write_text("# our office\n" + ws.file.read_text(encoding="utf-8"), encoding="utf-8")
    with ui_server(ws.file) as server:
        client = signed_in(server)
        form = {
            "csrf": _csrf(client, "/settings"),
            "sender.organisation": "Coop <b>des Quais</b>",
            "sender.name": "Presse",
            "sender.address": "presse@quais.example",
            "sender.reply_to": "",
            "sender.postal_address": "10, rue du Port",
            "sender.contact": "514 555-0100",
            "sender.website": "",
            "timezone": "America/Toronto",
            "press.time_zone": "Europe/Paris",
            "smtp.host": "smtp.quais.example",
            "smtp.port": "465",
            "smtp.security": "tls",
            "smtp.username": "presse@quais.example",
            "limits.rate": "2.5",
            "limits.connections": "1",
            "limits.per_minute": "",
            "limits.per_hour": "300",
        }
        answer = client.post("/settings", data=form)
        assert answer.status_code == 303, answer.text
        text = ws.file.read_text(encoding="utf-8")
        assert text.startswith("# our office\n")  # comments kept
        saved = tomllib.loads(text)
        assert saved["smtp"]["port"] == 465 and saved["smtp"]["security"] == "tls"
        assert saved["limits"]["per_hour"] == 300 and saved["press"]["time_zone"] == "Europe/Paris"
        assert "password" not in text.replace("password_env", "")
        shown = client.get("/settings").text
        assert 'value="smtp.quais.example"' in shown
        assert "Coop &lt;b&gt;des Quais&lt;/b&gt;" in shown  # shown as text

        bad = {**form, "smtp.port": "70000", "sender.address": "not an address"}
        refused = client.post("/settings", data=bad)
        assert refused.status_code == 400
        assert "smtp.port" in refused.text and "sender.address" in refused.text
        assert tomllib.loads(ws.file.read_text(encoding="utf-8"))["smtp"]["port"] == 465


def test_a_release_created_and_edited_is_what_the_preview_shows(ws: WorkspaceFiles) -> None:
    with ui_server(ws.file) as server:
        client = signed_in(server)
        created = client.post(
            "/releases/new", data={"csrf": _csrf(client, "/releases"), "slug": "2027-03-neige"}
        )
        assert created.status_code == 303
        assert "2027-03-neige" in [r.slug for r in list_releases(ws.file)]
        page = client.get("/releases/2027-03-neige/text/fr").text
        form = {
            "csrf": csrf_of(page),
            "title": f"Neige {HOSTILE}",
            "subject": "La neige arrive aux Quais",
            "dateline": "MONTRÉAL, le 1er mars 2027 –",
            "summary": "",
            "embargo": "2027-03-01T09:30",
            "hold_until": "",
            "body": "La **neige** arrive.\n\n<script>alert(1)</script>",
        }
        saved = client.post("/releases/2027-03-neige/text/fr", data=form)
        assert saved.status_code == 303, saved.text
        document = (ws.release("2027-03-neige") / "fr.md").read_text(encoding="utf-8")
        assert "embargo: 2027-03-01T09:30-05:00" in document  # the workspace's zone
        shown = client.get("/releases/2027-03-neige/text/fr").text
        assert 'value="2027-03-01T09:30"' in shown and "America/Toronto" in shown
        assert "Neige &lt;script&gt;" in shown
        campaign = open_release(ws.file, "2027-03-neige")
        preview = collect_preview(campaign)
        subjects = {entry.subject for entry in preview.entries}
        assert any("La neige arrive aux Quais" in s for s in subjects), subjects

        # A problem is reported with the file and the key, and nothing is written.
        before = document
        broken = client.post("/releases/2027-03-neige/text/fr", data={**form, "subject": ""})
        assert broken.status_code == 400 and "subject" in broken.text
        assert (ws.release("2027-03-neige") / "fr.md").read_text(encoding="utf-8") == before

        # The body's preview: rendered by the server, never as raw HTML, in a sandboxed frame.
        frame = client.post(
            "/releases/2027-03-neige/body-preview",
            data={"body": "*vite* <script>alert(1)</script>"},
            headers={"x-csrf-token": form["csrf"]},
        ).json()["frame"]
        html = client.get(frame)
        assert "<em>vite</em>" in html.text and "<script>alert" not in html.text
        assert "sandbox" in html.headers["content-security-policy"]


def test_an_attachment_is_stored_under_a_generated_name(ws: WorkspaceFiles) -> None:
    with ui_server(ws.file) as server:
        client = signed_in(server)
        token = _csrf(client, f"/releases/{FIRST}/text/fr")
        answer = client.post(
            f"/releases/{FIRST}/text/fr/attach",
            data={"csrf": token},
            files={"file": ("../../fiche technique.pdf", b"%PDF-1.4\n%%EOF\n", "text/plain")},
        )
        assert answer.status_code == 303, answer.text
        names = [p.name for p in ws.release(FIRST).glob("*.pdf")]
        assert len(names) == 1 and re.fullmatch(r"[0-9a-f]{32}\.pdf", names[0])
        assert names[0] in (ws.release(FIRST) / "fr.md").read_text(encoding="utf-8")
        assert not (ws.root.parent / "fiche technique.pdf").exists()
        disguised = client.post(
            f"/releases/{FIRST}/text/fr/attach",
            data={"csrf": token},
            files={"file": ("fiche.pdf", b"MZ\x90\x00binary", "application/pdf")},
        )
        assert disguised.status_code == 415


def test_the_audience_is_counted_and_saved_in_release_toml(ws: WorkspaceFiles) -> None:
    with ui_server(ws.file) as server:
        client = signed_in(server)
        page = client.get(f"/releases/{FIRST}/audience").text
        token = csrf_of(page)
        assert 'value="Culture"' in page
        count = client.post(
            f"/releases/{FIRST}/audience/count",
            data={"csrf": token, "only.beat": ["Culture"]},
        ).json()
        assert count["merged"] == 8 and count["kept"] < 8
        assert count["left_out"] and "Culture" in count["left_out"][0][0]
        saved = client.post(
            f"/releases/{FIRST}/audience", data={"csrf": token, "only.beat": ["Culture"]}
        )
        assert saved.status_code == 303, saved.text
        settings = tomllib.loads((ws.release(FIRST) / "release.toml").read_text("utf-8"))
        assert settings["audience"]["include"] == {"beat": ["Culture"]}
        assert len(collect_preview(open_release(ws.file, FIRST)).entries) == count["kept"]


def test_a_list_is_added_its_column_mapped_and_every_row_accounted_for(
    ws: WorkspaceFiles,
) -> None:
    hostile_name = "<img src=x onerror=alert(1)>.csv"  # a name: its last part is kept
    data = "Adresse du journaliste;Nom\nnew@journal.example;Neuf\nnot-an-address;Faux\n"
    with ui_server(ws.file) as server:
        client = signed_in(server)
        token = _csrf(client, "/lists")
        added = client.post(
            "/lists",
            data={"csrf": token},
            files={"file": (hostile_name, data.encode("utf-8"), "text/csv")},
        )
        assert added.status_code == 303, added.text
        page = client.get("/lists").text
        assert "no address column" in page or "address" in page
        assert "&lt;img src=x onerror=alert(1)&gt;.csv" in page and "<img src=x" not in page
        mapped = client.post(
            "/lists/2/columns",
            data={
                "csrf": token,
                "header": ["Adresse du journaliste", "Nom"],
                "field": ["email", ""],
            },
        )
        assert mapped.status_code == 303, mapped.text
        saved = tomllib.loads(ws.file.read_text(encoding="utf-8"))
        assert saved["sources"][2]["columns"] == {"Adresse du journaliste": "email"}
        page = client.get("/lists").text
        assert "new@journal.example" in page
        rows = re.findall(r'<td class="num">(\d+)</td>', page)
        numbers = [int(n) for n in rows]
        for start in range(0, len(numbers), 5):  # rows read = accepted + dup. + rej. + supp.
            read, *parts = numbers[start : start + 5]
            assert read == sum(parts)
        assert ":3:" in page  # the rejected row named by file and row


def test_suppression_add_is_recorded_in_the_log(ws: WorkspaceFiles) -> None:
    with ui_server(ws.file) as server:
        client = signed_in(server)
        token = _csrf(client, "/suppression")
        answer = client.post(
            "/suppression", data={"csrf": token, "address": "zoe@fleuve.example", "note": HOSTILE}
        )
        assert answer.status_code == 303, answer.text
        with open_log(ws.log, Clock()) as log:
            listed = suppression_list(log)
        assert [(e.address, e.note) for e in listed] == [("zoe@fleuve.example", HOSTILE)]
        page = client.get("/suppression").text
        assert "&lt;script&gt;" in page and "<script>alert" not in page


def test_suppression_removal_asks_a_reason_and_is_logged_and_shown(ws: WorkspaceFiles) -> None:
    import getpass

    with open_log(ws.log, Clock()) as log:
        unsubscribe(log, ["Zoe@Fleuve.example"], note=None)
    with ui_server(ws.file) as server:
        client = signed_in(server)
        client.post("/lang", data={"csrf": _csrf(client), "lang": "en", "next": "/"})
        page = client.get("/journalists/zoe@fleuve.example").text
        assert 'action="/suppression/remove"' in page and "CASL" in page
        blank = {"csrf": csrf_of(page), "address": "zoe@fleuve.example", "reason": "  "}
        refused = client.post("/suppression/remove", data=blank)
        assert refused.status_code == 400 and "reason" in refused.text
        with open_log(ws.log, Clock()) as log:
            assert len(suppression_list(log)) == 1  # nothing removed without a reason

        why = f"asked to be put back by email on 3 March {HOSTILE}"
        answer = client.post("/suppression/remove", data={**blank, "reason": why})
        assert answer.status_code == 303
        assert answer.headers["location"] == "/suppression?done=removed-opt-out"
        warned = client.get(answer.headers["location"]).text
        assert "consent" in warned and "CASL" in warned  # an opt-out: consent to document
        with open_log(ws.log, Clock()) as log:
            assert suppression_list(log) == []
            (removal,) = log.suppression_removals()
        assert removal.why == why and removal.removed_by == getpass.getuser()
        history = client.get("/journalists/zoe@fleuve.example").text
        assert "asked to be put back" in history and "&lt;script&gt;" in history
        assert "<script>alert" not in history
        again = client.post("/suppression/remove", data={**blank, "reason": "again"})
        assert again.status_code == 400 and "not on the suppression list" in again.text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/settings", {"sender.name": "x"}),
        ("/releases/new", {"slug": "2027-09-x"}),
        (f"/releases/{FIRST}/text/fr", {"title": "x"}),
        (f"/releases/{FIRST}/audience", {"only.beat": "Culture"}),
        (f"/releases/{FIRST}/audience/count", {}),
        (f"/releases/{FIRST}/body-preview", {"body": "x"}),
        ("/lists/0/columns", {"header": "Courriel", "field": "email"}),
        ("/suppression", {"address": "zoe@fleuve.example"}),
        ("/suppression/remove", {"address": "zoe@fleuve.example", "reason": "x"}),
        ("/setup", {"organisation": "x"}),
    ],
)
def test_every_new_form_refuses_a_missing_csrf_token(
    ws: WorkspaceFiles, path: str, data: dict[str, str]
) -> None:
    before = {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file()}
    with ui_server(ws.file) as server:
        client = signed_in(server)
        assert client.post(path, data=data).status_code == 403
        assert client.post(path, data={**data, "csrf": "forged"}).status_code == 403
    after = {p: p.read_bytes() for p in ws.root.rglob("*") if p.is_file()}
    assert after == before


def test_the_lists_page_names_an_uploaded_list_as_the_officer_did(ws: WorkspaceFiles) -> None:
    # The second row repeats the first: its duplicate names the row it repeats.
    data = "Courriel;Nom\nnew@journal.example;Neuf\nnot-an-address;Faux\nnew@journal.example;N\n"
    with ui_server(ws.file) as server:
        client = signed_in(server)
        added = client.post(
            "/lists",
            data={"csrf": _csrf(client, "/lists")},
            files={"file": ("Médias régionaux.csv", data.encode("utf-8"), "text/csv")},
        )
        assert added.status_code == 303, added.text
        page = client.get("/lists").text
    accounting = page.split('id="accounting"')[1].split("</table>")[0]
    assert "<td>Médias régionaux.csv</td>" in accounting  # the name it was given
    assert "Médias régionaux.csv:3" in page  # its rejected row, named the same way
    assert "Médias régionaux.csv:4" in page and "Médias régionaux.csv:2 (" in page
    assert not re.search(r"uploads/\w+\.csv", page)  # never the stored file's path


@pytest.mark.parametrize("path", ["/lists", f"/releases/{FIRST}/text/fr/attach", "/settings/logo"])
def test_upload_forms_refuse_a_missing_csrf_token(ws: WorkspaceFiles, path: str) -> None:
    with ui_server(ws.file) as server:
        client = signed_in(server)
        answer = client.post(path, files={"file": ("a.csv", b"email\na@b.example\n")})
        assert answer.status_code == 403


def test_audience_values_differing_only_by_case_are_one_box(ws: WorkspaceFiles) -> None:
    # The French list writes the beat "Culture" twice and "CULTURE" once; rules compare them
    # without case (as `--only beat=culture` on the command line does): one box.
    settings = ws.release(FIRST) / "release.toml"
    settings.write_text('[audience]\ninclude = { beat = "culture" }\n', encoding="utf-8")
    with ui_server(ws.file) as server:
        client = signed_in(server)
        page = client.get(f"/releases/{FIRST}/audience").text
        only = re.findall(r'name="only\.beat" value="([^"]+)"( checked)?', page)
        assert [v for v, _ in only if v.casefold() == "culture"] == ["Culture"], only
        assert ("Culture", " checked") in only  # the release's "culture", ticked
        count = client.post(
            f"/releases/{FIRST}/audience/count",
            data={"csrf": csrf_of(page), "only.beat": ["Culture"]},
        ).json()
    assert count["kept"] == 4  # Zoé, Léa ("CULTURE"), Sam and Lucas


def test_importing_a_word_file_becomes_the_release_text(ws: WorkspaceFiles) -> None:
    from distrib.app import read_release_text
    from import_helpers import french_docx

    form = f"/releases/{FIRST}/text/fr"
    word = ("../Communiqué final.docx", french_docx().to_bytes(), "application/octet-stream")
    with ui_server(ws.file) as server:
        client = signed_in(server)
        token = _csrf(client, form)
        kept = client.post(f"{form}/import", data={"csrf": token}, files={"file": word})
        assert kept.status_code == 400  # the text there is not replaced unless asked
        assert "Hiver en vitrine" not in read_release_text(ws.file, FIRST, "fr").title
        answer = client.post(
            f"{form}/import", data={"csrf": token, "replace": "1"}, files={"file": word}
        )
        assert answer.status_code == 303, answer.text
        shown = client.get(form).text
    text = read_release_text(ws.file, FIRST, "fr")
    assert "Hiver en vitrine" in text.title
    assert text.dateline.startswith("MONTRÉAL, le 4 novembre 2027")
    assert "Six haltes chauffées" in text.body
    assert "240 commerces" in str(text.others.get("about"))  # the boilerplate, kept apart
    assert "Hiver en vitrine" in shown  # the form shows the imported text


def test_the_journalist_page_shows_the_replies_as_the_history_does(ws: WorkspaceFiles) -> None:
    from audit_helpers import Person, add_run
    from distrib.deliverylog.records import NewReply

    clock = Clock()
    with open_log(ws.log, clock) as log:
        zoe = Person("zoe@fleuve.example", "Zoé", "Le Fleuve", "fr")
        add_run(log, clock, [zoe], campaign=FIRST)
        (message,) = log.messages(1)
        replies = [
            NewReply(message.id, "<r1@fleuve.example>", zoe.address, f"Re: {HOSTILE}", "reply",
                     "", "in-reply-to", "tests"),
            NewReply(message.id, "<r2@fleuve.example>", zoe.address, "Absente", "auto-reply",
                     "Auto-Submitted: auto-replied", "in-reply-to", "tests"),
        ]  # fmt: skip
        assert log.record_replies(replies) == [True, True]
    with ui_server(ws.file) as server:
        client = signed_in(server)
        client.post("/lang", data={"csrf": _csrf(client), "lang": "en", "next": "/"})
        page = client.get("/journalists/zoe@fleuve.example").text
    section = page.split('id="replies"')[1].split("</section>")[0]
    assert section.startswith(">Replies (2)</h2>")
    assert f"reply to run 1 ({FIRST}) from zoe@fleuve.example: Re: &lt;script&gt;" in section
    assert f"automatic reply to run 1 ({FIRST}) from zoe@fleuve.example: Absente" in section
    assert "<script>alert" not in page
