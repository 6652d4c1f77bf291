"""No secret anywhere distrib writes, after a whole round of work: `distrib relay login` (the
local token service), `relay check`, a send with OAuth2 (tokens refreshed on the way), then
`distrib bounces`, `distrib unsubscribe` and `distrib replies` reading a real Dovecot over IMAP,
with OAuth2 and, separately, with passwords from the environment; then history, runs, reports
and exports.  The tokens (access and refresh), the client secrets and the passwords are looked
for in every command's output, every row of every table of the log, the HTML report, the
CSV/JSON/XLSX exports (inside the XLSX too) and every file of the workspace folder.  The token
cache holds the refresh token by design: it must be outside the workspace, and private (0600).

And the scanner is shown not to be blind: a secret planted in each place it covers is found.
"""

from __future__ import annotations

import base64
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from campaign_helpers import CampaignFiles, write_campaign
from distrib.cli import app
from secret_scan import SecretScan
from test_imap_mailbox import deliver, processed, url

runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def sent_messages(log: Path) -> list[tuple[str, str]]:
    """(address, Message-ID) of each message sent, in address order."""
    with sqlite3.connect(log) as db:
        rows = db.execute(
            "SELECT address, message_id FROM messages WHERE status = 'sent' ORDER BY address"
        )
        return [(a, m) for a, m in rows]


def mailbox_content(sent: list[tuple[str, str]]) -> list[bytes]:
    """A bounce for the first message sent, an opt-out from the second, a reply to the third."""
    (bounced, bounced_id), (leaving, _), (answering, answered_id) = sent[:3]
    bounce = f"""From: MAILER-DAEMON@relay.quais.example (Mail Delivery System)
To: presse@quais.example
Subject: Undelivered Mail Returned to Sender
Auto-Submitted: auto-replied
Message-ID: <bounce.1@relay.quais.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

Your message could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.quais.example

Final-Recipient: rfc822; {bounced}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{bounced}>: Recipient address rejected: User unknown

--BOUNDARY
Content-Type: text/rfc822-headers

From: presse@quais.example
To: {bounced}
Message-ID: {bounced_id}

--BOUNDARY--
"""
    optout = f"""From: <{leaving}>
To: presse@quais.example
Subject: unsubscribe
Message-ID: <optout.1@example.org>

"""
    reply = f"""From: <{answering}>
To: medias@quais.example
Subject: Re: Communique
Message-ID: <reply.1@example.org>
In-Reply-To: {answered_id}

Merci, je serai la.
"""
    return [text.replace("\n", "\r\n").encode() for text in (bounce, optout, reply)]


def read_the_mailbox(campaign: Path, server: Any, answering: str) -> list[tuple[str, str]]:
    """bounces, unsubscribe and replies from the workspace's [mailbox], as the officer would."""
    outputs = []
    code, out = distrib("bounces", "-c", str(campaign))
    assert code == 0 and "Recorded: 1 hard" in out, out
    outputs.append(("bounces", out))
    code, out = distrib("unsubscribe", "-c", str(campaign))
    assert code == 0 and "1 unsubscribe request(s)" in out, out
    outputs.append(("unsubscribe", out))
    code, out = distrib("replies", str(campaign))
    assert code == 0 and "Recorded 1 repl(y/ies): 1 from people" in out, out
    outputs.append(("replies", out))
    assert len(processed(server)) == 3  # each read and flagged over IMAP
    code, out = distrib("contacts", "history", answering, "-c", str(campaign))
    assert code == 0 and "Replies (1):" in out, out
    outputs.append(("contacts history", out))
    return outputs


def reports_and_exports(files: CampaignFiles) -> list[tuple[str, str]]:
    """The HTML report and the CSV/JSON/XLSX exports, written inside the workspace folder."""
    log = str(files.log)
    exports = files.folder / "exports"
    exports.mkdir()
    outputs = []
    code, out = distrib("report", "--log", log, "--html", str(exports / "report.html"))
    assert code == 0 and "Replies: 1 replies" in out, out
    outputs.append(("report", out))
    for fmt in ("csv", "json", "xlsx"):
        for extra in ([], ["--attempts"]):
            target = exports / f"log{'-attempts' if extra else ''}.{fmt}"
            code, out = distrib("log", "--log", log, *extra, "-f", fmt, "-o", str(target))
            assert code == 0 and target.stat().st_size > 0, out
            outputs.append((f"log {fmt} {extra}", out))
    outputs.append(("runs", distrib("runs", "--log", log)[1]))
    assert len(list(exports.iterdir())) == 7
    return outputs


