"""TLS and AUTH policy of the send engine, against real aiosmtpd servers and trustme certs."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from campaign_helpers import write_campaign
from distrib.config import LimitsConfig, SMTPConfig
from distrib.deliverylog import DeliveryLog, open_log
from distrib.errors import SendError, SMTPAuthError, SMTPSecurityError
from distrib.send import SendReport, send_messages
from distrib.send.replies import REDACTED, Scrubber
from forked import run_distrib_forked
from log_helpers import raw_rows
from raw_smtp import RawSMTPServer, Session
from smtp_server import SMTPTestServer, TLSFiles, plan_messages

LIMITS = LimitsConfig(rate=0, connections=1, retries=0, retry_delay=0, max_retry_delay=0)
PASSWORD = "s3cret-Pa55word!"
Factory = Callable[..., SMTPTestServer]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[DeliveryLog]:
    with open_log(tmp_path / "distrib-log.sqlite") as opened:
        yield opened


def send(outgoing: Any, log: DeliveryLog, smtp: SMTPConfig, password: str | None) -> SendReport:
    return asyncio.run(
        send_messages(outgoing, log=log, smtp=smtp, limits=LIMITS, password=password)
    )


def assert_password_nowhere(log: DeliveryLog, *texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
    for table in ("runs", "messages", "attempts", "leases", "workers"):
        for row in raw_rows(log.where, f"SELECT * FROM {table}"):
            assert all(PASSWORD not in str(value) for value in row)


def test_starttls_then_auth_then_mail(make_smtp_server: Factory, log: DeliveryLog) -> None:
    server = make_smtp_server(tls="starttls", users={"press": PASSWORD}, auth_required=True)
    run, outgoing = plan_messages(log, ["a@example.org", "b@example.org"])
    report = send(outgoing, log, server.smtp_config(username="press"), PASSWORD)

    assert report.sent == 2
    commands = server.commands
    verbs = [c.verb for c in commands]
    assert verbs[:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]
    assert all(c.tls for c in commands if c.verb in {"AUTH", "MAIL", "RCPT", "DATA"})
    assert server.logins == [(commands[0].session, "press", True)]
    assert all(m.tls and m.user == "press" for m in server.messages)
    assert_password_nowhere(log)
    assert {m.status for m in log.messages(run.id)} == {"sent"}


def test_implicit_tls(make_smtp_server: Factory, log: DeliveryLog) -> None:
    server = make_smtp_server(tls="implicit", users={"press": PASSWORD})
    _, outgoing = plan_messages(log, ["a@example.org"])
    report = send(outgoing, log, server.smtp_config(username="press"), PASSWORD)
    assert report.sent == 1
    assert "STARTTLS" not in server.verbs()
    assert server.messages[0].tls


def test_starttls_required_but_not_offered_stops_before_anything_else(
    smtp_server: SMTPTestServer, tls_files: TLSFiles, log: DeliveryLog
) -> None:
    run, outgoing = plan_messages(log, ["a@example.org"])
    smtp = smtp_server.smtp_config(security="starttls", username="press", ca_file=tls_files.ca_file)
    with pytest.raises(SMTPSecurityError, match="never falls back to plaintext") as caught:
        send(outgoing, log, smtp, PASSWORD)
    assert smtp_server.verbs() == ["EHLO"]  # no STARTTLS to refuse, no AUTH, no MAIL
    assert {m.status for m in log.messages(run.id)} == {"ready"}
    assert_password_nowhere(log, str(caught.value), repr(caught.value))


def test_a_454_reply_to_starttls_stops_without_falling_back(
    make_smtp_server: Factory, log: DeliveryLog
) -> None:
    server = make_smtp_server(tls="starttls", users={"press": PASSWORD})
    server.script("STARTTLS", "454 4.7.0 TLS not available due to temporary reason")
    run, outgoing = plan_messages(log, ["a@example.org"])
    with pytest.raises(SMTPSecurityError, match="454") as caught:
        send(outgoing, log, server.smtp_config(username="press"), PASSWORD)
    assert caught.value.code == 454
    assert server.verbs() == ["EHLO", "STARTTLS"]
    assert {m.status for m in log.messages(run.id)} == {"ready"}


def test_an_untrusted_certificate_is_refused(make_smtp_server: Factory, log: DeliveryLog) -> None:
    server = make_smtp_server(tls="starttls")
    run, outgoing = plan_messages(log, ["a@example.org"])
    # Without smtp.ca_file the throw-away test CA is not trusted.
    with pytest.raises(SMTPSecurityError, match="TLS failed"):
        send(outgoing, log, server.smtp_config(ca_file=None), None)
    assert "MAIL" not in server.verbs()
    assert {m.status for m in log.messages(run.id)} == {"ready"}


def test_validate_certs_false_accepts_an_untrusted_certificate(
    make_smtp_server: Factory, log: DeliveryLog
) -> None:
    server = make_smtp_server(tls="starttls")
    _, outgoing = plan_messages(log, ["a@example.org"])
    report = send(outgoing, log, server.smtp_config(ca_file=None, validate_certs=False), None)
    assert report.sent == 1 and server.messages[0].tls


def test_refused_credentials_stop_the_run_and_leave_every_message_ready(
    make_smtp_server: Factory, log: DeliveryLog
) -> None:
    server = make_smtp_server(tls="starttls", users={"press": "another password"})
    run, outgoing = plan_messages(log, ["a@example.org", "b@example.org"])
    with pytest.raises(SMTPAuthError, match="535") as caught:
        send(outgoing, log, server.smtp_config(username="press"), PASSWORD)
    assert caught.value.code == 535
    assert "MAIL" not in server.verbs()
    assert not server.messages
    assert {m.status for m in log.messages(run.id)} == {"ready"}
    assert all(not log.attempts(m.id) for m in log.messages(run.id))
    assert_password_nowhere(log, str(caught.value), repr(caught.value), repr(caught.value.args))


def test_auth_required_by_the_relay_but_not_configured_stops_the_run(
    make_smtp_server: Factory, log: DeliveryLog
) -> None:
    server = make_smtp_server(tls="starttls", users={"press": PASSWORD}, auth_required=True)
    run, outgoing = plan_messages(log, ["a@example.org"])
    with pytest.raises(SMTPAuthError, match="530"):
        send(outgoing, log, server.smtp_config(), None)
    [row] = log.messages(run.id)
    assert row.status == "ready"
    assert [a.outcome for a in log.attempts(row.id)] == ["requeued"]


def test_no_password_is_ever_sent_over_plaintext(
    make_smtp_server: Factory, log: DeliveryLog
) -> None:
    # This server would happily take AUTH in plaintext: distrib must not offer it the chance.
    server = make_smtp_server(users={"press": PASSWORD}, auth_require_tls=False)
    run, outgoing = plan_messages(log, ["a@example.org"])
    with pytest.raises(SMTPAuthError, match="unencrypted") as caught:
        send(outgoing, log, server.smtp_config(username="press"), PASSWORD)
    assert "AUTH" not in server.verbs()
    assert not server.logins
    assert {m.status for m in log.messages(run.id)} == {"ready"}
    assert_password_nowhere(log, str(caught.value), repr(caught.value))


def test_a_username_without_a_password_is_refused_before_connecting(
    make_smtp_server: Factory, log: DeliveryLog
) -> None:
    server = make_smtp_server(tls="starttls", users={"press": PASSWORD})
    _, outgoing = plan_messages(log, ["a@example.org"])
    smtp = server.smtp_config(username="press", password_env="DISTRIB_TEST_UNSET")
    with pytest.raises(SMTPAuthError, match="DISTRIB_TEST_UNSET"):
        send(outgoing, log, smtp, None)
    assert server.connections == 0


def test_a_missing_ca_file_is_a_security_error(tmp_path: Path, log: DeliveryLog) -> None:
    _, outgoing = plan_messages(log, ["a@example.org"])
    smtp = SMTPConfig(security="starttls", ca_file=tmp_path / "missing.pem")
    with pytest.raises(SMTPSecurityError, match=r"smtp\.ca_file"):
        send(outgoing, log, smtp, None)


def test_every_stop_error_is_a_send_error() -> None:
    assert issubclass(SMTPAuthError, SendError) and issubclass(SMTPSecurityError, SendError)


# -- a server echoing the credentials (issue 10, defect 13) ------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def credential_forms(user: str, password: str) -> list[str]:
    """The password and every encoding of it distrib sends (padding stripped too)."""
    u, p = user.encode(), password.encode()
    forms = [password, b64(b"\0" + u + b"\0" + p), b64(p), b64(u)]
    return forms + [f.rstrip("=") for f in forms if f.endswith("=")]


def distrib_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``distrib ARGS`` in a process of its own (forked from a server that imported distrib)."""
    code, out, err = run_distrib_forked(
        args, env={**os.environ, "COLUMNS": "80", **env}, timeout=120
    )
    text = [b.decode("utf-8", "backslashreplace") for b in (out, err)]
    return subprocess.CompletedProcess(["distrib", *args], code, text[0], text[1])


