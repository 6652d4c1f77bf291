"""`distrib ui`'s preview, test send, send and runs pages over HTTP: a real server (uvicorn on
127.0.0.1), a real SMTP server (aiosmtpd) and a real SQLite log.  Progress is read from the
pages' own SSE streams; every wait is for an event, never for time."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from campaign_helpers import parse
from distrib import app as verbs
from smtp_server import SMTPTestServer
from web_helpers import csrf_of, signed_in, ui_server
from workspace_helpers import FIRST, LANGUAGES, WorkspaceFiles, write_workspace

HOSTILE = "<script>alert(1)</script>"
EVIL = "evil@fleuve.example"
FORMULA = "=HYPERLINK(1)"
EVERYONE = {*LANGUAGES, EVIL}


@pytest.fixture
def ws(tmp_path: Path, smtp_server: SMTPTestServer) -> WorkspaceFiles:
    files = write_workspace(tmp_path / "ws", port=smtp_server.port)
    lists = files.root / "medias.csv"
    row = f"{EVIL};{HOSTILE};{FORMULA};Le Fleuve;fr;Culture;Montréal;\n"
    lists.write_bytes(lists.read_bytes() + row.encode("cp1252"))
    return files


def events(client: httpx.Client, path: str) -> Iterator[tuple[str, dict[str, object]]]:
    """The SSE stream at ``path``: (event type, JSON data) until it ends."""
    with client.stream("GET", path, timeout=30) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        kind, data = "message", ""
        for line in answer.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line == "" and data:
                yield kind, json.loads(data)
                kind, data = "message", ""


def last_state(client: httpx.Client, path: str) -> dict[str, object]:
    for kind, state in events(client, path):
        if kind == "end":
            return state
    raise AssertionError("the stream ended without an end event")


def post(client: httpx.Client, path: str, page: str, **fields: str) -> httpx.Response:
    return client.post(path, data={"csrf": csrf_of(client.get(page).text), **fields})


def test_preview_lists_at_once_renders_on_demand_and_checks_in_the_background(
    ws: WorkspaceFiles,
) -> None:
    with ui_server(ws.root) as server:
        client = signed_in(server)
        page = client.get(f"/releases/{FIRST}/preview")
        assert page.status_code == 200
        assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert f"/releases/{FIRST}/preview/1" in page.text
        done = last_state(client, f"/releases/{FIRST}/preview/check")
        assert done["done"] == done["total"] == len(EVERYONE) and done["problems"] == 0
        after = client.get(f"/releases/{FIRST}/preview", params={"language": "en"}).text
        assert "sam@river.example" in after and "zoe@fleuve.example" not in after
        found = client.get(f"/releases/{FIRST}/preview", params={"q": "EVIL@"}).text
        assert EVIL in found and "sam@river.example" not in found

        message = client.get(f"/releases/{FIRST}/preview/{len(EVERYONE)}")  # the last row
        assert message.status_code == 200
        assert '<iframe class="sandboxed" sandbox=""' in message.text
        assert HOSTILE not in message.text  # the name, escaped, in headers and text
        frame = message.text.split('src="/frame/')[1].split('"')[0]
        html = client.get(f"/frame/{frame}")
        assert html.headers["content-security-policy"].startswith("sandbox;")
        assert client.get(f"/releases/{FIRST}/preview/999").status_code == 200  # said, no crash


def test_preview_groups_the_problems_and_the_send_page_refuses(ws: WorkspaceFiles) -> None:
    (ws.release(FIRST) / "en.md").unlink()  # the English list's journalists have no message
    with ui_server(ws.root) as server:
        client = signed_in(server)
        client.get(f"/releases/{FIRST}/preview")
        done = last_state(client, f"/releases/{FIRST}/preview/check")
        english = sum(1 for lang in LANGUAGES.values() if lang == "en")
        assert done["problems"] == english
        page = client.get(f"/releases/{FIRST}/preview").text
        assert f"<strong>{english} ×</strong>" in page  # one group, counted
        only = client.get(f"/releases/{FIRST}/preview", params={"problems": "1"}).text
        assert "sam@river.example" in only and "zoe@fleuve.example" not in only
        refused = client.get(f"/releases/{FIRST}/send")
        assert refused.status_code == 409 and "?problems=1" in refused.text
        assert "/send" not in refused.text.split("<main")[1].split("action=")[-1][:40]


def test_the_preview_follows_the_release_fixed_after_it_was_checked(ws: WorkspaceFiles) -> None:
    english = ws.release(FIRST) / "en.md"
    text = english.read_text(encoding="utf-8")
    english.unlink()
    with ui_server(ws.root) as server:
        client = signed_in(server)
        client.get(f"/releases/{FIRST}/preview")
        english_journalists = sum(1 for lang in LANGUAGES.values() if lang == "en")
        assert last_state(client, f"/releases/{FIRST}/preview/check")["problems"] == (
            english_journalists
        )
        assert client.get(f"/releases/{FIRST}/send").status_code == 409
        english.write_text(text, encoding="utf-8")  # the English text, written at last
        assert client.get(f"/releases/{FIRST}/preview").status_code == 200  # the files changed
        assert last_state(client, f"/releases/{FIRST}/preview/check")["problems"] == 0
        assert client.get(f"/releases/{FIRST}/send").status_code == 200


def test_the_send_page_says_a_new_release_is_still_the_starter_text(ws: WorkspaceFiles) -> None:
    with ui_server(ws.root) as server:
        client = signed_in(server)
        token = csrf_of(client.get("/releases").text)
        made = client.post("/releases/new", data={"csrf": token, "slug": "nouveau"})
        assert made.status_code == 303, made.text
        client.get("/releases/nouveau/preview")
        assert last_state(client, "/releases/nouveau/preview/check")["problems"] == 0
        preview = client.get("/releases/nouveau/preview").text
        warned = preview.split("Avertissements (ils n&#39;empêchent pas l&#39;envoi)")[1]
        assert "nouveau/fr.md:2: 9 lines are still the starter" in warned.split("</ul>")[0]
        page = client.get("/releases/nouveau/send")
        assert page.status_code == 200
        notice = page.text.split('<div class="error" role="alert">')[1].split("</div>")[0]
        assert "il contient encore le texte de départ" in notice  # the page is in French
        assert "nouveau/fr.md:2:" in notice and "nouveau/en.md:2:" in notice
        assert 'action="/releases/nouveau/send"' in page.text  # a warning: it may still go
        # Written (here: the first release's text), the notice is gone.
        for name in ("fr.md", "en.md"):
            text = (ws.release(FIRST) / name).read_text(encoding="utf-8")
            (ws.root / "releases" / "nouveau" / name).write_text(text, encoding="utf-8")
        client.get("/releases/nouveau/preview")
        assert last_state(client, "/releases/nouveau/preview/check")["problems"] == 0
        page = client.get("/releases/nouveau/send")
        assert page.status_code == 200 and "texte de départ" not in page.text


def test_forms_without_the_csrf_token_are_refused(ws: WorkspaceFiles) -> None:
    with ui_server(ws.root) as server:
        client = signed_in(server)
        for path in (f"/releases/{FIRST}/send", f"/releases/{FIRST}/test", "/runs/1/resolve"):
            assert client.post(path, data={"confirm": "9"}).status_code == 403, path
        assert client.get("/runs").status_code == 200


def test_a_test_send_reaches_the_officer_as_the_chosen_journalist(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    with ui_server(ws.root) as server:
        client = signed_in(server)
        form = f"/releases/{FIRST}/test"
        answer = post(client, form, form, to="officer@desk.example", **{"as": "sam@river.example"})
        assert answer.status_code == 200, answer.text
        assert [m.rcpt_tos for m in smtp_server.messages] == [("officer@desk.example",)]
        assert b"Sam" in smtp_server.messages[0].data  # written as to Sam
        assert str(parse(smtp_server.messages[0].data)["Subject"]).startswith("[TEST]")
        bad = post(client, form, form, to="not an address")
        assert bad.status_code == 400 and "not a usable address" in bad.text


def test_send_confirm_watch_stop_resume_and_the_log_agrees(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    # One connection: while the third message is held, nothing else can leave, so the stop
    # lands at a point the test chose (a second connection would race it to the end).
    settings = ws.root / "distrib.toml"
    settings.write_text(settings.read_text().replace("connections = 2", "connections = 1"))
    reached, go = threading.Event(), threading.Event()
    smtp_server.script("DOT", skip=2, times=1, action=lambda _: reached.set(), hold=go)
    send = f"/releases/{FIRST}/send"
    with ui_server(ws.root, typed_confirmation=5) as server:
        client = signed_in(server)
        confirm = client.get(send)
        assert confirm.status_code == 200
        assert f'<dd class="count">{len(EVERYONE)}</dd>' in confirm.text
        assert "127.0.0.1:" in confirm.text and "presse@quais.example" in confirm.text
        wrong = post(client, send, send, confirm="3")
        assert wrong.status_code == 400 and smtp_server.messages == []
        started = post(client, send, send, confirm=str(len(EVERYONE)))
        assert started.status_code == 303
        assert reached.wait(30)  # the third message is at its final dot
        # A reload finds the send where it is (the state is kept in the server).
        assert "data-reload-on-end" in client.get(send).text
        stop = client.post(f"{send}/stop", data={"csrf": csrf_of(client.get(send).text)})
        assert stop.status_code == 303
        for kind, state in events(client, f"{send}/events"):
            if state.get("engine_stopping"):
                go.set()  # the engine took the stop: let the held reply go
            if kind == "end":
                break
        assert state["status"] == "stopped", state
        first_sent = int(str(state["sent"]))
        assert 3 <= first_sent < len(EVERYONE)
        page = client.get(send).text
        assert "Resume run 1" in page or "Reprendre" in page
        resumed = client.post(f"/releases/{FIRST}/resume", data={"csrf": csrf_of(page), "run": "1"})
        assert resumed.status_code == 303
        final = last_state(client, f"{send}/events")
        assert final["status"] == "done" and final["run"] == 1
    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages if m.accepted)
    assert received == Counter(dict.fromkeys(EVERYONE, 1))  # each exactly once
    with verbs.open_log(ws.root, read_only=True) as log:
        assert verbs.run_report(log, 1).by_state == {"sent": len(EVERYONE)}


def test_runs_report_exports_and_resolving_an_unknown(
    ws: WorkspaceFiles, smtp_server: SMTPTestServer
) -> None:
    smtp_server.script("DOT", disconnect=True, address="sam@river.example")
    send = f"/releases/{FIRST}/send"
    with ui_server(ws.root) as server:
        client = signed_in(server)
        assert post(client, send, send, confirm=str(len(EVERYONE))).status_code == 303
        final = last_state(client, f"{send}/events")
        assert final["status"] == "failures" and final["unknown"] == 1
        runs = client.get("/runs")
        assert '<a href="/runs/1">1</a>' in runs.text
        assert '"/runs/1"' not in client.get("/runs", params={"q": "nobody@x.example"}).text
        run = client.get("/runs/1")
        assert run.status_code == 200 and HOSTILE not in run.text
        assert '<iframe class="sandboxed" sandbox=""' in run.text
        assert 'id="unknown"' in run.text and "sam@river.example" in run.text
        only = client.get("/runs/1", params={"state": "unknown"}).text
        assert "zoe@fleuve.example" not in only.split('id="messages"')[1].split('id="report"')[0]

        exported = client.get("/runs/1/export.csv")
        assert exported.headers["content-disposition"] == 'attachment; filename="run-1.csv"'
        table = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert {row["address"] for row in table} == EVERYONE
        assert all(not v.startswith("=") for row in table for v in row.values())
        book = load_workbook(io.BytesIO(client.get("/runs/1/export.xlsx").content))
        cells = [c.value for row in book.active.iter_rows() for c in row]  # type: ignore[union-attr]
        assert EVIL in cells and FORMULA not in cells

        settled = post(
            client, "/runs/1/resolve", "/runs/1", address="sam@river.example",
            action="mark-sent", note="seen in the newsroom",
        )  # fmt: skip
        assert settled.status_code == 303
        assert 'id="unknown"' not in client.get("/runs/1").text
    with verbs.open_log(ws.root, read_only=True) as log:
        assert verbs.run_report(log, 1).by_state == {"sent": len(EVERYONE)}
