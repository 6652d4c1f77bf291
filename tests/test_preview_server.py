"""The preview web server: recipients, filters, message view, problems view, and its defences."""

from __future__ import annotations

import email
import email.policy
import http.client
from collections.abc import Iterator

import pytest

from distrib.preview import PreviewSet
from distrib.web.preview_server import PreviewServer
from preview_helpers import ATTACHMENT, preview_set

ADDRESSES = {
    "zoe.belanger@fleuve.example",
    "Marc.Tremblay@fleuve.example",
    "alice@quotidien.example",
    "sam.okafor@river.example",
    "noemie@river.example",
    "lea@deuxrives.example",
    "remi@radiotest.example",
}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> PreviewSet:
    return preview_set(tmp_path_factory.mktemp("preview"))


@pytest.fixture(scope="module")
def server(collected: PreviewSet) -> Iterator[PreviewServer]:
    running = PreviewServer(collected).start()
    yield running
    running.stop()


def get(
    server: PreviewServer, path: str, host: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{server.port}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def page(server: PreviewServer, path: str) -> str:
    status, headers, body = get(server, path)
    assert status == 200, body
    assert "script-src" not in headers["content-security-policy"]
    assert headers["content-security-policy"].startswith("default-src 'none'")
    return body.decode("utf-8")


def listed(html: str) -> set[str]:
    import re

    return set(re.findall(r'<td class="address"[^>]*>([^<]+)</td>', html))


def test_collect_keeps_every_contact_outcome(collected: PreviewSet) -> None:
    assert {e.contact.address for e in collected.entries} == ADDRESSES
    failing = [e for e in collected.entries if not e.ok]
    assert [e.contact.address for e in failing] == ["remi@radiotest.example"]
    assert failing[0].problems[0].code == "undefined"
    assert [p.code for p in collected.problems] == ["undefined"]
    languages = {e.contact.address: e.language for e in collected.entries}
    assert languages["lea@deuxrives.example"] == "both"
    assert languages["sam.okafor@river.example"] == "en"


def test_the_list_shows_every_recipient(server: PreviewServer) -> None:
    html = page(server, "/")
    assert listed(html) == ADDRESSES
    assert "7 / 7 destinataires" in html
    # A hostile name from a media list is escaped, never markup.
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?lang=en", {"alice@quotidien.example", "sam.okafor@river.example"}),
        ("?lang=both", {"lea@deuxrives.example"}),
        ("?outlet=le-fleuve", {"zoe.belanger@fleuve.example", "Marc.Tremblay@fleuve.example"}),
        ("?status=problems", {"remi@radiotest.example"}),
        ("?q=okafor", {"sam.okafor@river.example"}),
        ("?q=No%C3%A9mie", {"noemie@river.example"}),
        ("?q=FLEUVE&lang=fr", {"zoe.belanger@fleuve.example", "Marc.Tremblay@fleuve.example"}),
        ("?q=nobody", set()),
    ],
)
def test_filters_and_search(server: PreviewServer, query: str, expected: set[str]) -> None:
    assert listed(page(server, "/" + query)) == expected


def test_a_message_page_shows_headers_parts_and_attachments(
    server: PreviewServer, collected: PreviewSet
) -> None:
    entry = next(e for e in collected.entries if e.contact.address == "zoe.belanger@fleuve.example")
    html = page(server, f"/message/{entry.number}")
    assert f'<iframe id="html-part" sandbox="" src="/message/{entry.number}/html"' in html
    assert "Bonjour Zoé," in html  # the text part
    assert "<th>List-Id</th>" in html and "<th>List-Unsubscribe</th>" in html
    assert f"fiche.pdf</a> (application/pdf, {len(ATTACHMENT)} bytes)" in html
    status, headers, body = get(server, f"/message/{entry.number}/html")
    assert status == 200 and headers["content-security-policy"].startswith("sandbox;")
    assert "Bonjour Zoé," in body.decode("utf-8")
    status, headers, body = get(server, f"/message/{entry.number}.eml")
    assert headers["content-type"] == "message/rfc822"
    message = email.message_from_bytes(body, policy=email.policy.default)
    assert message["To"].addresses[0].addr_spec == "zoe.belanger@fleuve.example"
    status, headers, body = get(server, f"/message/{entry.number}/attachment/0")
    assert (status, body) == (200, ATTACHMENT)
    assert headers["content-disposition"] == 'attachment; filename="fiche.pdf"'


def test_the_problems_view_lists_blocking_problems_and_warnings(
    server: PreviewServer, collected: PreviewSet
) -> None:
    html = page(server, "/problems")
    blocking = html.split('id="blocking"')[1].split("</section>")[0]
    assert "remi@radiotest.example" in blocking
    assert "&#39;contact&#39; has no field &#39;rubrique&#39;" in blocking
    warnings = html.split('id="warnings"')[1].split("</section>")[0]
    assert "unused-outlet" in warnings and "outlets/nulle-part" in warnings
    rejected = html.split('id="rejected"')[1]
    assert "pas-une-adresse@" in rejected
    failing = next(e for e in collected.entries if not e.ok)
    page_of_failing = page(server, f"/message/{failing.number}")
    assert "Problèmes / Problems" in page_of_failing and "<iframe" not in page_of_failing


