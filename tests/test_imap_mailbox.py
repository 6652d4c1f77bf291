"""Bounces and opt-outs read from an IMAP mailbox on a real Dovecot (127.0.0.1): the corpus
APPENDed to INBOX, `distrib bounces imaps://…` end to end against a delivery log, recorded
messages flagged so a second run counts nothing twice, misunderstood ones left and listed;
TLS, passwords and OAuth2 (XOAUTH2 checked by Dovecot against the local token service)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient
from typer.testing import CliRunner

from audit_helpers import Clock, Person, add_run, open_log
from distrib.bounces import process_mailbox
from distrib.cli import app
from distrib.deliverylog import DeliveryLog
from distrib.inbox import MailboxError, read_mailbox
from distrib.optout import requests_from_mailbox
from distrib.relay.cache import FileTokenStore
from distrib.relay.errors import ImapError, LoginRequired
from distrib.relay.imap import PROCESSED, ImapMailbox, ImapSettings, MailboxURL
from distrib.relay.oauth import MicrosoftAccount, SignInPrompt, login
from test_bounces import ALL, CORPUS, DIGESTS, mid

runner = CliRunner()
PASSWORD_ENV = "AGAPC_IMAP_PASSWORD"
UNSUBSCRIBE_TOKEN_ID = "<20270204134500.cd@courriel.example>"

# A bounce from a mail server that names no recipient at all: distrib cannot understand it.
NO_RECIPIENT = (
    b"From: MAILER-DAEMON@mx.fleuve.example\r\nTo: presse@quais.example\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\nDate: Wed, 3 Feb 2027 10:00:00 +0000\r\n"
    b"Message-ID: <garbled.1@mx.fleuve.example>\r\n\r\nSomething went wrong, somewhere.\r\n"
)
# An unsubscribe request whose From is not an address.
BAD_REQUEST = (
    b"From: someone\r\nTo: presse@quais.example\r\nSubject: unsubscribe\r\n"
    b"Date: Wed, 3 Feb 2027 10:00:00 +0000\r\nMessage-ID: <bad.req@x.example>\r\n\r\nplease\r\n"
)


# -- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("imaps://presse@agapc.example@outlook.office365.com/INBOX",
         ("imaps", "presse@agapc.example", "outlook.office365.com", 993, "INBOX")),
        ("imap://presse%40agapc.example@imap.example.org/Bounces%20distrib",
         ("imap", "presse@agapc.example", "imap.example.org", 143, "Bounces distrib")),
        ("IMAPS://bob@127.0.0.1:10993", ("imaps", "bob", "127.0.0.1", 10993, "INBOX")),
        ("imaps://bob@[::1]:10993/INBOX;UIDVALIDITY=5", ("imaps", "bob", "::1", 10993, "INBOX")),
    ],
)  # fmt: skip
def test_mailbox_addresses(text: str, expected: tuple[Any, ...]) -> None:
    url = MailboxURL.parse(text)
    assert (url.scheme, url.user, url.host, url.port, url.folder) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("imaps://bob:hunter2@imap.example.org/INBOX", "a password in the address is refused"),
        ("imaps://imap.example.org/INBOX", "name the user"),
        ("pop3://bob@imap.example.org/", "not an imap:// or imaps:// address"),
        ("imaps://bob@imap.example.org:99999/", "not a valid host and port"),
        ("imaps://bob@imap.example.org/IN\r\nBOX", "control characters"),
    ],
)
def test_bad_mailbox_addresses(text: str, reason: str) -> None:
    with pytest.raises(ImapError, match=reason) as refused:
        MailboxURL.parse(text)
    assert "hunter2" not in str(refused.value)
    assert isinstance(refused.value, MailboxError)


# -- against Dovecot -------------------------------------------------------------------------


def imap_client(server: Any) -> IMAPClient:
    context = ssl.create_default_context(cafile=str(server.tls_files.ca_file))
    client = IMAPClient("127.0.0.1", port=server.tls_port, ssl=True, ssl_context=context)
    client.login(server.user, server.password)
    return client


def deliver(server: Any, messages: list[bytes]) -> None:
    """What the relay would do: put messages in the INBOX."""
    client = imap_client(server)
    try:
        for data in messages:
            client.append("INBOX", data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    finally:
        client.logout()


def flags(server: Any) -> dict[str, set[bytes]]:
    """Each message's Message-ID and its flags, as the officer's mail client sees them."""
    client = imap_client(server)
    try:
        client.select_folder("INBOX", readonly=True)
        wanted = ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
        fetched = client.fetch(client.search(), wanted)
    finally:
        client.logout()
    result: dict[str, set[bytes]] = {}
    for data in fetched.values():
        header = data[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"].decode()
        result[header.partition(":")[2].strip()] = {bytes(f) for f in data[b"FLAGS"]}
    return result


def processed(server: Any) -> set[str]:
    return {mid for mid, f in flags(server).items() if PROCESSED.encode() in f}


def url(server: Any, *, scheme: str = "imaps") -> str:
    port = server.tls_port if scheme == "imaps" else server.port
    return f"{scheme}://{server.user}@127.0.0.1:{port}/INBOX"


@pytest.fixture
def settings(dovecot: Any, monkeypatch: pytest.MonkeyPatch) -> ImapSettings:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    return ImapSettings(password_env=PASSWORD_ENV, ca_file=dovecot.tls_files.ca_file)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    """A run to every person the corpus refers to (as tests/test_bounces.py builds it)."""
    clock = Clock()
    with open_log(tmp_path / "distrib-log.sqlite", clock) as opened:
        people = [
            Person(a, a.split("@")[0], a.split("@")[1], "fr",
                   "unknown" if a.startswith("jean.roy") else "sent")
            for a in DIGESTS
        ]  # fmt: skip
        add_run(opened, clock, people, ids=lambda i: mid(people[i].address))
        yield opened


def distrib(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_bounces_from_imap_are_recorded_once_and_flagged(
    dovecot: Any, log: DeliveryLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver(dovecot, [(CORPUS / name).read_bytes() for name in ALL] + [NO_RECIPIENT])
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    common = ("--log", log.where, "--imap-password-env", PASSWORD_ENV,
              "--imap-ca-file", str(dovecot.tls_files.ca_file))  # fmt: skip
    code, out = distrib("bounces", url(dovecot), *common)
    assert code == 0, out
    assert f"Read {len(ALL) + 1} message(s) from {url(dovecot)}" in out
    assert "11 bounce(s): 9 matched to messages, 1 matched nothing, 1 without a recipient" in out
    assert "Recorded: 5 hard, 3 soft, 1 delay warning(s)" in out
    assert "Flagged 9 message(s) in the mailbox as recorded ($DistribProcessed)" in out
    # The one distrib could not understand is listed, with where it is on the server.
    assert "Bounces naming no recipient (1):" in out
    assert f"{url(dovecot)};UIDVALIDITY=" in out
    bounced = {m.address for m in log.messages(1) if m.status == "bounced"}
    assert len(bounced) == 8 and len(log.suppressions()) == 5
    seen = flags(dovecot)
    assert len(seen) == len(ALL) + 1 and len(processed(dovecot)) == 9
    assert "<garbled.1@mx.fleuve.example>" not in processed(dovecot)
    assert not any(b"\\Seen" in f for f in seen.values())  # read with PEEK: still unread
    # Again: the recorded ones are skipped, nothing is recorded twice.
    before = (len(log.bounces()), len(log.suppressions()))
    code, out = distrib("bounces", url(dovecot), *common)
    assert code == 0, out
    assert f"Read {len(ALL) + 1 - 9} message(s)" in out
    assert "2 bounce(s): 0 matched to messages, 1 matched nothing, 1 without a recipient" in out
    assert "Recorded: 0 hard, 0 soft, 0 delay warning(s)" in out and "Flagged" not in out
    assert (len(log.bounces()), len(log.suppressions())) == before
    # The password is in no output and nowhere in the delivery log's files.
    assert dovecot.password not in out
    file = Path(log.where)
    stored = b"".join(p.read_bytes() for p in file.parent.glob(file.name + "*"))
    assert dovecot.password.encode() not in stored


def test_a_dry_run_flags_nothing(dovecot: Any, log: DeliveryLog, settings: ImapSettings) -> None:
    deliver(dovecot, [(CORPUS / "postfix-user-unknown.eml").read_bytes()])
    outcome = process_mailbox(url(dovecot), log, dry_run=True, imap=settings)
    assert outcome.count("hard") == 1 and outcome.flagged == 0
    assert log.bounces() == []
    assert not any(PROCESSED.encode() in f for f in flags(dovecot).values())


def test_opt_outs_from_imap_are_flagged_and_bad_requests_left(
    dovecot: Any, log: DeliveryLog, settings: ImapSettings
) -> None:
    names = ["unsubscribe-mailto.eml", "unsubscribe-token-fr.eml", "postfix-user-unknown.eml"]
    deliver(dovecot, [(CORPUS / n).read_bytes() for n in names] + [BAD_REQUEST])
    outcome = requests_from_mailbox(url(dovecot, scheme="imap"), log, imap=settings)
    assert outcome.read == 4 and outcome.requests == 3 and len(outcome.bounces) == 1
    (problem,) = outcome.problems
    assert str(problem).startswith(f"{url(dovecot, scheme='imap')};")
    assert "From '': no address" in str(problem)
    assert outcome.flagged == 2
    assert processed(dovecot) == {"<CAF=abc123+unsub@mail.river.example>", UNSUBSCRIBE_TOKEN_ID}
    assert "<bad.req@x.example>" not in processed(dovecot)  # a problem: left, and listed
    # The bounce is for `distrib bounces`: still there for it.
    again = process_mailbox(url(dovecot), log, imap=settings)
    assert again.count("hard") == 1 and again.flagged == 1
    assert len(processed(dovecot)) == 3


def test_starttls_is_used_on_imap_and_certificates_are_checked(
    dovecot: Any, settings: ImapSettings
) -> None:
    deliver(dovecot, [(CORPUS / "postfix-delayed.eml").read_bytes()])
    assert len(list(read_mailbox(url(dovecot, scheme="imap"), imap=settings))) == 1
    logins = [line for line in dovecot.log.splitlines() if "Login: user=" in line]
    assert len(logins) == 2 and all(", TLS," in line for line in logins)  # STARTTLS, then LOGIN
    untrusted = ImapSettings(password_env=PASSWORD_ENV)  # the system's CAs only
    for scheme in ("imap", "imaps"):
        with pytest.raises(ImapError, match="certificate is not trusted"):
            list(read_mailbox(url(dovecot, scheme=scheme), imap=untrusted))


def test_login_problems_are_clear_and_never_show_the_password(
    dovecot: Any, monkeypatch: pytest.MonkeyPatch, settings: ImapSettings
) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(
        ImapError, match=f"no password: set the environment variable {PASSWORD_ENV}"
    ):
        list(read_mailbox(url(dovecot), imap=settings))
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password-0042")
    with pytest.raises(ImapError, match="the server refused the password for presse@") as refused:
        list(read_mailbox(url(dovecot), imap=settings))
    assert "not-the-password-0042" not in str(refused.value)
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    missing = url(dovecot).replace("/INBOX", "/Nowhere")
    with pytest.raises(ImapError, match="no folder 'Nowhere'"):
        list(read_mailbox(missing, imap=settings))
    closed = url(dovecot).replace(str(dovecot.tls_port), "1")
    with pytest.raises(ImapError, match="cannot connect"):
        list(read_mailbox(closed, imap=settings))


def test_xoauth2_with_a_token_dovecot_checks_with_the_token_service(
    dovecot_oauth: Any, token_server: Any, tmp_path: Path
) -> None:
    account = MicrosoftAccount(tenant="agapc", client_id="c0ffee", user=dovecot_oauth.user,
                               authority_host=token_server.base, mailbox=True)  # fmt: skip

    def approve(prompt: SignInPrompt) -> None:
        token_server.approve()

    tokens = login(account, approve, FileTokenStore(tmp_path / "tokens"),
                   verify=token_server.ca_file)  # fmt: skip
    deliver(dovecot_oauth, [(CORPUS / "gmail-address-not-found.eml").read_bytes()])
    settings = ImapSettings(tokens=tokens, ca_file=dovecot_oauth.tls_files.ca_file)
    with ImapMailbox(url(dovecot_oauth), settings) as box:
        (message,) = list(box.messages())
    assert b"address-not-found" in message.data or b"Address not found" in message.data
    assert "method=XOAUTH2" in dovecot_oauth.log
    # The service forgets the access token (revoked early): distrib refreshes it once.
    grants = len(token_server.grants())
    with token_server.state.lock:
        token_server.state.access.clear()
    assert len(list(read_mailbox(url(dovecot_oauth), imap=settings))) == 1
    assert token_server.grants()[grants:] == ["refresh_token"]
    # The sign-in itself revoked: the officer is told to sign in again.
    token_server.revoke_all()
    with token_server.state.lock:
        token_server.state.access.clear()
    with pytest.raises(LoginRequired, match="distrib relay login"):
        list(read_mailbox(url(dovecot_oauth), imap=settings))
