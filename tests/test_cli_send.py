"""End to end: the `distrib` CLI on whole campaigns with messy lists, against a real SMTP server."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, NEVER, CampaignFiles, parse, parts, write_campaign
from distrib.cli import app
from smtp_server import SMTPTestServer

runner = CliRunner()


def distrib(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    return write_campaign(tmp_path / "c", port=smtp_server.port)


def log_rows(log: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(log) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM messages ORDER BY id"))


def test_send_delivers_one_message_per_valid_recipient_in_their_language(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 0, out
    received = smtp_server.messages
    # One message per valid recipient, each its own transaction with one recipient.
    assert sorted(r.rcpt_tos for r in received) == sorted((a,) for a in EXPECTED)
    for r in received:
        message = parse(r.data)
        (to,) = r.rcpt_tos
        language = EXPECTED[to]
        assert message["Content-Language"] == f"{language}-CA"
        assert message["To"].addresses[0].addr_spec == to
        subject = str(message["Subject"])
        assert subject.startswith("Communiqué" if language == "fr" else "News release")
        assert message["List-Unsubscribe"] == "<mailto:presse@quais.example?subject=unsubscribe>"
        assert r.mail_from == "presse@quais.example"
    for address in NEVER:
        assert not smtp_server.received_for(address)
    # The delivery log matches what the server received, message for message.
    rows = log_rows(campaign.log)
    sent = {row["address"]: row for row in rows if row["status"] == "sent"}
    assert set(sent) == set(EXPECTED)
    for r in received:
        row = sent[r.rcpt_tos[0]]
        assert parse(r.data)["Message-ID"] == row["message_id"]
        assert row["reply_code"] == 250 and row["attempts"] == 1 and row["sent_at"]
    assert "By state: sent 5 (total 5)" in out


def test_contact_fields_stay_inert_in_every_part(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    assert distrib("send", str(campaign.campaign), "--yes")[0] == 0
    (received,) = smtp_server.received_for("alice@quotidien.example")
    text, html = parts(parse(received.data))
    # HTML in a name is escaped in the HTML part and verbatim in the text part.
    assert "<img src=x onerror=alert(1)>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "Hello <img src=x onerror=alert(1)>," in text
    # Jinja syntax in a field is never evaluated.
    assert "{{ 7*7 }}" in received.data.decode() or "{{ 7*7 }}" in str(parse(received.data)["To"])
    assert "49" not in str(parse(received.data)["To"])
    # A header-injection attempt never reaches the server: that row was rejected.
    assert not any(b"victim@target.example" in r.data for r in smtp_server.messages)
    assert all("victim@target.example" not in r.rcpt_tos for r in smtp_server.messages)


def test_sending_again_skips_everyone_already_sent_unless_asked(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    assert distrib("send", str(campaign.campaign), "--yes")[0] == 0
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 0
    assert "Nothing to send." in out
    assert "5 already sent by an earlier run" in out
    assert len(smtp_server.messages) == 5
    code, out = distrib("send", str(campaign.campaign), "--yes", "--resend")
    assert code == 0, out
    assert len(smtp_server.messages) == 10


def test_send_asks_and_refuses_without_a_terminal(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    code, out = distrib("send", str(campaign.campaign))
    assert code == 2
    assert "refusing to send without confirmation" in out
    assert smtp_server.messages == []
    assert not campaign.log.exists() or log_rows(campaign.log) == []


def test_rendering_problems_block_the_whole_send(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    template = campaign.folder / "templates" / "fr" / "message.txt"
    text = template.read_text(encoding="utf-8")
    text = text.replace("{% block greeting %}", "{% block greeting %}{{ contact.beat_missing }}")
    template.write_text(text, encoding="utf-8")
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 1
    # One line for the one mistake, with how many messages it stops and where (not 3 lines).
    assert out.count("has no field 'beat_missing'") == 1
    [line] = [line for line in out.splitlines() if "beat_missing" in line]
    assert "(3 messages, e.g. " in line  # the three French contacts
    assert "medias.csv:2" in line  # examples say where the contacts came from
    assert "3 message(s) cannot be rendered:" in out
    assert "nothing was sent" in out
    assert smtp_server.messages == []


def test_a_refused_recipient_is_recorded_and_the_run_goes_on(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    smtp_server.script(
        "RCPT",
        "550 5.1.1 <sam.okafor@river.example>: no such user",
        address="sam.okafor@river.example",
    )
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 3, out  # finished with failures
    assert "Failed (1):" in out and "550 5.1.1" in out
    assert len(smtp_server.messages) == 4
    (row,) = [r for r in log_rows(campaign.log) if r["status"] == "failed"]
    assert row["address"] == "sam.okafor@river.example" and row["reply_code"] == 550


def test_connection_failure_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    files = write_campaign(tmp_path / "c", port=port)
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 1
    assert "error:" in out and "Traceback" not in out
    # The relay check before the run found it: no run recorded, nothing to clean up.
    assert "failed its check before the run" in out and "cannot connect" in out
    assert log_rows(files.log) == []


def test_authentication_failure_stops_the_run(
    tmp_path: Path, make_smtp_server: Callable[..., SMTPTestServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_smtp_server(tls="starttls", users={"presse": "right"}, auth_required=True)
    files = write_campaign(
        tmp_path / "c",
        port=server.port,
        smtp_extra='username = "presse"\npassword_env = "QUAYS_PW"\n'
        f'ca_file = "{server.tls_files.ca_file}"\n',
    )
    text = files.campaign.read_text().replace('security = "none"', 'security = "starttls"')
    files.campaign.write_text(text)
    monkeypatch.setenv("QUAYS_PW", "wrong-secret-value")
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 1
    assert "error:" in out
    assert "wrong-secret-value" not in out
    assert server.messages == []
    assert all(r["status"] == "ready" for r in log_rows(files.log))
    monkeypatch.setenv("QUAYS_PW", "right")
    code, out = distrib("send", str(files.campaign), "--yes")
    assert code == 0, out
    assert len(server.messages) == 5 and all(m.tls and m.user == "presse" for m in server.messages)


def test_the_summary_shows_what_an_officer_checks_last(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    """From, each language's label, subject and title, the relay and whether it is encrypted."""
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 0, out
    lines = out.splitlines()
    assert "  from: Service de presse <presse@quais.example>" in lines
    fr = lines.index("  fr:")
    assert lines[fr + 1 : fr + 4] == [
        "    label:   Pour diffusion immédiate",
        "    subject: Communiqué – La Coopérative des Quais ouvre un atelier",
        "    title:   La Coopérative des Quais ouvre un atelier",
    ]
    en = lines.index("  en:")
    assert lines[en + 1 : en + 4] == [
        "    label:   For immediate release",
        "    subject: News release – Quays Co-op opens a workshop",
        "    title:   Quays Co-op opens a workshop",
    ]
    assert (
        f"  relay: 127.0.0.1:{smtp_server.port}, not encrypted: for a local capture server only"
        in lines
    )
