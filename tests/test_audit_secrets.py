"""The delivery log never holds the SMTP password or a message body: scan the whole SQLite file
(and its WAL) after a real authenticated send and after reading a bounce that quotes the body."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, parse, parts, write_campaign
from distrib.cli import app
from smtp_server import SMTPTestServer

PASSWORD = "Quais-s3cret-2027!"
BODY_FR = "ouvre aujourd'hui un atelier de réparation de vélos"
BODY_EN = "opens a bicycle repair workshop today"
runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def log_bytes(log: Path) -> bytes:
    """Every byte of the log: the database, its write-ahead log and shared memory, if any."""
    files = [log, *(log.with_name(log.name + suffix) for suffix in ("-wal", "-shm", "-journal"))]
    return b"".join(f.read_bytes() for f in files if f.exists())


def test_no_password_and_no_body_in_the_log(
    tmp_path: Path,
    make_smtp_server: Callable[..., SMTPTestServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = make_smtp_server(tls="starttls", users={"presse": PASSWORD}, auth_required=True)
    files = write_campaign(
        tmp_path / "c",
        port=server.port,
        smtp_extra='username = "presse"\npassword_env = "QUAYS_PW"\n'
        f'ca_file = "{server.tls_files.ca_file}"\n',
    )
    text = files.campaign.read_text().replace('security = "none"', 'security = "starttls"')
    files.campaign.write_text(text)
    monkeypatch.setenv("QUAYS_PW", PASSWORD)
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    # The test is only worth something if the server did get the password and the bodies.
    assert len(server.messages) == len(EXPECTED)
    assert all(m.tls and m.user == "presse" for m in server.messages)
    bodies = " ".join(" ".join(parts(parse(m.data))) for m in server.messages)
    assert BODY_FR in bodies and BODY_EN in bodies

    # A bounce that returns the whole message, body included, is read into the log too.
    noemie = next(m for m in server.messages if m.rcpt_tos == ("noemie@river.example",))
    dsn = (Path(__file__).parent / "data" / "bounces" / "postfix-mailbox-full.eml").read_text(
        encoding="utf-8"
    )
    dsn = dsn.replace(
        "<distrib.5d41402abc4b.3a5c7e9b1d3f5a7c9e1b3d5f@quais.example>",
        str(parse(noemie.data)["Message-ID"]),
    )
    assert BODY_FR in dsn
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(dsn.encode("utf-8"))
    box.close()
    code, out = distrib("bounces", str(tmp_path / "Maildir"), "-c", str(files.campaign))
    assert code == 0 and "Recorded: 0 hard, 1 soft" in out, out

    stored = log_bytes(files.log)
    assert len(stored) > 10_000
    for secret in (PASSWORD, BODY_FR, BODY_EN, "atelier de réparation"):
        assert secret.encode("utf-8") not in stored, secret
        assert secret.encode("utf-16-le") not in stored, secret
    # What *is* kept about each message: enough to prove what was sent, not what it said.
    assert b"Communiqu\xc3\xa9 \xe2\x80\x93 La Coop\xc3\xa9rative des Quais" in stored  # subject
