"""`distrib replies`: replies matched to the messages of the log (In-Reply-To, References, then
From), automatic ones recorded as such, bounces and opt-outs left for their commands, what
matches nothing listed and left; once only; from .eml files and from a real Dovecot, with the
workspace's `[mailbox]` (password or OAuth2); shown in `contacts history` and the report."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from audit_helpers import Clock, Person, add_run, open_log
from campaign_helpers import write_campaign
from distrib.cli import app
from distrib.config import load_campaign
from distrib.errors import ConfigError
from distrib.replies import MAX_HEADER
from test_bounces import CORPUS, DIGESTS, mid
from test_imap_mailbox import deliver, flags, processed, url

runner = CliRunner()
CLAIRE, ALICE, ZOE, SAM = (
    "claire@hebdo.example", "alice@quotidien.example", "zoe.belanger@fleuve.example",
    "sam.okafor@river.example",
)  # fmt: skip
REPLIES = ["reply-from-journalist.eml", "ooo-fr-auto-replied.eml", "ooo-outlook-en.eml"]
# Two out-of-office replies from people the log never wrote to.
STRANGERS = ["ooo-en-vacation.eml", "ooo-fr-subject-only.eml"]


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def message(headers: str, body: str = "Merci, je serai là.") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body + "\r\n").encode()


# Claire answers without In-Reply-To (a new message from her phone): matched by From, to the
# latest release she was sent.  Her subject tries to drive the terminal and a header.
FROM_CLAIRE = message(
    """From: Claire <CLAIRE@hebdo.example>