def test_wrong_host_unknown_paths_and_numbers(server: PreviewServer) -> None:
    assert get(server, "/", host="attacker.example")[0] == 403
    assert get(server, "/", host=f"localhost:{server.port}")[0] == 200
    assert get(server, "/nope")[0] == 404
    assert get(server, "/message/0")[0] == 404
    assert get(server, "/message/999")[0] == 404
    assert get(server, "/message/1/attachment/9")[0] in (404,)


def test_listens_on_loopback_only(server: PreviewServer) -> None:
    assert server.httpd.server_address[0] == "127.0.0.1"
    assert server.url == f"http://127.0.0.1:{server.port}/"


def test_no_page_holds_a_script(server: PreviewServer, collected: PreviewSet) -> None:
    for path in ("/", "/problems", *(f"/message/{e.number}" for e in collected.entries)):
        assert "<script" not in page(server, path).lower()


def test_the_problems_view_groups_identical_problems(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A mistake in the French template stops every French message: one line, with the count
    and links to the first three, never one line per contact."""
    from distrib.app import collect_preview
    from distrib.config import load_campaign
    from preview_helpers import write_preview_campaign

    files = write_preview_campaign(tmp_path_factory.mktemp("grouped"))
    template = files.folder.parent / "templates" / "fr" / "message.txt"
    text = template.read_text(encoding="utf-8")
    template.write_text(
        text.replace("{% block greeting %}", "{% block greeting %}{{ contact.prenom }}")
    )
    running = PreviewServer(collect_preview(load_campaign(files.campaign))).start()
    try:
        blocking = page(running, "/problems").split('id="blocking"')[1].split("</section>")[0]
    finally:
        running.stop()
    lines = [line for line in blocking.split("<li>")[1:] if "prenom" in line]
    assert len(lines) == 1, blocking
    [line] = lines
    assert "did you mean contact.first_name (the column &#39;Prénom&#39;)?" in line
    assert '<span class="count">× 4</span>' in line  # Zoé, Marc, Rémi and Noémie
    assert line.count('<a href="/message/') == 3
    assert "Undefined" not in blocking


def test_the_served_preview_follows_its_files(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`preview --serve` collects the preview again when the release, the templates, the
    lists or the campaign file change; a change that cannot be read keeps the last preview
    and says why."""
    import os

    from distrib.app import LivePreview
    from preview_helpers import write_preview_campaign

    files = write_preview_campaign(tmp_path_factory.mktemp("live"))
    live = LivePreview(files.campaign)
    assert {files.campaign, files.folder / "release", files.folder / "medias.csv"} <= set(
        live.paths
    )
    running = PreviewServer(live).start()

    def touch(path: os.PathLike[str], text: str) -> None:
        with open(path, "a", encoding="cp1252" if str(path).endswith(".csv") else "utf-8") as f:
            f.write(text)

    try:
        first = page(running, "/")
        assert 'id="live"' in first and "rebuilt at" in first
        assert len(listed(first)) == 7
        # A new contact in a list, a new subject in the templates: both show on reload.
        touch(files.folder / "medias.csv", "nouveau@fleuve.example;Noé;Lac;Le Fleuve;fr\n")
        subject = files.folder.parent / "templates" / "fr" / "subject.txt"
        subject.write_text("Nouvel objet {{ release.subject }}\n", encoding="utf-8")
        second = page(running, "/")
        assert "nouveau@fleuve.example" in listed(second)
        assert "Nouvel objet" in second
        assert live.builds == 2
        # A release that no longer reads: the last preview stays, and the page says why.
        fr = files.folder / "release" / "fr.md"
        fr.write_text(fr.read_text(encoding="utf-8").replace("title:", "title: [", 1))
        third = page(running, "/")
        assert "nouveau@fleuve.example" in listed(third)
        assert 'class="live failed"' in third and "front matter is not valid YAML" in third
    finally:
        running.stop()


def test_a_served_release_of_a_workspace_follows_its_release_toml_and_its_options(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """In a workspace, `preview --serve` finds the release again by its folder (the workspace
    file is not a campaign file), follows distrib.toml and release.toml, and keeps the
    command's --only at every rebuild."""
    from distrib.app import Selection, live_preview, open_release
    from workspace_helpers import CULTURE, FIRST, write_workspace

    ws = write_workspace(tmp_path_factory.mktemp("live-ws") / "ws", port=2525)
    live = live_preview(open_release(ws.release(FIRST)), selection=Selection(("beat=Culture",)))
    assert {ws.file, ws.release(FIRST)} <= set(live.paths)

    def addresses() -> set[str]:
        return {e.contact.email for e in live.current().entries}

    assert addresses() == CULTURE
    (ws.release(FIRST) / "release.toml").write_text(
        '[audience]\nexclude = { outlet = "The Daily River" }\n', encoding="utf-8"
    )
    assert addresses() == {"zoe@fleuve.example", "lea@estrie.example"}  # and still Culture
    assert live.builds == 2 and live.error == ""
    ws.file.write_text(ws.file.read_text(encoding="utf-8").replace("timezone =", "timezone = ["))
    assert addresses() == {"zoe@fleuve.example", "lea@estrie.example"}  # the last good one
    assert "distrib.toml" in live.error
