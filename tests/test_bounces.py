"""Bounces: the DSN corpus (Postfix, Exim, Exchange/Office 365, Gmail, out-of-office in FR/EN),
matching to messages, recording in the log, suppressing hard bounces."""

from __future__ import annotations

import mailbox
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit_helpers import Clock, Person, add_run, open_log
from distrib.bounces import classify_failure, parse_bounce, process_mailbox
from distrib.cli import app
from distrib.deliverylog import DeliveryLog
from distrib.inbox import InboxMessage, MailboxError, classify, read_mailbox

CORPUS = Path(__file__).parent / "data" / "bounces"
runner = CliRunner()

#: The recipient part of the Message-ID each corpus file refers to.
DIGESTS = {
    "marc.tremblay@fleuve.example": "1c3e5a7b9d0f2e4a6c8b0d1f",
    "zoe.belanger@fleuve.example": "2b4d6f8a0c1e3a5c7e9b1d3f",
    "noemie@river.example": "3a5c7e9b1d3f5a7c9e1b3d5f",
    "jean.roy@journal-est.example": "4c6e8a0b2d4f6a8c0e2b4d6f",
    "claire@hebdo.example": "5e7a9c1e3a5c7e9a1c3e5a7c",
    "sam.okafor@river.example": "6e8a0c2e4a6c8e0a2c4e6a8c",
    "alice@quotidien.example": "7f9b1d3f5b7d9f1b3d5f7b9d",
    "paul.nguyen@nouvelles.example": "8a0c2e4a6c8e0a2c4e6a8c0e",
    "lise@magazine.example": "9b1d3f5b7d9f1b3d5f7b9d1f",
}


def mid(address: str) -> str:
    return f"<distrib.5d41402abc4b.{DIGESTS[address]}@quais.example>"


# file -> (style, [(recipient, action, kind, status)], the Message-ID of the original or None)
MARC, ZOE = "marc.tremblay@fleuve.example", "zoe.belanger@fleuve.example"
NOEMIE, JEAN = "noemie@river.example", "jean.roy@journal-est.example"
CLAIRE, SAM = "claire@hebdo.example", "sam.okafor@river.example"
ALICE, PAUL = "alice@quotidien.example", "paul.nguyen@nouvelles.example"
LISE = "lise@magazine.example"
BOUNCES = {
    "postfix-user-unknown.eml": ("RFC 3464", [(MARC, "failed", "hard", "5.1.1")], MARC),
    "postfix-delayed.eml": ("RFC 3464", [(ZOE, "delayed", "delayed", "4.4.1")], ZOE),
    "postfix-mailbox-full.eml": ("RFC 3464", [(NOEMIE, "failed", "soft", "5.2.2")], NOEMIE),
    "postfix-unmatched.eml": (
        "RFC 3464", [("stranger@ailleurs.example", "failed", "hard", "5.1.1")], None),
    "exim-user-unknown.eml": ("non-standard", [(JEAN, "failed", "hard", "5.1.1")], JEAN),
    "exim-quota-no-copy.eml": ("non-standard", [(CLAIRE, "failed", "soft", None)], None),
    "o365-recipient-not-found.eml": ("RFC 3464", [(SAM, "failed", "hard", "5.1.10")], SAM),
    "o365-blocked-as-spam.eml": ("RFC 3464", [(ALICE, "failed", "soft", "5.7.1")], ALICE),
    "gmail-address-not-found.eml": ("RFC 3464", [(PAUL, "failed", "hard", "5.1.1")], PAUL),
    "exchange-legacy-ndr.eml": ("non-standard", [(LISE, "failed", "hard", "5.1.1")], LISE),
}  # fmt: skip
AUTO_REPLIES = {
    "ooo-outlook-en.eml": "Auto-Submitted: auto-generated",
    "ooo-fr-auto-replied.eml": "Auto-Submitted: auto-replied",
    "ooo-fr-subject-only.eml": 'subject "Absence du bureau jusqu\'au 15 février"',
    "ooo-en-vacation.eml": "X-Autoreply header",
}
UNSUBSCRIBES = ("unsubscribe-mailto.eml", "unsubscribe-token-fr.eml")
OTHER = ("reply-from-journalist.eml",)