To: medias@quais.example
Subject: =?utf-8?q?Re=3A_votre_communiqu=C3=A9_=1B[31mROUGE=0D=0ABcc=3A_x@y?=
Date: Wed, 3 Feb 2027 11:00:00 +0000
Message-ID: <claire.1@hebdo.example>"""
)
# Answers Noémie's message through References only (the mail client dropped In-Reply-To).
BY_REFERENCES = message(
    f"""From: Noemie <noemie@river.example>
Subject: Re: Communique
Message-ID: <noemie.1@river.example>
References: <unrelated@elsewhere.example> {mid("noemie@river.example")}"""
)
# No From address and no reference: not understood, left and listed.
NOBODY = message("From: someone\nSubject: hello\nMessage-ID: <nobody.1@x.example>")
# A header larger than distrib reads.
HUGE = message("From: a@b.example\nX-Padding: " + "x" * (MAX_HEADER + 10) + "\nSubject: big")


def make_log(path: Path, campaign: str = "printemps") -> None:
    """Two runs: an old one to Claire only ("hiver"), then everyone the corpus refers to."""
    clock = Clock()
    with open_log(path, clock) as log:
        add_run(log, clock, [Person(CLAIRE, "Claire", "L'Hebdo", "fr")], campaign="hiver",
                ids=lambda i: "<old.claire@quais.example>")  # fmt: skip
        people = [Person(a, a.split("@")[0], a.split("@")[1], "fr") for a in DIGESTS]
        add_run(log, clock, people, campaign=campaign, start=3600,
                ids=lambda i: mid(people[i].address))  # fmt: skip


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "distrib-log.sqlite"
    make_log(path)
    return path


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """The whole corpus (bounces, out-of-office, opt-outs, a reply) and the messages above."""
    folder = tmp_path / "inbox"
    shutil.copytree(CORPUS, folder)
    for name, data in (("claire", FROM_CLAIRE), ("noemie", BY_REFERENCES), ("nobody", NOBODY),
                       ("huge", HUGE)):  # fmt: skip
        (folder / f"zz-{name}.eml").write_bytes(data)
    return folder


def replies_of(log_file: Path) -> dict[str, tuple[str, str, int]]:
    with open_log(log_file, Clock()) as log:
        by_id = {m.id: m.address for run in log.runs() for m in log.messages(run.id)}
        return {by_id[r.message]: (r.kind, r.matched_by, r.run_id) for r in log.replies()}


def test_replies_from_files_are_matched_recorded_once_and_the_rest_listed(
    inbox: Path, log_file: Path
) -> None:
    read = len(list(inbox.glob("*.eml")))
    code, out = distrib("replies", "--mailbox", str(inbox), "--log", str(log_file))
    assert code == 0, out
    assert f"Read {read} message(s) from {inbox}" in out
    assert "Recorded 5 repl(y/ies): 3 from people, 2 automatic" in out
    assert replies_of(log_file) == {
        ALICE: ("reply", "in-reply-to", 2),
        ZOE: ("auto-reply", "in-reply-to", 2),
        SAM: ("auto-reply", "in-reply-to", 2),
        "noemie@river.example": ("reply", "references", 2),
        CLAIRE: ("reply", "from", 2),  # the latest release she was sent
    }
    assert "10 bounce(s), not handled here: run `distrib bounces`" in out
    assert "2 unsubscribe request(s), not handled here: run `distrib unsubscribe`" in out
    # What matches nothing is listed, with why: strangers' out-of-office, no address, too big.
    assert "Answering no message of the log, left in the mailbox (4):" in out
    assert "from omar@mtl.radio-est.example, subject 'Out of Office: News release" in out
    assert "from luc@fleuve.example" in out and "from no address, subject 'hello'" in out
    assert f"zz-huge.eml: header longer than {MAX_HEADER} bytes" in out
    # The untrusted subject is shown with its control characters escaped, on one line.
    assert "\x1b" not in out and "\r" not in out
    assert "Re: votre communiqué [31mROUGE Bcc: x@y" in out
    # Again: nothing recorded twice.
    code, out = distrib("replies", "--mailbox", str(inbox), "--log", str(log_file))
    assert code == 0, out
    assert "Recorded 0 repl(y/ies): 0 from people, 0 automatic; 5 already recorded earlier" in out
    assert len(replies_of(log_file)) == 5


def test_a_named_release_narrows_the_match_by_address(tmp_path: Path, log_file: Path) -> None:
    (tmp_path / "claire.eml").write_bytes(FROM_CLAIRE)
    (tmp_path / "alice.eml").write_bytes((CORPUS / "reply-from-journalist.eml").read_bytes())
    code, out = distrib("replies", "--release", "hiver", "-m", str(tmp_path / "claire.eml"),
                        "-m", str(tmp_path / "alice.eml"), "--log", str(log_file))  # fmt: skip
    assert code == 0, out
    assert replies_of(log_file) == {CLAIRE: ("reply", "from", 1)}  # run 1 is "hiver"
    assert "answers no message of hiver" in out  # Alice answered printemps


def test_a_dry_run_records_nothing(inbox: Path, log_file: Path) -> None:
    code, out = distrib("replies", "-m", str(inbox), "--log", str(log_file), "--dry-run")
    assert code == 0 and "Would record 5 repl(y/ies)" in out
    assert replies_of(log_file) == {}


def test_history_and_report_show_the_replies(inbox: Path, log_file: Path, tmp_path: Path) -> None:
    assert distrib("replies", "-m", str(inbox), "--log", str(log_file))[0] == 0
    code, out = distrib("contacts", "history", ZOE, "--log", str(log_file))
    assert code == 0, out
    assert "Replies (1):" in out
    assert "automatic reply to run 2 (printemps) from zoe.belanger@fleuve.example" in out
    code, out = distrib("report", "--log", str(log_file), "--html", str(tmp_path / "r.html"))
    assert code == 0, out
    assert "Replies: 5 replies, 2 automatic (`distrib replies`)" in out
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Replies: 5 replies, 2 automatic" in html
    code, out = distrib("report", "1", "--log", str(log_file))
    assert code == 0 and "Replies:" not in out  # Claire answered run 2, not her old one


# -- the workspace's mailbox ------------------------------------------------------------------


def mailbox_campaign(tmp_path: Path, mailbox: str, smtp: str = "") -> Path:
    files = write_campaign(tmp_path / "c", port=25, smtp_extra=smtp)
    text = files.campaign.read_text()
    if smtp:
        text = text.replace('security = "none"', 'security = "starttls"')
    files.campaign.write_text(text + "\n[mailbox]\n" + mailbox)
    make_log(files.log, campaign="quays")
    return files.campaign


def test_mailbox_settings_are_checked(tmp_path: Path) -> None:
    campaign = mailbox_campaign(
        tmp_path, 'folder = "Réponses"\n',
        smtp='preset = "microsoft365"\nauth = "oauth2"\n'
        'oauth = { tenant = "t", client_id = "c" }\n',
    )  # fmt: skip
    settings = load_campaign(campaign)
    assert settings.mailbox_url == (
        "imaps://presse@quais.example@outlook.office365.com/R%C3%A9ponses"
    )
    assert settings.mailbox_auth == "oauth2"
    for table, expected in (
        ('folder = "INBOX"\n', "only the Microsoft 365 and Google Workspace presets"),
        ('url = "imaps://presse:secret@imap.quais.example/INBOX"\n', "a password in the address"),
        ('url = "imaps://imap.quais.example/INBOX"\n', "name the user"),
        ('url = "imaps://p@imap.quais.example"\npassword = "x"\n', "'password' is not read"),
        ('url = "imaps://p@imap.quais.example"\nauth = "oauth2"\n', "uses the relay's sign-in"),
        ('url = "imaps://p@h.example"\nsent_copy = "all"\n', "sent_copy"),
    ):
        shutil.rmtree(tmp_path / "c")
        with pytest.raises(ConfigError, match=expected) as raised:
            load_campaign(mailbox_campaign(tmp_path, table))
        assert "secret" not in str(raised.value)


@pytest.fixture
def imap_env(dovecot: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("QUAYS_IMAP_PASSWORD", dovecot.password)
    return (
        f'url = "{url(dovecot)}"\npassword_env = "QUAYS_IMAP_PASSWORD"\n'
        f'ca_file = "{dovecot.tls_files.ca_file}"\n'
    )


def test_replies_bounces_and_opt_outs_from_the_workspace_mailbox(
    tmp_path: Path, dovecot: Any, imap_env: str
) -> None:
    campaign = mailbox_campaign(tmp_path, imap_env)
    names = [*REPLIES, *STRANGERS, "postfix-user-unknown.eml", "unsubscribe-mailto.eml"]
    deliver(dovecot, [(CORPUS / n).read_bytes() for n in names] + [FROM_CLAIRE])
    code, out = distrib("replies", str(campaign))
    assert code == 0, out
    assert f"Read 8 message(s) from {url(dovecot)}" in out
    assert "Recorded 4 repl(y/ies): 2 from people, 2 automatic" in out
    assert "Flagged 4 message(s) in the mailbox as recorded ($DistribProcessed)" in out
    assert ";UIDVALIDITY=" in out  # the strangers' replies, listed where they are
    assert processed(dovecot) == {
        "<PH0PR01MB0003DD44@quotidien.example>", "<auto.20270202140130.zb@fleuve.example>",
        "<YT3PR01MB0001AA11BB22CC33@YT3PR01MB0001.CANPRD01.PROD.OUTLOOK.example>",
        "<claire.1@hebdo.example>",
    }  # fmt: skip
    assert not any(b"\\Seen" in f for f in flags(dovecot).values())
    # Again: the recorded replies are not even read.
    code, out = distrib("replies", str(campaign))
    assert code == 0 and "Read 4 message(s)" in out and "Recorded 0 repl(y/ies)" in out
    # The bounce and the opt-out are still there for their commands, from the same mailbox.
    code, out = distrib("bounces", "-c", str(campaign))
    assert code == 0, out
    assert "Read 4 message(s)" in out and "Recorded: 1 hard" in out
    code, out = distrib("unsubscribe", "-c", str(campaign))
    assert code == 0, out
    assert f"Read 3 message(s) from {url(dovecot)}: 1 unsubscribe request(s)" in out
    assert dovecot.password not in out


def test_no_mailbox_anywhere_is_a_clear_usage_error(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "c", port=25).campaign
    for command in (["replies", str(campaign)], ["bounces", "-c", str(campaign)]):
        code, out = distrib(*command)
        assert code == 2 and "set [mailbox] in the workspace's settings" in out, out
    code, out = distrib("unsubscribe", "-c", str(campaign))
    assert code == 2 and "name at least one address, or --mailbox PATH" in out


def test_replies_over_imap_with_the_relays_oauth2_sign_in(
    tmp_path: Path,
    dovecot_oauth: Any,
    token_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = dovecot_oauth.user
    token_server.state.auto_approve = True
    token_server.state.signed_in_as = user
    code, out = distrib(
        "relay", "login", "--provider", "microsoft365", "--tenant", "agapc",
        "--client-id", "c0ffee", "--user", user, "--authority-host", token_server.base,
        "--ca-file", token_server.ca_file, "--mailbox",
    )  # fmt: skip
    assert code == 0, out
    campaign = mailbox_campaign(
        tmp_path,
        f'url = "{url(dovecot_oauth)}"\nca_file = "{dovecot_oauth.tls_files.ca_file}"\n',
        smtp=(
            f'preset = "microsoft365"\nauth = "oauth2"\nusername = "{user}"\n'
            f'oauth = {{ tenant = "agapc", client_id = "c0ffee", authority_host = '
            f'"{token_server.base}", ca_file = "{token_server.ca_file}" }}\n'
        ),
    )
    deliver(dovecot_oauth, [(CORPUS / n).read_bytes() for n in REPLIES])
    code, out = distrib("replies", str(campaign))
    assert code == 0, out
    assert "Recorded 3 repl(y/ies): 1 from people, 2 automatic" in out
    assert "method=XOAUTH2" in dovecot_oauth.log
    with token_server.state.lock:
        secrets = [*token_server.state.access, *token_server.state.refresh]
    assert secrets and not [s for s in secrets if s in out]
    assert len(processed(dovecot_oauth)) == 3
