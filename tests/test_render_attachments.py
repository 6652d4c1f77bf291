"""Attachment file names are header text: no header injection through them (CVE-2024-6923).

``=?utf-8?q?evil=0D=0AX-Injected:_yes?=.pdf`` is a legal file name on Linux.  Given it as a
``filename`` parameter, Python 3.11.7's email package decodes the encoded word and writes the
CR LF it holds as a real line break: the attachment part gains an ``X-Injected`` header in mail
actually sent.  distrib refuses such a name when it loads the release (naming the release file,
its line and the attachment), the renderer and both MIME writers refuse it again, and the
standard-library path parses each part it builds back and refuses any surprise.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import parse, write_campaign
from distrib.errors import ReleaseError, RenderError
from distrib.release import Release, load_release, read_release
from distrib.release_extras import Attachment
from distrib.render import Renderer
from distrib.render.fastmime import MessageWriter, attachment_bytes, mailbox
from distrib.render.mime import HeaderValues, attachment_part, build_message, make_message_id
from render_helpers import FR_FRONT, make_campaign, write_document
from smtp_server import SMTPTestServer

EVIL = "=?utf-8?q?evil=0D=0AX-Injected:_yes?=.pdf"
# Other spellings of the same trick: base64, upper case, in the middle of a name.
EVIL_NAMES = [
    EVIL,
    "=?utf-8?b?ZXZpbA0KWC1JbmplY3RlZDogeWVz?=.pdf",
    "=?UTF-8?Q?evil=0AX-Injected:_yes?=.pdf",
    "photo =?utf-8?q?x=0D=0AX-Injected:_yes?= finale.jpg",
]
PDF = b"%PDF-1.4 fiche technique\n" * 20

runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    from distrib.cli import app

    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def attach(release: Path, name: str) -> None:
    """Put ``name`` (a real file) in the release folder and in fr.md's front matter."""
    (release / name).write_bytes(PDF)
    french = release / "fr.md"
    text = french.read_text(encoding="utf-8")
    quoted = name.replace('"', '\\"')
    french.write_text(text.replace("---\n", f'---\nattachments: ["{quoted}"]\n', 1), "utf-8")


def every_part(message: EmailMessage) -> Iterator[EmailMessage]:
    yield message
    for part in message.walk():
        assert isinstance(part, EmailMessage)
        yield part


def test_an_encoded_word_file_name_refuses_the_release_and_nothing_is_sent(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    attach(files.folder / "release", EVIL)
    code, out = distrib("send", str(files.campaign), "--yes")
    for received in smtp_server.messages:  # had anything gone out, it would say so here
        for part in every_part(parse(received.data)):
            assert "X-Injected" not in part
    assert code == 1, out
    assert smtp_server.messages == []
    flat = " ".join(out.split())  # rich wraps long lines
    assert "release/fr.md:2: attachments:" in flat
    assert EVIL in flat
    assert "looks like an RFC 2047 encoded word" in flat


@pytest.mark.parametrize("name", EVIL_NAMES)
def test_the_release_names_its_file_line_and_attachment(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "release"
    write_document(folder, "fr", FR_FRONT)
    attach(folder, name)
    with pytest.raises(ReleaseError) as info:
        read_release(folder)
    [problem] = info.value.problems
    assert problem.code == "attachment"
    assert problem.where is not None
    assert (Path(problem.where.path).name, problem.where.row) == ("fr.md", 2)
    assert problem.message.startswith(f"attachments: {name!r}: the file name looks like an RFC")


@pytest.mark.parametrize(
    "name", ["communiqué été.pdf", "a=?b.pdf", "fiche?=.pdf", "Q&A (2027) «final».pdf"]
)
def test_ordinary_names_are_kept(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "release"
    write_document(folder, "fr", FR_FRONT)
    attach(folder, name)
    [attachment] = read_release(folder).documents["fr"].attachments
    assert attachment.filename == name


def test_a_non_ascii_file_name_reaches_the_server_intact(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    attach(files.folder / "release", "communiqué été.pdf")
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    french = [r for r in smtp_server.messages if b"Content-Language: fr-CA" in r.data]
    assert french
    for received in french:
        message = parse(received.data)
        [attachment] = list(message.iter_attachments())
        assert attachment.get_filename() == "communiqué été.pdf"
        assert attachment.get_content() == PDF
        assert b"filename*=utf-8''communiqu%C3%A9%20%C3%A9t%C3%A9.pdf" in received.data
        for part in every_part(message):
            assert "X-Injected" not in part


def forged(name: str, data: bytes = PDF) -> Attachment:
    """An attachment that did not come through `load_release` (which would refuse it)."""
    path = Path("/release") / hashlib.sha256(name.encode()).hexdigest()
    return Attachment(name, path, name, "application/pdf", data, hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast-path", "jinja-path"])
def test_the_renderer_refuses_a_release_that_bypassed_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    campaign = make_campaign(tmp_path)
    release = load_release(campaign)
    french = dataclasses.replace(release.documents["fr"], attachments=(forged(EVIL),))
    documents = {**release.documents, "fr": french}
    with pytest.raises(RenderError) as info:
        Renderer(campaign, Release(release.folder, documents), fast_path=fast_path)
    [problem] = info.value.problems
    assert problem.code == "attachment"
    assert problem.where is not None and Path(problem.where.path).name == "fr.md"
    assert problem.message.startswith(f"attachments: attachment {EVIL!r}: the file name looks")


def header_values() -> HeaderValues:
    return HeaderValues(
        sender=mailbox("Service de presse", "presse@agapc.example"),
        recipient=mailbox("Zoé", "zoe@exemple.ca"),
        subject="Communiqué",
        date="Thu, 04 Nov 2027 09:00:00 -0500",
        message_id=make_message_id("run", "zoe", "agapc.example"),
        content_language="fr-CA",
        list_unsubscribe="<mailto:desabonnement@agapc.example?subject=unsubscribe>",
    )


@pytest.mark.parametrize("name", [*EVIL_NAMES, "a\r\nX-Injected: yes.pdf", "\x00.pdf", " "])
def test_both_mime_writers_refuse_such_a_name(name: str) -> None:
    attachment = forged(name)
    with pytest.raises(ValueError, match="attachment"):
        MessageWriter().write(header_values(), "texte", "<p>texte</p>", [attachment])
    with pytest.raises(ValueError, match="attachment"):
        build_message(header_values(), "texte", "<p>texte</p>", [attachment])


def test_the_standard_library_path_parses_each_part_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the name rule, the standard library would write the injected header: the check
    of the part it built refuses it all the same.  The fast writer never decodes a name, so
    the same name cannot add a header there either (the rule still refuses it, above)."""
    import distrib.render.mime

    monkeypatch.setattr(distrib.render.mime, "attachment_name_problem", lambda name: None)
    attachment_part.cache_clear()
    attachment = forged(EVIL, data=b"other bytes")
    with pytest.raises(ValueError, match="X-Injected"):
        attachment_part(attachment)
    head = attachment_bytes(attachment).partition(b"\r\n\r\n")[0].replace(b"\r\n ", b" ")
    assert [line.split(b":")[0] for line in head.split(b"\r\n")] == [
        b"Content-Type",
        b"Content-Transfer-Encoding",
        b"Content-Disposition",
    ]
    assert head.endswith(b'filename="' + EVIL.encode() + b'"')