def item(name: str) -> InboxMessage:
    return InboxMessage(name, (CORPUS / name).read_bytes())


def test_the_corpus_is_complete() -> None:
    names = {p.name for p in CORPUS.glob("*.eml")}
    assert names == set(BOUNCES) | set(AUTO_REPLIES) | set(UNSUBSCRIBES) | set(OTHER)


@pytest.mark.parametrize("name", sorted(BOUNCES))
def test_bounces_are_parsed(name: str) -> None:
    style, recipients, original = BOUNCES[name]
    message = item(name).parse()
    assert classify(message).kind == "bounce"
    bounce = parse_bounce(item(name), message)
    assert bounce is not None
    assert bounce.style == style
    assert [(r.recipient, r.action, r.kind, r.status) for r in bounce.recipients] == recipients
    if original is not None:
        assert bounce.original_ids[0] == mid(original)
    assert all(r.diagnostic for r in bounce.recipients)
    assert bounce.arrived_at is not None and bounce.arrived_at.tzinfo is not None
    assert bounce.notice.startswith("<") and bounce.notice not in bounce.original_ids


@pytest.mark.parametrize("name", sorted(AUTO_REPLIES))
def test_out_of_office_replies_are_recognised(name: str) -> None:
    sorted_as = classify(item(name).parse())
    assert (sorted_as.kind, sorted_as.reason) == ("auto-reply", AUTO_REPLIES[name])


def test_requests_and_human_replies_are_not_bounces() -> None:
    for name in UNSUBSCRIBES:
        assert classify(item(name).parse()).kind == "unsubscribe"
    # A journalist's reply to the release refers to our Message-ID too: still not a bounce.
    assert classify(item(OTHER[0]).parse()).kind == "other"


@pytest.mark.parametrize(
    ("action", "status", "text", "kind"),
    [
        ("failed", "5.1.1", "550 5.1.1 user unknown", "hard"),
        ("failed", "5.1.10", "RecipientNotFound", "hard"),
        ("failed", "5.2.1", "mailbox disabled", "hard"),
        ("failed", "5.4.4", "unable to route", "hard"),
        ("failed", "5.1.8", "bad sender address", "soft"),  # about us, not them
        ("failed", "5.2.2", "mailbox full", "soft"),
        ("failed", "5.7.1", "refused as spam", "soft"),
        ("failed", "4.4.7", "retry timeout exceeded", "soft"),
        ("failed", "5.0.0", "550 No such user here", "hard"),
        ("failed", "5.0.0", "550 rejected", "soft"),  # when unsure, soft
        ("failed", None, "550 5.1.1 does not exist", "hard"),
        ("failed", None, "552 quota exceeded, user unknown later", "soft"),
        ("failed", None, "Destinataire inconnu", "hard"),
        ("delayed", "4.4.1", "connection timed out", "delayed"),
    ],
)
def test_hard_and_soft(action: str, status: str | None, text: str, kind: str) -> None:
    assert classify_failure(action, status, text) == kind


# -- against a delivery log ------------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def log(tmp_path: Path, clock: Clock) -> Iterator[DeliveryLog]:
    """Two runs: an old one to claire only, then everyone the corpus refers to."""
    with open_log(tmp_path / "distrib-log.sqlite", clock) as opened:
        add_run(opened, clock, [Person("claire@hebdo.example", "Claire", "L'Hebdo", "fr")],
                campaign="hiver", ids=lambda i: "<old.claire@quais.example>")  # fmt: skip
        people = [
            Person(a, a.split("@")[0], a.split("@")[1], "fr",
                   "unknown" if a.startswith("jean.roy") else "sent")
            for a in DIGESTS
        ]  # fmt: skip
        add_run(opened, clock, people, start=3600, ids=lambda i: mid(people[i].address))
        yield opened


def maildir_of(folder: Path, names: list[str]) -> Path:
    box = mailbox.Maildir(folder, create=True)
    for name in names:
        box.add((CORPUS / name).read_bytes())
    box.close()
    return folder


