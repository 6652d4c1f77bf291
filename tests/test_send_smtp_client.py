"""distrib's own SMTP client (`distrib.send.smtp_client`, `distrib.send.auth`) over whole
sessions: a relay that advertises PIPELINING with STARTTLS and AUTH together, one that only
answers pipelined groups, plaintext injected after the reply to STARTTLS, every SASL mechanism
(PLAIN, LOGIN, XOAUTH2, OAUTHBEARER with a token callable), never AUTH before TLS, and nothing
borrowed from another SMTP library."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, open_log
from distrib.errors import SMTPAuthError
from distrib.send import SendReport, send_messages
from distrib.send.auth import CramMD5, Login, OAuthBearer, Plain, XOAuth2, choose
from distrib.send.replies import REDACTED, Scrubber
from distrib.send.smtp_client import Extensions, InsecureAuth, SMTPClient
from distrib.send.transport import Connection, build_tls_context
from raw_smtp import RawSMTPServer, Session
from smtp_server import SMTPTestServer, TLSFiles, plan_messages

LIMITS = LimitsConfig(rate=0, connections=1, retries=0, retry_delay=0, max_retry_delay=0)
PASSWORD = "s3cret-Pa55word!"
TOKEN = "ya29.a0AfH6SMBx-token_value~42"


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def addresses(n: int) -> list[str]:
    return [f"journaliste{i}@redaction.example" for i in range(n)]


def config(port: int, tls_files: TLSFiles, security: str, **extra: Any) -> SMTPConfig:
    values: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "security": security, "timeout": 3,
        "data_timeout": 3, "local_hostname": "client.test", "ca_file": tls_files.ca_file,
    } | extra  # fmt: skip
    return SMTPConfig(**values)


def send(outgoing: Any, log: DeliveryLog, smtp: SMTPConfig, password: str | None) -> SendReport:
    return asyncio.run(
        send_messages(outgoing, log=log, smtp=smtp, limits=LIMITS, password=password)
    )


# -- a relay with PIPELINING, STARTTLS and AUTH together --------------------------------------


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_whole_session_on_a_relay_offering_pipelining_starttls_and_auth(
    log: DeliveryLog, tls_files: TLSFiles, security: str
) -> None:
    context = tls_files.server_context()
    tls = {"starttls": context} if security == "starttls" else {"ssl": context}
    run, outgoing = plan_messages(log, addresses(4))
    # strict_pipelining: MAIL FROM and RCPT TO are answered only once DATA is here, so a
    # client that waited for each reply before writing the next command would time out.
    with RawSMTPServer(users={"presse": PASSWORD}, strict_pipelining=True, **tls) as server:
        smtp = config(server.port, tls_files, security, username="presse")
        report = send(outgoing, log, smtp, PASSWORD)
        [session] = server.sessions
    assert report.sent == 4
    assert {m.status for m in log.messages(run.id)} == {"sent"}
    verbs = session.verbs()
    opening = [b"EHLO", b"STARTTLS", b"EHLO", b"AUTH"] if security == "starttls" else [
        b"EHLO", b"AUTH"
    ]  # fmt: skip
    assert verbs[: len(opening)] == opening
    assert verbs[len(opening) :] == [b"MAIL", b"RCPT", b"DATA"] * 4 + [b"QUIT"]
    # Everything after STARTTLS (AUTH above all) was read under TLS; nothing before it was.
    first_tls = 2 if security == "starttls" else 0
    assert all(session.tls_commands[first_tls:])
    assert not any(session.tls_commands[:first_tls])
    assert session.user == "presse"
    assert len(server.messages) == 4


def test_the_same_session_on_aiosmtpd_with_pipelining_starttls_and_auth(
    make_smtp_server: Callable[..., SMTPTestServer], log: DeliveryLog
) -> None:
    server = make_smtp_server(
        tls="starttls", users={"presse": PASSWORD}, auth_required=True, pipelining=True
    )
    run, outgoing = plan_messages(log, addresses(3))
    report = send(outgoing, log, server.smtp_config(username="presse"), PASSWORD)
    assert report.sent == 3
    verbs = server.verbs()
    assert verbs[:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]
    assert verbs[4:] == ["MAIL", "RCPT", "DATA"] * 3 + ["QUIT"]
    assert all(c.tls for c in server.commands[2:])
    assert all(m.tls and m.user == "presse" for m in server.messages)
    assert {m.status for m in log.messages(run.id)} == {"sent"}


def test_a_refusal_inside_a_pipelined_group_under_tls_and_auth(
    log: DeliveryLog, tls_files: TLSFiles
) -> None:
    bad = "journaliste1@redaction.example"

    def answer(session: Session, line: bytes) -> bytes | None:
        if line.startswith(b"RCPT") and bad.encode() in line:
            session.state["refused"] = True
            return b"550 5.1.1 no such user\r\n"
        if line.startswith(b"DATA") and session.state.pop("refused", False):
            return b"554 5.5.1 Error: no valid recipients\r\n"
        return None

    run, outgoing = plan_messages(log, addresses(3))
    with RawSMTPServer(
        answer, starttls=tls_files.server_context(), users={"presse": PASSWORD},
        strict_pipelining=True,
    ) as server:  # fmt: skip
        report = send(outgoing, log, config(server.port, tls_files, "starttls",
                                            username="presse"), PASSWORD)  # fmt: skip
        [session] = server.sessions
    assert (report.sent, report.failed) == (2, 1)
    assert {m.address: m.status for m in log.messages(run.id)}[bad] == "failed"
    # The refused group (MAIL, RCPT, DATA in one write; 250, 550, 554) is reset, and the
    # session goes on under TLS with the next group.
    assert session.verbs()[4:] == [b"MAIL", b"RCPT", b"DATA"] * 2 + [b"RSET"] + [
        b"MAIL", b"RCPT", b"DATA", b"QUIT"
    ]  # fmt: skip
    assert len(server.messages) == 2


# -- STARTTLS: what came in plaintext is never read --------------------------------------------


def test_plaintext_sent_after_the_reply_to_starttls_is_never_read(tls_files: TLSFiles) -> None:
    # A man in the middle (or a broken relay) sends, with its 220, the start of a reply that
    # would be completed by the first reply under TLS (the reply to EHLO): the extension
    # XINJECTED would appear to be offered under TLS.
    def answer(session: Session, line: bytes) -> bytes | None:
        if line.upper().startswith(b"STARTTLS"):
            return b"220 2.0.0 go ahead\r\n250-injected.example\r\n250-XINJECTED\r\n"
        return None

    async def go(port: int) -> Extensions:
        context = build_tls_context(config(port, tls_files, "starttls"))
        assert context is not None
        client, greeting = await SMTPClient.connect("127.0.0.1", port, timeout=3)
        assert greeting.code == 220
        await client.ehlo("client.test", 3)
        assert client.extensions.supports("starttls")
        reply = await client.starttls(context, 3)
        assert reply.code == 220 and client.encrypted
        assert client.extensions == Extensions()  # what was said in plaintext is forgotten
        ehlo = await client.ehlo("client.test", 3)
        assert ehlo.text.split("\n")[0] == "relay.test"
        await client.quit()
        return client.extensions

    with RawSMTPServer(answer, starttls=tls_files.server_context(), users={"u": "p"}) as server:
        extensions = asyncio.run(go(server.port))
    assert not extensions.supports("xinjected")
    assert extensions.supports("auth") and not extensions.supports("starttls")


def test_starttls_is_required_never_optional(log: DeliveryLog, tls_files: TLSFiles) -> None:
    from distrib.errors import SMTPSecurityError

    run, outgoing = plan_messages(log, addresses(1))
    with (
        RawSMTPServer(pipelining=True, users={"presse": PASSWORD}) as server,
        pytest.raises(SMTPSecurityError, match="never falls back to plaintext"),
    ):
        send(outgoing, log, config(server.port, tls_files, "starttls", username="presse"),
             PASSWORD)  # fmt: skip
    assert server.verbs() == [b"EHLO"]  # no AUTH, no MAIL in plaintext
    assert {m.status for m in log.messages(run.id)} == {"ready"}


# -- AUTH ---------------------------------------------------------------------------------------


def test_the_client_never_authenticates_without_tls() -> None:
    async def go(port: int) -> None:
        client, _ = await SMTPClient.connect("127.0.0.1", port, timeout=3)
        await client.ehlo("client.test", 3)
        assert client.extensions.auth == {"PLAIN", "LOGIN"}
        with pytest.raises(InsecureAuth):
            await client.authenticate(Plain("presse", PASSWORD), 3)
        await client.quit()

    with RawSMTPServer(users={"presse": PASSWORD}) as server:  # offers AUTH in plaintext
        asyncio.run(go(server.port))
        assert b"AUTH" not in server.verbs()


@pytest.mark.parametrize("offered", ["LOGIN", "PLAIN"])
def test_login_and_plain_against_a_relay_that_checks_them(
    log: DeliveryLog, tls_files: TLSFiles, offered: str
) -> None:
    _, outgoing = plan_messages(log, addresses(1))
    with RawSMTPServer(
        auth=offered, users={"presse": PASSWORD}, ssl=tls_files.server_context()
    ) as server:
        report = send(outgoing, log, config(server.port, tls_files, "tls", username="presse"),
                      PASSWORD)  # fmt: skip
        [session] = server.sessions
    assert report.sent == 1
    assert session.user == "presse"
    assert session.commands[1].split()[:2] == [b"AUTH", offered.encode()]


def test_a_wrong_password_stops_with_the_relays_reply(
    log: DeliveryLog, tls_files: TLSFiles
) -> None:
    run, outgoing = plan_messages(log, addresses(1))
    with (
        RawSMTPServer(users={"presse": "another"}, ssl=tls_files.server_context()) as server,
        pytest.raises(SMTPAuthError, match="535") as caught,
    ):
        send(outgoing, log, config(server.port, tls_files, "tls", username="presse"), PASSWORD)
    assert caught.value.code == 535
    assert PASSWORD not in str(caught.value)
    assert b"MAIL" not in server.verbs()
    assert {m.status for m in log.messages(run.id)} == {"ready"}


def _oauth_relay(mechanism: bytes, good: str, seen: list[bytes]) -> Any:
    """A relay checking an OAuth2 initial response; a bad token gets the RFC 7628 error
    challenge, then (after the client's answer) a 535 quoting everything it was sent."""
    challenge = base64.b64encode(json.dumps({"status": "invalid_token"}).encode())

    def answer(session: Session, line: bytes) -> bytes | None:
        words = line.split()
        if session.state.get("challenged"):
            session.state["challenged"] = False
            seen.append(line)
            return b"535 5.7.8 refused: " + b" ".join(session.state["sent"]) + b"\r\n"
        if len(words) < 3 or words[0].upper() != b"AUTH":
            return None
        assert words[1] == mechanism
        blob = base64.b64decode(words[2])
        seen.append(blob)
        if b"auth=Bearer " + good.encode() + b"\x01\x01" in blob:
            return b"235 2.7.0 accepted\r\n"
        session.state.update(challenged=True, sent=[words[2], blob.split(b"Bearer ")[-1]])
        return b"334 " + challenge + b"\r\n"

    return answer


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
@pytest.mark.parametrize("awaited", [False, True], ids=["callable", "coroutine"])
def test_an_oauth2_token_from_a_callable(
    tls_files: TLSFiles, mechanism: str, awaited: bool
) -> None:
    seen: list[bytes] = []
    calls: list[int] = []

    def token() -> str:
        calls.append(1)
        return TOKEN

    async def token_later() -> str:
        calls.append(1)
        return TOKEN

    async def go(port: int) -> None:
        smtp = config(port, tls_files, "tls", username="presse@quais.example")
        conn = Connection(smtp, password=None, tls=build_tls_context(smtp),
                          token=token_later if awaited else token)  # fmt: skip
        await conn.open()
        assert conn.is_open
        await conn.close()

    answer = _oauth_relay(mechanism.encode(), TOKEN, seen)
    with RawSMTPServer(answer, auth=mechanism, ssl=tls_files.server_context()) as server:
        asyncio.run(go(server.port))
    assert calls == [1]  # asked once per session
    [blob] = seen
    if mechanism == "XOAUTH2":
        assert blob == b"user=presse@quais.example\x01auth=Bearer " + TOKEN.encode() + b"\x01\x01"
    else:
        port = str(server.port).encode()
        assert blob == (b"n,a=presse@quais.example,\x01host=127.0.0.1\x01port=" + port
                        + b"\x01auth=Bearer " + TOKEN.encode() + b"\x01\x01")  # fmt: skip


@pytest.mark.parametrize("mechanism", ["XOAUTH2", "OAUTHBEARER"])
def test_a_refused_token_is_a_clear_error_that_never_shows_it(
    tls_files: TLSFiles, mechanism: str
) -> None:
    seen: list[bytes] = []
    answer = _oauth_relay(mechanism.encode(), "the-good-token", seen)

    async def go(port: int) -> None:
        smtp = config(port, tls_files, "tls", username="presse@quais.example")
        conn = Connection(smtp, password=None, tls=build_tls_context(smtp), token=lambda: TOKEN)
        try:
            await conn.open()
        finally:
            await conn.close()

    with (
        RawSMTPServer(answer, auth=mechanism, ssl=tls_files.server_context()) as server,
        pytest.raises(SMTPAuthError, match="535") as caught,
    ):
        asyncio.run(go(server.port))
    # The error challenge was answered as each mechanism wants (XOAUTH2: an empty line).
    assert seen[-1] == (b"\r\n" if mechanism == "XOAUTH2" else base64.b64encode(b"\x01") + b"\r\n")
    text = str(caught.value) + repr(caught.value.reply)
    assert TOKEN not in text and REDACTED in text
    assert mechanism in str(caught.value)


def test_a_token_that_is_not_a_bearer_token_is_refused_before_it_is_sent(
    tls_files: TLSFiles,
) -> None:
    async def go(port: int) -> None:
        smtp = config(port, tls_files, "tls", username="presse")
        conn = Connection(smtp, password=None, tls=build_tls_context(smtp),
                          token=lambda: "tok\r\nRCPT TO:<x@y>")  # fmt: skip
        try:
            await conn.open()
        finally:
            await conn.close()

    with (
        RawSMTPServer(auth="XOAUTH2", ssl=tls_files.server_context()) as server,
        pytest.raises(SMTPAuthError, match="not a valid bearer token") as caught,
    ):
        asyncio.run(go(server.port))
    assert "RCPT" not in str(caught.value)
    assert b"AUTH" not in server.verbs()


def test_the_mechanism_is_chosen_from_what_the_relay_offers() -> None:
    assert isinstance(choose({"LOGIN", "PLAIN", "CRAM-MD5"}, "u", password="p"), Plain)
    assert isinstance(choose({"LOGIN", "CRAM-MD5"}, "u", password="p"), Login)
    assert isinstance(choose({"CRAM-MD5"}, "u", password="p"), CramMD5)
    assert choose({"XOAUTH2"}, "u", password="p") is None
    assert isinstance(choose({"PLAIN", "XOAUTH2"}, "u", token=lambda: "t"), XOAuth2)
    assert isinstance(choose({"OAUTHBEARER"}, "u", token=lambda: "t"), OAuthBearer)
    assert choose({"PLAIN"}, "u", token=lambda: "t") is None


def test_login_answers_what_it_is_asked() -> None:
    login = Login("presse", PASSWORD)
    assert login.respond(b"Username:") == b"presse"
    assert login.respond(b"Password:") == PASSWORD.encode()
    assert login.respond(b"Password:") is None  # a third question: cancel
    assert CramMD5("u", "p").respond(b"") is None


def test_a_token_quoted_back_is_redacted_once_it_is_known() -> None:
    scrub = Scrubber("presse", [None]).adding([TOKEN])
    blob = base64.b64encode(b"user=presse\x01auth=Bearer " + TOKEN.encode() + b"\x01\x01")
    assert scrub.from_bytes(b"535 " + TOKEN.encode() + b" " + blob) == f"535 {REDACTED} {REDACTED}"


# -- EHLO ---------------------------------------------------------------------------------------


def test_ehlo_extensions_are_read_as_advertised() -> None:
    found = Extensions.parse(
        "relay.test greets you\nPIPELINING\nsize 35882577\nAUTH=LOGIN PLAIN\n"
        "AUTH XOAUTH2\n8BITMIME\nSMTPUTF8\n\\x1b[31m bad\n"
    )
    assert found.supports("pipelining") and found.supports("SIZE")
    assert found.get("size") == "35882577" and found.get("8bitmime") == ""
    assert found.auth == {"LOGIN", "PLAIN", "XOAUTH2"}
    assert not found.supports("relay.test") and not found.supports("\\x1b[31m")


# -- EHLO refused: HELO (never with STARTTLS) ------------------------------------------------


def _refusing_ehlo(reply: bytes) -> Any:
    def answer(session: Session, line: bytes) -> bytes | None:
        return reply if line.upper().startswith(b"EHLO") else None

    return answer


@pytest.mark.parametrize("security", ["none", "tls"])
def test_a_relay_refusing_ehlo_is_greeted_with_helo(
    log: DeliveryLog, tls_files: TLSFiles, security: str
) -> None:
    run, outgoing = plan_messages(log, addresses(2))
    ssl = {"ssl": tls_files.server_context()} if security == "tls" else {}
    with RawSMTPServer(_refusing_ehlo(b"502 5.5.1 EHLO not implemented\r\n"), **ssl) as server:
        report = send(outgoing, log, config(server.port, tls_files, security), None)
        [session] = server.sessions
    assert report.sent == 2
    assert session.verbs()[:3] == [b"EHLO", b"HELO", b"MAIL"]
    assert {m.status for m in log.messages(run.id)} == {"sent"}


def test_with_starttls_a_refused_ehlo_stops_the_run(log: DeliveryLog, tls_files: TLSFiles) -> None:
    from distrib.errors import SMTPConfigError

    run, outgoing = plan_messages(log, addresses(1))
    answer = _refusing_ehlo(b"550 5.7.1 go away\r\n")
    with (
        RawSMTPServer(answer, starttls=tls_files.server_context()) as server,
        pytest.raises(SMTPConfigError, match="local_hostname"),
    ):
        send(outgoing, log, config(server.port, tls_files, "starttls"), None)
    assert server.verbs() == [b"EHLO"]  # no HELO: STARTTLS needs what EHLO says
    assert {m.status for m in log.messages(run.id)} == {"ready"}


# -- nothing borrowed -------------------------------------------------------------------------


def test_sending_imports_no_other_smtp_library() -> None:
    code = (
        "import sys, distrib.send, distrib.send.transport, distrib.send.smtp_client, "
        "distrib.app.pipeline, distrib.app.sending, distrib.relay.sasl; "
        "print(sorted(m for m in sys.modules if m.startswith('aiosmtplib')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
