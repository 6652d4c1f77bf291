"""`distrib send --test-to`: the officer's copy, through the real relay, never counted as sent."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, CampaignFiles, parse, parts, write_campaign
from distrib.cli import app
from smtp_server import SMTPTestServer

runner = CliRunner()
OFFICER = "agent@quais.example"


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def campaign(tmp_path: Path, smtp_server: SMTPTestServer) -> CampaignFiles:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    # A bilingual journalist, so the test send covers the three kinds of message.
    with (files.folder / "medias.csv").open("ab") as csv:
        csv.write("lea@deuxrives.example;Léa;Roy;Les Deux Rives;bilingue\n".encode("cp1252"))
    return files


def rows(log: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(log) as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM messages ORDER BY id"))


def test_one_message_per_language_goes_to_the_officer_only(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    code, out = distrib("send", str(campaign.campaign), "--test-to", OFFICER)
    assert code == 0, out
    received = smtp_server.messages
    assert [r.rcpt_tos for r in received] == [(OFFICER,)] * 3
    by_language = {}
    for r in received:
        message = parse(r.data)
        assert message["To"].addresses[0].addr_spec == OFFICER
        assert str(message["Subject"]).startswith("[TEST] ")
        by_language[str(message["Content-Language"])] = message
    assert set(by_language) == {"fr-CA", "en-CA", "fr-CA, en-CA"}
    text, _html = parts(by_language["fr-CA, en-CA"])
    text = text.replace("\r\n", "\n")
    assert text.startswith("English follows\n") and "Bonjour Léa," in text and "Hello Léa," in text
    assert "3 of 3 test message(s) sent to agent@quais.example" in out
    # In the log: a run of test messages, none counted as sent to a contact.
    logged = rows(campaign.log)
    assert [row["status"] for row in logged] == ["test"] * 3
    assert all(row["key"].startswith("test:") and row["address"] == OFFICER for row in logged)


def test_a_test_send_does_not_stop_the_real_send(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    assert distrib("send", str(campaign.campaign), "--test-to", OFFICER)[0] == 0
    code, out = distrib("send", str(campaign.campaign), "--yes")
    assert code == 0, out
    real = [r.rcpt_tos[0] for r in smtp_server.messages if r.rcpt_tos != (OFFICER,)]
    assert sorted(real) == sorted([*EXPECTED, "lea@deuxrives.example"])
    assert "0 already sent by an earlier run" in out


def test_as_picks_the_contact(campaign: CampaignFiles, smtp_server: SMTPTestServer) -> None:
    code, out = distrib(
        "send", str(campaign.campaign), "--test-to", OFFICER, "--as", "SAM.OKAFOR@river.example"
    )
    assert code == 0, out
    [received] = smtp_server.messages
    message = parse(received.data)
    assert message["Content-Language"] == "en-CA"
    text = parts(message)[0].replace("\r\n", "\n")
    assert text.startswith("For immediate release\n\nHello Sam,")
    [row] = rows(campaign.log)
    assert row["key"] == "test:en:sam.okafor@river.example" and row["status"] == "test"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--test-to", "pas une adresse"), "not a usable address"),
        (("--test-to", "a@b.example\r\nBcc: x@y.example"), "not a usable address"),
        (("--test-to", OFFICER, "--as", "nobody@nowhere.example"), "no contact with this address"),
        (("--as", "sam.okafor@river.example"), "--as needs --test-to"),
    ],
)
def test_bad_test_sends_are_clear_errors(
    campaign: CampaignFiles, smtp_server: SMTPTestServer, args: tuple[str, ...], fragment: str
) -> None:
    code, out = distrib("send", str(campaign.campaign), *args)
    assert code in (1, 2)
    assert fragment in out
    assert smtp_server.messages == []


def test_a_refused_test_message_is_reported(
    campaign: CampaignFiles, smtp_server: SMTPTestServer
) -> None:
    smtp_server.script("RCPT", "550 5.1.1 No such user", address=OFFICER)
    code, out = distrib("send", str(campaign.campaign), "--test-to", OFFICER)
    assert code == 3
    assert "0 of 3 test message(s) sent" in out
    assert {row["status"] for row in rows(campaign.log)} == {"failed"}
    # The officer's own address mistyped is not a journalist to suppress for the workspace.
    code, out = distrib("suppressions", "--log", str(campaign.log))
    assert OFFICER not in out