def assert_shown_and_stored_nowhere(
    forms: list[str], result: subprocess.CompletedProcess[str], log_file: Path
) -> None:
    """None of ``forms`` in stdout or stderr (also with line breaks taken out: a terminal may
    wrap a long word) nor in any text column of any table of the log."""
    for stream in (result.stdout, result.stderr):
        unwrapped = "".join(stream.split())
        for form in forms:
            assert form not in stream and form not in unwrapped, (form, stream)
    with sqlite3.connect(log_file) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    for form in forms:
                        assert form not in str(value), (table, form)


def test_a_535_echoing_the_auth_blob_shows_and_stores_no_credential(
    tmp_path: Path, make_smtp_server: Factory
) -> None:
    user = "presse"
    forms = credential_forms(user, PASSWORD)
    server = make_smtp_server(tls="starttls", users={user: "another"}, auth_required=True)
    # A relay that quotes back what it was sent (the AUTH PLAIN blob; the AUTH LOGIN pieces).
    echo = " ".join(forms)
    server.script("AUTH", f"535 5.7.8 Authentication failed for AUTH PLAIN {echo}")
    files = write_campaign(
        tmp_path / "c",
        port=server.port,
        smtp_extra=f'username = "{user}"\npassword_env = "QUAYS_PW"\n'
        f'ca_file = "{server.tls_files.ca_file}"\n',
    )
    text = files.campaign.read_text().replace('security = "none"', 'security = "starttls"')
    files.campaign.write_text(text)

    result = distrib_cli("send", str(files.campaign), "--yes", env={"QUAYS_PW": PASSWORD})

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert server.messages == []
    assert_shown_and_stored_nowhere(forms, result, files.log)
    assert "535" in result.stderr and "[redacted]" in result.stderr
    # Refused by the relay check before the run: no run recorded (nothing else to redact).
    with sqlite3.connect(files.log) as conn:
        assert list(conn.execute("SELECT note FROM runs")) == []


