"""`[mailbox] sent_copy`: after a send, the run's first (or each) sent message is appended to
the mailbox's Sent folder on a real Dovecot (the server's SPECIAL-USE ``\\Sent`` folder, else
``sent_folder``), flagged ``\\Seen``, once: a resumed run appends nothing twice.  A mailbox
that cannot be reached is a warning; the send itself succeeds."""

from __future__ import annotations

import sqlite3
import ssl
from collections.abc import Iterator
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, CampaignFiles, parse, write_campaign
from distrib.cli import app
from smtp_server import SMTPTestServer, TLSFiles
from test_imap_mailbox import url

runner = CliRunner()
ZOE, MARC, ALICE, SAM, NOEMIE = EXPECTED  # in sending order
SPECIAL_USE = """
namespace inbox {
  inbox = yes
  mailbox "Sent Items" {
    auto = create
    special_use = \\Sent
  }
}
"""


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def dovecot_special_use(tls_files: TLSFiles) -> Iterator[Any]:
    """Dovecot whose Sent folder is "Sent Items", flagged ``\\Sent`` (RFC 6154)."""
    from dovecot_server import SKIP_REASON, DovecotServer, available

    if not available():
        pytest.skip(SKIP_REASON)
    server = DovecotServer.start(tls_files, extra_config=SPECIAL_USE)
    try:
        yield server
    finally:
        server.stop()


def campaign(
    tmp_path: Path, smtp: SMTPTestServer, dovecot: Any, mode: str, folder: str = ""
) -> CampaignFiles:
    """A campaign whose run pauses after Alice is blocked (Zoé and Marc sent), with the
    workspace's mailbox on ``dovecot``."""
    files = write_campaign(tmp_path / "c", port=smtp.port)
    text = files.campaign.read_text(encoding="utf-8")
    text = text.replace("connections = 2", "connections = 1\npause_after = 1")
    text += (
        f'\n[mailbox]\nurl = "{url(dovecot)}"\npassword_env = "QUAYS_IMAP_PASSWORD"\n'
        f'ca_file = "{dovecot.tls_files.ca_file}"\nsent_copy = "{mode}"\n{folder}'
    )
    files.campaign.write_text(text, encoding="utf-8")
    smtp.script("RCPT", "550 5.7.1 Blocked by policy", address=ALICE, times=1)
    return files


def folder_content(server: Any, folder: str) -> list[tuple[str, set[bytes], bytes]]:
    """(Message-ID, flags, bytes) of each message of ``folder``."""
    context = ssl.create_default_context(cafile=str(server.tls_files.ca_file))
    with IMAPClient("127.0.0.1", port=server.tls_port, ssl=True, ssl_context=context) as client:
        client.login(server.user, server.password)
        client.select_folder(folder, readonly=True)
        fetched = client.fetch(client.search(), ["FLAGS", "BODY.PEEK[]"])
    found = []
    for data in fetched.values():
        body = bytes(data[b"BODY[]"])
        found.append((str(parse(body)["Message-ID"]), set(data[b"FLAGS"]), body))
    return found


def sent_at(log: Path, address: str) -> str:
    with sqlite3.connect(log) as db:
        query = "SELECT sent_at FROM messages WHERE address = ?"
        return str(db.execute(query, (address,)).fetchone()[0])


def message_ids(log: Path) -> dict[str, str]:
    with sqlite3.connect(log) as db:
        return dict(db.execute("SELECT address, message_id FROM messages"))


def test_the_first_message_is_copied_to_sent_once_even_when_the_run_is_resumed(
    tmp_path: Path, smtp_server: SMTPTestServer, dovecot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUAYS_IMAP_PASSWORD", dovecot.password)
    files = campaign(tmp_path, smtp_server, dovecot, "first")
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 4, out  # paused after Alice's block
    # No SPECIAL-USE \Sent folder on this server: sent_folder's default, created.
    assert "Copied 1 message(s) to the folder 'Sent' (0 already there)." in out
    copies = folder_content(dovecot, "Sent")
    ids = message_ids(files.log)
    assert [(mid, flags) for mid, flags, _ in copies] == [(ids[ZOE], {b"\\Seen"})]
    # The copy is the message Zoé received, dated when the relay accepted it.
    received = parse(next(m for m in smtp_server.messages if m.rcpt_tos == (ZOE,)).data)
    copy = parse(copies[0][2])
    assert copy["Date"] == format_datetime(datetime.fromisoformat(sent_at(files.log, ZOE)))
    del copy["Date"], received["Date"]
    assert copy.as_bytes() == received.as_bytes()

    code, out = distrib("send", str(files.campaign), "--resume", "1", "--yes")
    assert code == 3, out  # finished, Alice failed
    assert "Copied 0 message(s) to the folder 'Sent' (1 already there)." in out
    assert [mid for mid, _, _ in folder_content(dovecot, "Sent")] == [ids[ZOE]]


def test_each_message_goes_to_the_special_use_sent_folder(
    tmp_path: Path,
    smtp_server: SMTPTestServer,
    dovecot_special_use: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = dovecot_special_use
    monkeypatch.setenv("QUAYS_IMAP_PASSWORD", server.password)
    files = campaign(tmp_path, smtp_server, server, "each", 'sent_folder = "Ignored"\n')
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 4, out
    assert "Copied 2 message(s) to the folder 'Sent Items' (0 already there)." in out
    code, out = distrib("send", str(files.campaign), "--resume", "1", "--yes")
    assert code == 3, out
    assert "Copied 2 message(s) to the folder 'Sent Items' (2 already there)." in out
    ids = message_ids(files.log)
    copies = folder_content(server, "Sent Items")
    assert sorted(mid for mid, _, _ in copies) == sorted(ids[a] for a in (ZOE, MARC, SAM, NOEMIE))
    assert all(flags == {b"\\Seen"} for _, flags, _ in copies)


def test_a_mailbox_that_refuses_is_a_warning_not_a_failed_send(
    tmp_path: Path, smtp_server: SMTPTestServer, dovecot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUAYS_IMAP_PASSWORD", "not-the-password-0042")
    files = campaign(tmp_path, smtp_server, dovecot, "first")
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 4, out  # the same exit as without a copy: paused after Alice's block
    assert "warning: the messages were sent, but no copy went to the Sent folder:" in out
    assert "the server refused the password" in out and "not-the-password-0042" not in out
    with sqlite3.connect(files.log) as db:
        states = dict(db.execute("SELECT address, status FROM messages"))
    assert states[ZOE] == states[MARC] == "sent"
    assert len([m for m in smtp_server.messages if m.accepted]) == 2