def mbox_of(path: Path, names: list[str]) -> Path:
    box = mailbox.mbox(path, create=True)
    for name in names:
        box.add((CORPUS / name).read_bytes())
    box.flush()
    box.close()
    return path


ALL = sorted(p.name for p in CORPUS.glob("*.eml"))


def states(log: DeliveryLog, run: int = 2) -> dict[str, str]:
    return {m.address: m.status for m in log.messages(run)}


def test_bounces_are_recorded_and_hard_ones_suppressed(log: DeliveryLog, tmp_path: Path) -> None:
    outcome = process_mailbox(maildir_of(tmp_path / "Maildir", ALL), log)
    assert outcome.read == len(ALL)
    assert len(outcome.auto_replies) == 4 and len(outcome.unsubscribes) == 2
    assert [subject for _, subject in outcome.other] == [
        "RE: News release - Quays Co-op opens a workshop"
    ]
    assert [r.recipient for _, r in outcome.unmatched] == ["stranger@ailleurs.example"]
    assert (outcome.count("hard"), outcome.count("soft"), outcome.count("delayed")) == (5, 3, 1)
    assert states(log) == {
        "marc.tremblay@fleuve.example": "bounced",
        "zoe.belanger@fleuve.example": "sent",  # a delay warning is not a bounce
        "noemie@river.example": "bounced",
        "jean.roy@journal-est.example": "bounced",  # unknown, now known: not delivered
        "claire@hebdo.example": "bounced",
        "sam.okafor@river.example": "bounced",
        "alice@quotidien.example": "bounced",
        "paul.nguyen@nouvelles.example": "bounced",
        "lise@magazine.example": "bounced",
    }
    assert states(log, 1) == {"claire@hebdo.example": "sent"}  # the older run is untouched
    how = {r.address: r.matched_by for r in outcome.recorded}
    assert how[CLAIRE] == "recipient" and how[LISE] == "message-id"
    suppressed = {s.address: s for s in log.suppressions()}
    assert set(suppressed) == {
        "marc.tremblay@fleuve.example",
        "jean.roy@journal-est.example",
        "sam.okafor@river.example",
        "paul.nguyen@nouvelles.example",
        "lise@magazine.example",
    }  # fmt: skip  (hard only; soft bounces and the unmatched one are not)
    marc = suppressed["marc.tremblay@fleuve.example"]
    assert marc.reason == "hard bounce" and marc.requested_at == "2027-02-02T14:01:12.000+00:00"
    assert "5.1.1" in marc.source and marc.note is not None and "User unknown" in marc.note
    zoe = log.bounces(next(m.id for m in log.messages(2) if m.address.startswith("zoe")))
    assert [(b.kind, b.status) for b in zoe] == [("delayed", "4.4.1")]


def test_reading_the_same_mailbox_again_records_nothing_twice(
    log: DeliveryLog, tmp_path: Path
) -> None:
    box = maildir_of(tmp_path / "Maildir", ALL)
    process_mailbox(box, log)
    before = (len(log.bounces()), len(log.suppressions()), states(log))
    again = process_mailbox(box, log)
    assert again.recorded and not any(r.new for r in again.recorded)
    assert (len(log.bounces()), len(log.suppressions()), states(log)) == before


def test_a_dry_run_changes_nothing(log: DeliveryLog, tmp_path: Path) -> None:
    outcome = process_mailbox(mbox_of(tmp_path / "mbox", ALL), log, dry_run=True)
    assert outcome.count("hard") == 5
    assert log.bounces() == [] and log.suppressions() == []
    assert set(states(log).values()) == {"sent", "unknown"}