# -- OAuth2 for sending and for the mailbox -----------------------------------------------------


def test_no_token_or_secret_anywhere_after_login_send_bounces_opt_outs_and_replies_with_oauth2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    token_server: Any,
    dovecot_oauth: Any,
    make_oauth_smtp_server: Callable[..., Any],
) -> None:
    config = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    user = dovecot_oauth.user  # the mailbox that sends and receives
    token_server.state.expires_in = 60  # every token is "about to expire": MSAL refreshes
    token_server.state.auto_approve = True
    token_server.state.signed_in_as = user
    outputs = []
    code, out = distrib(
        "relay", "login", "--provider", "microsoft365", "--tenant", "agapc",
        "--client-id", "c0ffee", "--user", user, "--authority-host", token_server.base,
        "--ca-file", token_server.ca_file, "--mailbox",
    )  # fmt: skip
    assert code == 0, out
    outputs.append(("relay login", out))
    smtp = make_oauth_smtp_server(lambda who, token: token_server.user_of(token) == who)
    files = write_campaign(
        tmp_path / "c",
        port=smtp.port,
        smtp_extra=(
            f'preset = "microsoft365"\nauth = "oauth2"\nusername = "{user}"\n'
            f'ca_file = "{token_server.ca_file}"\n'
            f'oauth = {{ tenant = "agapc", client_id = "c0ffee", authority_host = '
            f'"{token_server.base}", ca_file = "{token_server.ca_file}" }}\n'
        ),
    )
    text = files.campaign.read_text().replace('security = "none"', 'security = "starttls"')
    files.campaign.write_text(
        text.replace("connections = 2\n", "connections = 1\n")
        + f'\n[mailbox]\nurl = "{url(dovecot_oauth)}"\n'
        f'ca_file = "{dovecot_oauth.tls_files.ca_file}"\n'
    )
    outputs.append(("relay check", distrib("relay", "check", str(files.campaign), "--no-dns")[1]))
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    outputs.append(("send", out))
    assert len(smtp.messages()) == 5 and {a[0] for a in smtp.attempts()} == {"XOAUTH2"}
    sent = sent_messages(files.log)
    deliver(dovecot_oauth, mailbox_content(sent))
    outputs += read_the_mailbox(files.campaign, dovecot_oauth, sent[2][0])
    assert "method=XOAUTH2" in dovecot_oauth.log  # the mailbox was read with a token
    outputs += reports_and_exports(files)

    with token_server.state.lock:
        tokens = [*token_server.state.access, *token_server.state.refresh]
    secrets = [*tokens, token_server.state.client_secret, token_server.state.google_client_secret]
    assert len(tokens) > 4  # the sign-in's tokens and the refreshed ones
    # The XOAUTH2 blobs carry the tokens: look for them too.
    secrets += [
        base64.b64encode(f"user={user}\x01auth=Bearer {t}\x01\x01".encode()).decode()
        for t in token_server.state.access
    ]
    scan = SecretScan(secrets).outputs(outputs).log(files.log).folder(files.folder)
    assert scan.findings == []
    # The token cache, which holds the refresh token by design: outside the workspace, 0600.
    cached = [p for p in config.rglob("*") if p.is_file()]
    assert cached
    for path in cached:
        assert not path.resolve().is_relative_to(files.folder.resolve())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert SecretScan(tokens).folder(config).findings  # where the refresh token is kept


# -- passwords from the environment -------------------------------------------------------------