def _decoded(word: str) -> bytes:
    try:
        return base64.b64decode(word, validate=True)
    except ValueError:
        return b""


def _echoing_relay(session: Session, line: bytes) -> bytes | None:
    """AUTH that quotes back, in its 535, every line of credentials it was sent."""
    words = line.split()
    if session.state.get("auth") and words:
        session.state["auth"] = False
        mechanism = session.state["mechanism"]
        return (
            b"535 5.7.8 "
            + mechanism
            + b" failed: "
            + b" ".join(session.state["sent"] + words)
            + b"\r\n"
        )
    if not words or words[0].upper() != b"AUTH":
        return None
    mechanism = words[1].upper()
    session.state.update(mechanism=mechanism, sent=words[2:])
    if mechanism == b"PLAIN":
        return b"535 5.7.8 PLAIN failed: " + b" ".join(words[2:]) + b"\r\n"
    session.state["auth"] = True  # LOGIN (user sent), CRAM-MD5: one more line to come
    if mechanism == b"LOGIN":
        return b"334 UGFzc3dvcmQ6\r\n"
    return b"334 " + base64.b64encode(b"<1896.697170952@relay.test>") + b"\r\n"


@pytest.mark.parametrize("mechanisms", ["PLAIN", "LOGIN", "PLAIN LOGIN", "CRAM-MD5"])
def test_a_relay_quoting_every_credential_it_was_sent_never_gets_them_shown(
    tmp_path: Path, tls_files: TLSFiles, mechanisms: str
) -> None:
    user = "presse"
    forms = credential_forms(user, PASSWORD)
    with RawSMTPServer(_echoing_relay, auth=mechanisms, ssl=tls_files.server_context()) as server:
        files = write_campaign(
            tmp_path / "c",
            port=server.port,
            smtp_extra=f'username = "{user}"\npassword_env = "QUAYS_PW"\n'
            f'ca_file = "{tls_files.ca_file}"\n',
        )
        text = files.campaign.read_text().replace('security = "none"', 'security = "tls"')
        files.campaign.write_text(text)
        result = distrib_cli("send", str(files.campaign), "--yes", env={"QUAYS_PW": PASSWORD})
        sent = [line for s in server.sessions for line in s.commands]

    assert result.returncode == 1, result.stdout + result.stderr
    # The relay did receive (and quote) the credentials: the test is not vacuous.
    quoted = b" ".join(sent).decode()
    if "CRAM-MD5" in mechanisms:
        cram = [w for w in quoted.split() if _decoded(w).startswith(b"presse ")]
        assert cram
        forms += cram  # the user and an HMAC of the password: redacted too
    else:
        assert any(form in quoted for form in forms if form != PASSWORD)
    assert_shown_and_stored_nowhere(forms, result, files.log)
    assert "535" in result.stderr and "[redacted]" in result.stderr