def test_maildir_mbox_and_folders_read_alike(tmp_path: Path) -> None:
    names = ["postfix-user-unknown.eml", "gmail-address-not-found.eml", "ooo-fr-auto-replied.eml"]
    sources = [
        maildir_of(tmp_path / "Maildir", names),
        mbox_of(tmp_path / "mbox", names),
        CORPUS,
    ]
    contents = []
    for source in sources:
        read = {m.data.replace(b"\r\n", b"\n").rstrip() for m in read_mailbox(source)}
        contents.append(read)
    wanted = {(CORPUS / n).read_bytes().rstrip() for n in names}
    assert wanted <= contents[0] == contents[1] and wanted <= contents[2]
    single = list(read_mailbox(CORPUS / names[0]))
    assert len(single) == 1 and single[0].source.endswith(names[0])


def test_unreadable_mailboxes_are_errors(tmp_path: Path) -> None:
    with pytest.raises(MailboxError, match="no such Maildir"):
        list(read_mailbox(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(MailboxError, match=r"holds no \.eml files"):
        list(read_mailbox(tmp_path / "empty"))


def test_a_hard_bounce_stops_messages_waiting_in_a_later_run(
    log: DeliveryLog, clock: Clock, tmp_path: Path
) -> None:
    # A third run was planned (rows ready) but not sent yet when the bounce arrived.
    run = log.create_run("printemps", "printemps/campaign.toml")
    from distrib.deliverylog import NewMessage

    log.add_messages(run.id, [
        NewMessage(key="m", recipient="Marc.Tremblay@fleuve.example",
                   address="marc.tremblay@fleuve.example", message_id="<third.m@quais.example>"),
        NewMessage(key="z", recipient="zoe.belanger@fleuve.example",
                   address="zoe.belanger@fleuve.example", message_id="<third.z@quais.example>"),
    ])  # fmt: skip
    process_mailbox(maildir_of(tmp_path / "Maildir", ["postfix-user-unknown.eml"]), log)
    assert [m.status for m in log.messages(run.id)] == ["suppressed", "ready"]
    assert [m.address for m in log.pending(run.id)] == ["zoe.belanger@fleuve.example"]


def test_hostile_bounce_text_is_cleaned_and_capped(log: DeliveryLog, tmp_path: Path) -> None:
    text = (CORPUS / "postfix-mailbox-full.eml").read_text(encoding="utf-8")
    evil = "Diagnostic-Code: smtp; 552 5.2.2 full\\r\\nBcc: x@y.example \x1b[31m" + "A" * 5000
    text = text.replace("Diagnostic-Code: smtp; 552 5.2.2 <noemie@river.example>: Mailbox full",
                        evil)  # fmt: skip
    (tmp_path / "evil.eml").write_text(text, encoding="utf-8")
    process_mailbox(tmp_path / "evil.eml", log)
    (bounce,) = log.bounces()
    assert bounce.diagnostic is not None and len(bounce.diagnostic) <= 500
    assert "\x1b" not in bounce.diagnostic and "\r" not in bounce.diagnostic


# -- the command -----------------------------------------------------------------------------


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_bounces_command_accounts_for_every_message(log: DeliveryLog, tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    shutil.copytree(CORPUS, folder)
    code, out = distrib("bounces", str(folder), "--log", str(log.where), "--dry-run")
    assert code == 0, out
    assert "Would record: 5 hard, 3 soft, 1 delay warning(s)" in out
    assert log.bounces() == []
    code, out = distrib("bounces", str(folder), "--log", str(log.where))
    assert code == 0, out
    assert f"Read {len(ALL)} message(s)" in out
    assert "10 bounce(s): 9 matched to messages, 1 matched nothing" in out
    assert "4 automatic repl(y/ies) ignored" in out
    assert "2 unsubscribe request(s), not handled here" in out
    assert "1 other message(s), for you to read" in out
    assert "Recorded: 5 hard, 3 soft, 1 delay warning(s)" in out
    assert "stranger@ailleurs.example" in out and "hard (suppressed)" in out
    code, out = distrib("bounces", str(folder), "--log", str(log.where))
    assert "Recorded: 0 hard, 0 soft, 0 delay warning(s); 9 already recorded earlier" in out
    code, out = distrib("bounces", str(tmp_path / "nowhere"), "--log", str(log.where))
    assert code == 1 and "no such Maildir" in out and "Traceback" not in out