def test_no_password_anywhere_after_send_bounces_opt_outs_and_replies_with_passwords(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dovecot: Any,
    make_smtp_server: Callable[..., Any],
) -> None:
    smtp_password = "smtp-Pa55word-0042!"
    smtp = make_smtp_server(tls="starttls", users={"presse": smtp_password}, auth_required=True)
    monkeypatch.setenv("QUAYS_SMTP_PASSWORD", smtp_password)
    monkeypatch.setenv("QUAYS_IMAP_PASSWORD", dovecot.password)
    files = write_campaign(
        tmp_path / "c",
        port=smtp.port,
        smtp_extra=f'username = "presse"\npassword_env = "QUAYS_SMTP_PASSWORD"\n'
        f'ca_file = "{smtp.tls_files.ca_file}"\n',
    )
    text = files.campaign.read_text().replace('security = "none"', 'security = "starttls"')
    files.campaign.write_text(
        text + f'\n[mailbox]\nurl = "{url(dovecot)}"\npassword_env = "QUAYS_IMAP_PASSWORD"\n'
        f'ca_file = "{dovecot.tls_files.ca_file}"\n'
    )
    outputs = [("relay check", distrib("relay", "check", str(files.campaign), "--no-dns")[1])]
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    outputs.append(("send", out))
    assert len(smtp.messages) == 5
    sent = sent_messages(files.log)
    deliver(dovecot, mailbox_content(sent))
    outputs += read_the_mailbox(files.campaign, dovecot, sent[2][0])
    outputs += reports_and_exports(files)

    secrets = [smtp_password, dovecot.password]
    for user, password in (("presse", smtp_password), (dovecot.user, dovecot.password)):
        blob = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        secrets += [blob, blob.rstrip("="), base64.b64encode(password.encode()).decode()]
    scan = SecretScan(secrets).outputs(outputs).log(files.log).folder(files.folder)
    assert scan.findings == []


# -- the scanner is not blind ---------------------------------------------------------------------


def test_the_scanner_finds_a_secret_planted_in_each_place_it_covers(tmp_path: Path) -> None:
    secret = "eyJ0.at-planted-0123456789abcdef"
    other = "refresh-planted-fedcba9876543210"
    clean = SecretScan([secret, other])
    folder = tmp_path / "workspace"
    (folder / "exports").mkdir(parents=True)
    log = folder / "distrib-log.sqlite"
    with sqlite3.connect(log) as db:
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, note TEXT)")
        db.execute("CREATE TABLE replies (id INTEGER PRIMARY KEY, subject TEXT)")
        db.execute("INSERT INTO runs (note) VALUES ('535 5.7.8 [redacted]')")
    db.close()
    (folder / "notes.txt").write_text("nothing to see\n")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["address", "reply"])
    book.save(folder / "exports" / "log.xlsx")
    # Nothing planted yet: nothing found.
    assert clean.outputs([("send", "Run 1 finished")]).log(log).folder(folder).findings == []

    # An output string, also when a terminal wrapped the secret over two lines.
    found = SecretScan([secret]).output("send", f"535 {secret[:9]}\n  {secret[9:]}").findings
    assert found == ["output of send: secret #0"]
    # A row of a table the scanner was not told about.
    with sqlite3.connect(log) as db:
        db.execute("INSERT INTO replies (subject) VALUES (?)", (f"Re: {other}",))
    db.close()
    assert SecretScan([secret, other]).log(log).findings == ["log table replies: secret #1"]
    # An export cell: compressed inside the workbook, invisible to a plain byte search.
    sheet.append(["a@b.example", secret])
    book.save(folder / "exports" / "log.xlsx")
    assert secret.encode() not in (folder / "exports" / "log.xlsx").read_bytes()
    found = SecretScan([secret]).folder(folder / "exports").findings
    assert found == ["file log.xlsx, inside xl/worksheets/sheet1.xml: secret #0"]
    # A workspace file (and the log file itself, read as bytes).
    (folder / "notes.txt").write_text(f"token={secret}\n")
    found = SecretScan([secret, other]).folder(folder).findings
    assert "file notes.txt: secret #0" in found
    assert "file distrib-log.sqlite: secret #1" in found
    assert "file exports/log.xlsx, inside xl/worksheets/sheet1.xml: secret #0" in found
    # A folder skipped on purpose (the token cache) is not scanned.
    found = SecretScan([secret]).folder(folder, skip=[folder / "notes.txt"]).findings
    assert "file notes.txt: secret #0" not in found