def test_the_scrubber_redacts_the_password_in_every_encoding_it_could_be_quoted_in() -> None:
    user, password = "presse", PASSWORD
    u, p = user.encode(), password.encode()
    quoted = [
        password,
        b64(b"\0" + u + b"\0" + p),  # AUTH PLAIN
        b64(b"\0" + u + b"\0" + p).rstrip("="),
        b64(b"admin\0" + u + b"\0" + p),  # PLAIN with another authorisation identity
        b64(p),  # AUTH LOGIN's password
        b64(u),  # AUTH LOGIN's user
        b64(b"user=" + u + b"\x01auth=Bearer " + p + b"\x01\x01"),  # XOAUTH2 (a token)
        b64(u + b" " + b"0123456789abcdef" * 2),  # a CRAM-MD5 response
    ]
    scrub = Scrubber(user, [password])
    text = scrub.from_bytes(("5.7.8 " + " | ".join(quoted)).encode())
    assert text == "5.7.8 " + " | ".join([REDACTED] * len(quoted))
    for form in quoted:
        assert form not in text
    # Nothing else is touched, and without credentials nothing is redacted.
    assert (
        scrub.from_bytes(b"2.0.0 Ok: queued as 4XyZ7A3B2C9D") == "2.0.0 Ok: queued as 4XyZ7A3B2C9D"
    )
    assert Scrubber().from_bytes(password.encode()) == password


def _535_after_two_sessions(session: Session, line: bytes) -> bytes | None:
    """Accept AUTH on the first two sessions (the relay check, the first sending session),
    then answer AUTH on every later reconnect with a 535 quoting the blob and, decoded, the
    credentials it carried."""
    words = line.split()
    if session.number < 3 or not words or words[0].upper() != b"AUTH":
        return None
    blob = words[2] if len(words) > 2 else b""
    decoded = (_decoded(blob.decode()) or b"").replace(b"\0", b" ")
    session.state["quoted"] = blob
    return b"535 5.7.8 Authentication failed for AUTH PLAIN " + blob + b" (" + decoded + b")\r\n"


@pytest.mark.parametrize("per_connection", [1, 2])
def test_a_535_echoing_the_credentials_mid_run_stops_the_run_and_shows_none(
    tmp_path: Path, tls_files: TLSFiles, per_connection: int
) -> None:
    """After the relay check and a first session that sent, a reconnect's AUTH is refused
    with a 535 that quotes the AUTH PLAIN blob and the decoded user and password: the run
    stops with a clear message, and neither the password nor the blob appears in the output,
    the run's note, any row of the log or the report."""
    user = "presse"
    forms = credential_forms(user, PASSWORD)
    with RawSMTPServer(
        _535_after_two_sessions, ssl=tls_files.server_context(), users={user: PASSWORD}
    ) as server:
        files = write_campaign(
            tmp_path / "c",
            port=server.port,
            smtp_extra=f'username = "{user}"\npassword_env = "QUAYS_PW"\n'
            f'ca_file = "{tls_files.ca_file}"\n',
        )
        text = files.campaign.read_text().replace('security = "none"', 'security = "tls"')
        text = text.replace(
            "connections = 2\n", f"connections = 1\nmessages_per_connection = {per_connection}\n"
        )
        files.campaign.write_text(text)
        result = distrib_cli("send", str(files.campaign), "--yes", env={"QUAYS_PW": PASSWORD})
        sessions = server.sessions
        report = distrib_cli("report", "--log", str(files.log), env={})
        html_file = tmp_path / "report.html"
        html = distrib_cli("report", "--log", str(files.log), "--html", str(html_file), env={})

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    # The relay check and the first sending session logged in; the third session's AUTH
    # got the echo, with the real blob in it (the test is not vacuous).
    assert [s.user for s in sessions[:2]] == [user, user]
    assert len(sessions) == 3 and sessions[2].state["quoted"]
    assert sessions[2].state["quoted"].decode() in forms
    assert len(server.messages) == per_connection  # what the first session sent
    assert_shown_and_stored_nowhere(forms, result, files.log)
    assert "535" in result.stderr and "[redacted]" in result.stderr
    with sqlite3.connect(files.log) as conn:
        notes = [n for (n,) in conn.execute("SELECT note FROM runs")]
        states = sorted(s for (s,) in conn.execute("SELECT status FROM messages"))
    assert len(notes) == 1 and "535" in (notes[0] or ""), notes  # the run exists, with why
    assert states.count("sent") == per_connection and len(states) == 5
    for done in (report, html):
        assert done.returncode == 0, done.stdout + done.stderr
    assert_shown_and_stored_nowhere(forms, report, files.log)
    page = html_file.read_text(encoding="utf-8")
    assert not [f for f in forms if f in page or f in "".join(page.split())]
