"""Opt-outs: typed addresses and List-Unsubscribe requests go on the log's suppression list, and
no later run sends to them (end to end against the real test SMTP server)."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_helpers import Clock, Person, add_run, open_log
from campaign_helpers import EXPECTED, parse, write_campaign
from distrib.cli import app
from distrib.deliverylog import DeliveryLog, NewMessage
from distrib.optout import requests_from_mailbox, unsubscribe_addresses
from smtp_server import SMTPTestServer

CORPUS = Path(__file__).parent / "data" / "bounces"
runner = CliRunner()


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    clock = Clock()
    with open_log(tmp_path / "distrib-log.sqlite", clock) as opened:
        people = [
            Person("Sam.Okafor@river.example", "Sam", "The Daily River", "en"),
            Person("claire@hebdo.example", "Claire", "L'Hebdo", "fr"),
            Person("zoe@fleuve.example", "Zoé", "Le Fleuve", "fr"),
        ]
        digests = ["6e8a0c2e4a6c8e0a2c4e6a8c", "5e7a9c1e3a5c7e9a1c3e5a7c", "0" * 24]
        add_run(opened, clock, people,
                ids=lambda i: f"<distrib.5d41402abc4b.{digests[i]}@quais.example>")  # fmt: skip
        yield opened


def test_typed_addresses_are_checked_then_suppressed_once(log: DeliveryLog) -> None:
    outcome = unsubscribe_addresses(log, ["zoe@fleuve.example", "pas une adresse", "x@"])
    assert [str(p) for p in outcome.problems] == [
        "command line:address 2: 'pas une adresse': not a valid address"
        " (An email address must have an @-sign.)",
        "command line:address 3: 'x@': not a valid address"
        " (There must be something after the @-sign.)",
    ]
    assert log.suppressions() == []  # nothing recorded while one is wrong
    outcome = unsubscribe_addresses(log, [" ZOE+presse@Fleuve.example "], note="par téléphone")
    assert [o.address for o in outcome.added] == ["ZOE+presse@fleuve.example"]
    again = unsubscribe_addresses(log, ["zoe@fleuve.example"])  # same person: case, +tag
    assert again.added == [] and [o.address for o in again.already] == ["zoe@fleuve.example"]
    (entry,) = log.suppressions()
    assert (entry.reason, entry.source, entry.note) == ("unsubscribed", "command line",
                                                        "par téléphone")  # fmt: skip
    assert entry.key == "zoe@fleuve.example" and entry.created_at.startswith("2027-02-02T14:00")


def test_a_dry_run_records_nothing(log: DeliveryLog) -> None:
    outcome = unsubscribe_addresses(log, ["zoe@fleuve.example"], dry_run=True)
    assert [o.address for o in outcome.added] == ["zoe@fleuve.example"]
    assert log.suppressions() == []


def test_waiting_messages_are_stopped_at_once(log: DeliveryLog) -> None:
    run = log.create_run("printemps", "printemps/campaign.toml")
    log.add_messages(run.id, [
        NewMessage(key="z", recipient="Zoe@fleuve.example", address="Zoe@fleuve.example"),
        NewMessage(key="c", recipient="claire@hebdo.example", address="claire@hebdo.example"),
    ])  # fmt: skip
    outcome = unsubscribe_addresses(log, ["zoe@fleuve.example"])
    assert outcome.stopped == 1
    assert [(m.address, m.status) for m in log.messages(run.id)] == [
        ("Zoe@fleuve.example", "suppressed"), ("claire@hebdo.example", "ready"),
    ]  # fmt: skip
    assert log.messages(run.id)[0].note == "unsubscribed (command line)"


def test_requests_are_read_from_the_mailbox_by_sender_and_token(
    log: DeliveryLog, tmp_path: Path
) -> None:
    outcome = requests_from_mailbox(CORPUS, log)
    assert outcome.read == len(list(CORPUS.glob("*.eml"))) and outcome.requests == 2
    assert len(outcome.bounces) == 10 and len(outcome.auto_replies) == 4
    assert len(outcome.other) == 1
    got = {(o.address, o.how, o.message) for o in outcome.added}
    messages = {m.address: m.id for m in log.messages(1)}
    assert got == {
        ("Sam.Okafor@river.example", "From", None),
        ("claire.dubois@courriel.example", "From", None),
        # The token in "désabonnement 5e7a…" names the newsroom address she was sent to.
        ("claire@hebdo.example", "token", messages["claire@hebdo.example"]),
    }
    dated = {s.address: s.requested_at for s in log.suppressions()}
    assert dated["claire@hebdo.example"] == "2027-02-04T13:45:00.000+00:00"
    assert dated["Sam.Okafor@river.example"] == "2027-02-03T16:20:00.000+00:00"


def test_a_reply_saying_unsubscribe_is_matched_by_in_reply_to(
    log: DeliveryLog, tmp_path: Path
) -> None:
    (tmp_path / "req.eml").write_bytes(
        b"From: Z <zb.perso@courriel.example>\r\nTo: presse@quais.example\r\n"
        b"Subject: RE: unsubscribe\r\nDate: Fri, 5 Feb 2027 10:00:00 -0500\r\n"
        b"In-Reply-To: <distrib.5d41402abc4b.000000000000000000000000@quais.example>\r\n"
        b"\r\nStop.\r\n"
    )
    outcome = requests_from_mailbox(tmp_path / "req.eml", log)
    assert {(o.address, o.how) for o in outcome.added} == {
        ("zb.perso@courriel.example", "From"), ("zoe@fleuve.example", "In-Reply-To"),
    }  # fmt: skip


def test_an_automatic_reply_to_an_unsubscribe_is_not_an_opt_out(
    log: DeliveryLog, tmp_path: Path
) -> None:
    (tmp_path / "auto.eml").write_bytes(
        b"From: zoe@fleuve.example\r\n"
        b"Subject: =?utf-8?q?R=C3=A9ponse_automatique_=3A_unsubscribe?=\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\nAbsente.\r\n"
    )
    outcome = requests_from_mailbox(tmp_path / "auto.eml", log)
    assert outcome.added == [] and len(outcome.auto_replies) == 1


# -- end to end ------------------------------------------------------------------------------


def dsn_for(address: str, message_id: str) -> bytes:
    """The corpus's Postfix user-unknown DSN, about one of the messages really sent."""
    text = (CORPUS / "postfix-user-unknown.eml").read_text(encoding="utf-8")
    text = text.replace("<distrib.5d41402abc4b.1c3e5a7b9d0f2e4a6c8b0d1f@quais.example>", message_id)
    return (
        text.replace("marc.tremblay@fleuve.example", address)
        .replace("Marc.Tremblay@fleuve.example", address)
        .encode("utf-8")
    )


def test_unsubscribed_and_hard_bounced_addresses_get_nothing_from_the_next_run(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    campaign = str(files.campaign)
    code, out = distrib("send", campaign, "--yes")
    assert code == 0, out
    assert len(smtp_server.messages) == len(EXPECTED)
    zoe_id = next(
        str(parse(m.data)["Message-ID"])
        for m in smtp_server.messages
        if m.rcpt_tos == ("zoe.belanger@fleuve.example",)
    )
    # What came back to presse@quais.example: an opt-out, a bounce, an out-of-office.
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add((CORPUS / "unsubscribe-mailto.eml").read_bytes())  # From: Sam.Okafor@River.example
    box.add(dsn_for("zoe.belanger@fleuve.example", zoe_id))
    box.add((CORPUS / "ooo-fr-auto-replied.eml").read_bytes())
    box.close()

    code, out = distrib("unsubscribe", "--mailbox", str(tmp_path / "Maildir"), "-c", campaign)
    assert code == 0, out
    assert "1 unsubscribe request(s), 1 bounce(s)" in out
    assert "Suppressed Sam.Okafor@river.example" in out
    code, out = distrib("unsubscribe", "Marc.Tremblay@FLEUVE.example", "-c", campaign)
    assert code == 0 and "Suppressed Marc.Tremblay@fleuve.example" in out
    code, out = distrib("bounces", str(tmp_path / "Maildir"), "-c", campaign)
    assert code == 0 and "Recorded: 1 hard, 0 soft" in out, out

    before = len(smtp_server.messages)
    code, out = distrib("send", campaign, "--yes", "--resend")
    assert code == 0, out
    second = smtp_server.messages[before:]
    assert sorted(m.rcpt_tos for m in second) == [
        ("alice@quotidien.example",), ("noemie@river.example",)
    ]  # fmt: skip
    for gone in ("sam.okafor@river.example", "zoe.belanger@fleuve.example",
                 "Marc.Tremblay@fleuve.example"):  # fmt: skip
        assert len(smtp_server.received_for(gone)) == 1  # the first run's, and no other

    code, text = distrib("suppressions", "-c", campaign, "-f", "json")
    assert code == 0, text
    assert sorted((s["address"], s["reason"]) for s in json.loads(text)) == [
        ("Marc.Tremblay@fleuve.example", "unsubscribed"),
        ("Sam.Okafor@river.example", "unsubscribed"),
        ("zoe.belanger@fleuve.example", "hard bounce"),
    ]
    code, out = distrib("contacts", "history", "sam.okafor@river.example", "-c", campaign)
    assert code == 0, out
    assert "1 message(s) in 1 run(s), 1 delivered" in out
    assert "On the suppression list: unsubscribed on 2027-02-03" in out
    code, out = distrib("contacts", "history", "zoe.belanger@fleuve.example", "-c", campaign)
    assert "0 delivered" in out and "hard bounce" in out


def test_history_lists_every_run_and_message_of_one_journalist(
    tmp_path: Path, smtp_server: SMTPTestServer
) -> None:
    files = write_campaign(tmp_path / "c", port=smtp_server.port)
    campaign = str(files.campaign)
    assert distrib("send", campaign, "--yes")[0] == 0
    assert distrib("send", campaign, "--yes", "--resend")[0] == 0
    code, text = distrib(
        "contacts", "history", "ZOE.Belanger+tag@fleuve.example", "-c", campaign, "-f", "json"
    )
    assert code == 0, text
    rows = json.loads(text)
    assert [(r["run"], r["status"], r["campaign"]) for r in rows] == [
        (1, "sent", "quays"), (2, "sent", "quays")
    ]  # fmt: skip
    assert rows[0]["message_id"] != rows[1]["message_id"]
    assert all(r["subject"].startswith("Communiqué") for r in rows)
    code, out = distrib("contacts", "history", "personne@nulle-part.example", "-c", campaign)
    assert code == 0 and "0 message(s) in 0 run(s)" in out
    code, out = distrib("contacts", "history", "pas-une-adresse", "-c", campaign)
    assert code == 2 and "not a valid address" in out


def test_unsubscribe_command_mistakes(tmp_path: Path) -> None:
    code, out = distrib("unsubscribe", "--log", str(tmp_path / "l.sqlite"))
    assert code == 2 and "name at least one address" in out
    log = str(tmp_path / "l.sqlite")
    code, out = distrib("unsubscribe", "bad@@x", "ok@fine.example", "--log", log)
    assert code == 1 and "address 1: 'bad@@x'" in out and "Nothing was recorded" in out
    code, out = distrib("suppressions", "--log", str(tmp_path / "l.sqlite"))
    assert code == 0 and "The suppression list is empty." in out


def test_suppress_remove_needs_a_reason_keeps_it_and_history_shows_it(tmp_path: Path) -> None:
    log = str(tmp_path / "l.sqlite")
    assert distrib("unsubscribe", "Zoe@Fleuve.example", "--log", log)[0] == 0
    code, out = distrib("suppress", "remove", "zoe@fleuve.example", "--log", log)
    assert code == 2 and "--reason" in out  # required
    code, out = distrib("suppress", "remove", "zoe@fleuve.example", "--reason", " ", "--log", log)
    assert code != 0 and "give the reason" in out
    code, out = distrib(
        "suppress", "remove", "ZOE+press@fleuve.example", "--reason", "asked back on 3 March",
        "--log", log,
    )  # fmt: skip
    assert code == 0, out
    assert "Removed Zoe@fleuve.example from the suppression list" in out
    assert "consent" in out and "CASL" in out  # an opt-out: consent must be documented
    code, out = distrib("suppressions", "--log", log)
    assert "The suppression list is empty." in out
    code, out = distrib("contacts", "history", "zoe@fleuve.example", "--log", log)
    assert code == 0, out
    assert "Taken off the suppression list (unsubscribed)" in out and "asked back on 3 March" in out
    code, out = distrib("suppress", "remove", "zoe@fleuve.example", "--reason", "x", "--log", log)
    assert code != 0 and "not on the suppression list" in out
