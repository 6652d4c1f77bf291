"""XOAUTH2 and OAUTHBEARER: the encodings (RFC 7628, Google's XOAUTH2 document), the server's
error challenge, and AUTH over aiosmtplib against a real SMTP server that requires OAuth2 and
checks the token with the local token service."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from distrib.relay.cache import FileTokenStore
from distrib.relay.errors import SaslError, TokenError
from distrib.relay.oauth import MicrosoftAccount, SignInPrompt, login
from distrib.relay.sasl import (
    authenticate,
    authenticate_with_tokens,
    authenticate_xoauth2,
    choose_mechanism,
    oauthbearer_initial_response,
    parse_error_challenge,
    xoauth2_initial_response,
)
from smtp_server import TLSFiles
from token_server import TokenServer

USER = "presse@agapc.example"


def decoded(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def test_xoauth2_initial_response() -> None:
    # The example of Google's XOAUTH2 protocol document.
    response = xoauth2_initial_response(
        "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
    )
    assert decoded(response) == (
        b"user=someuser@example.com\x01"
        b"auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    )


def test_oauthbearer_initial_response() -> None:
    # RFC 7628 section 4.1, and the escaping of "," and "=" in the authorization identity.
    token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
    response = oauthbearer_initial_response("user@example.com", token,
                                            host="server.example.com", port=143)  # fmt: skip
    assert decoded(response) == (
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143"
        b"\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    )
    odd = oauthbearer_initial_response("a,b=c@example.com", "abc")
    assert decoded(odd).startswith(b"n,a=a=2Cb=3Dc@example.com,\x01auth=Bearer abc")


@pytest.mark.parametrize(
    ("user", "token"),
    [
        ("presse@agapc.example\r\nRCPT TO:<x@y>", "abc"),
        ("presse\x01@agapc.example", "abc"),
        ("", "abc"),
        (USER, "abc\x01auth=Bearer other"),
        (USER, "abc def"),
        (USER, ""),
    ],
)
def test_control_characters_never_reach_the_exchange(user: str, token: str) -> None:
    with pytest.raises(TokenError) as refused:
        xoauth2_initial_response(user, token)
    if token:
        assert token not in str(refused.value)
    with pytest.raises(TokenError):
        oauthbearer_initial_response(user, token)


def test_the_error_challenge_is_read_as_untrusted_json() -> None:
    challenge = base64.b64encode(
        b'{"status":"invalid_token","scope":"https://outlook.office.com/SMTP.Send\\r\\nX: y",'
        b'"schemes":"Bearer","openid-configuration":"https://login.example/.well-known"}'
    )
    parsed = parse_error_challenge(challenge)
    assert parsed is not None and parsed.token_rejected
    assert parsed.scope == "https://outlook.office.com/SMTP.Send X: y"
    assert parse_error_challenge(b"not base64!") is None
    assert parse_error_challenge(base64.b64encode(b"[1, 2]")) is None
    assert parse_error_challenge(base64.b64encode(b'{"no":"status"}')) is None
    scope = parse_error_challenge(base64.b64encode(b'{"status":"insufficient_scope"}'))
    assert scope is not None and not scope.token_rejected
    assert "does not allow sending" in scope.explain()


def test_choose_mechanism() -> None:
    assert choose_mechanism(["PLAIN", "XOAUTH2", "OAUTHBEARER"]) == "XOAUTH2"
    assert choose_mechanism(["oauthbearer"]) == "OAUTHBEARER"
    assert choose_mechanism(["PLAIN", "LOGIN"]) is None


# -- against a real server -------------------------------------------------------------------


def client_context(tls_files: TLSFiles) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files.ca_file))


async def send_one(port: int, tls_files: TLSFiles, user: str, token: str, **options: Any) -> str:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=True,
                             tls_context=client_context(tls_files))  # fmt: skip
    await client.connect()
    try:
        used = await authenticate(client, user, token, host="127.0.0.1", port=port, **options)
        await client.sendmail(user, ["zoe@fleuve.example"], b"Subject: test\r\n\r\nHello\r\n")
    finally:
        await client.quit()
    return used


@pytest.fixture
def signed_in(token_server: TokenServer, tmp_path: Path) -> Any:
    account = MicrosoftAccount(tenant="agapc", client_id="c0ffee", user=USER,
                               authority_host=token_server.base)  # fmt: skip

    def approve(prompt: SignInPrompt) -> None:
        token_server.approve()

    return login(account, approve, FileTokenStore(tmp_path / "tokens"),
                 verify=token_server.ca_file)  # fmt: skip


def test_xoauth2_with_a_token_from_the_token_layer(
    make_oauth_smtp_server: Callable[..., Any],
    token_server: TokenServer,
    signed_in: Any,
    tls_files: TLSFiles,
) -> None:
    server = make_oauth_smtp_server(lambda user, token: token_server.user_of(token) == user)
    used = asyncio.run(send_one(server.port, tls_files, USER, signed_in.access_token()))
    assert used == "XOAUTH2"
    assert server.attempts() == [("XOAUTH2", USER, True)]
    ((user, sender, rcpts, _),) = server.messages()
    assert (user, sender, rcpts) == (USER, USER, ["zoe@fleuve.example"])


def test_oauthbearer_when_it_is_the_only_one_offered(
    make_oauth_smtp_server: Callable[..., Any],
    token_server: TokenServer,
    signed_in: Any,
    tls_files: TLSFiles,
) -> None:
    server = make_oauth_smtp_server(lambda user, token: token_server.user_of(token) == user,
                                    mechanisms=("OAUTHBEARER",))  # fmt: skip
    used = asyncio.run(send_one(server.port, tls_files, USER, signed_in.access_token()))
    assert used == "OAUTHBEARER" and server.attempts() == [("OAUTHBEARER", USER, True)]


def test_a_refused_token_is_reported_with_the_servers_reason_and_never_shown(
    make_oauth_smtp_server: Callable[..., Any],
    token_server: TokenServer,
    signed_in: Any,
    tls_files: TLSFiles,
) -> None:
    server = make_oauth_smtp_server(lambda user, token: False)
    token = signed_in.access_token()
    for mechanism in ("XOAUTH2", "OAUTHBEARER"):
        with pytest.raises(SaslError) as refused:
            asyncio.run(send_one(server.port, tls_files, USER, token, mechanism=mechanism))
        error = refused.value
        assert (error.code, error.status) == (535, "401")
        assert f"{mechanism} authentication as {USER} failed" in str(error)
        assert "535 5.7.8 Username and Password not accepted" in str(error)
        assert token not in str(error)
    assert server.messages() == []


def test_no_token_over_an_unencrypted_connection(
    make_oauth_smtp_server: Callable[..., Any], signed_in: Any
) -> None:
    server = make_oauth_smtp_server(lambda user, token: True)

    async def plaintext() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=False)
        await client.connect()
        try:
            await authenticate(client, USER, signed_in.access_token())
        finally:
            client.close()

    with pytest.raises(SaslError, match="unencrypted connection"):
        asyncio.run(plaintext())
    assert server.attempts() == [] and server.state.raw_auth == []


def test_a_relay_without_oauth(
    make_smtp_server: Callable[..., Any], tls_files: TLSFiles, signed_in: Any
) -> None:
    server = make_smtp_server(tls="starttls", users={"x": "y"})
    with pytest.raises(SaslError, match=r"does not offer XOAUTH2 or OAUTHBEARER \(it offers"):
        asyncio.run(send_one(server.port, tls_files, USER, signed_in.access_token()))


def test_a_token_refused_by_the_server_is_refreshed_once(
    make_oauth_smtp_server: Callable[..., Any],
    token_server: TokenServer,
    signed_in: Any,
    tls_files: TLSFiles,
) -> None:
    server = make_oauth_smtp_server(lambda user, token: token_server.user_of(token) == user)
    stale = signed_in.access_token()
    with token_server.state.lock:
        token_server.state.access.pop(stale)  # revoked early: still "fresh" for the client

    async def send() -> str:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=True,
                                 tls_context=client_context(tls_files))  # fmt: skip
        await client.connect()
        try:
            used = await authenticate_with_tokens(client, signed_in)
            await client.sendmail(USER, ["zoe@fleuve.example"], b"Subject: t\r\n\r\nHi\r\n")
        finally:
            await client.quit()
        return used

    assert asyncio.run(send()) == "XOAUTH2"
    assert server.attempts() == [("XOAUTH2", USER, False), ("XOAUTH2", USER, True)]
    assert token_server.grants()[-1] == "refresh_token" and len(server.messages()) == 1
    # A server that refuses every token: one refresh, then the error.
    refusing = make_oauth_smtp_server(lambda user, token: False)

    async def refused() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=refusing.port, start_tls=True,
                                 tls_context=client_context(tls_files))  # fmt: skip
        await client.connect()
        try:
            await authenticate_with_tokens(client, signed_in)
        finally:
            await client.quit()

    with pytest.raises(SaslError, match="535"):
        asyncio.run(refused())
    assert len(refusing.attempts()) == 2


def test_authenticate_xoauth2(
    make_oauth_smtp_server: Callable[..., Any], signed_in: Any, tls_files: TLSFiles
) -> None:
    server = make_oauth_smtp_server(lambda user, token: True, mechanisms=("XOAUTH2",))

    async def run() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, start_tls=True,
                                 tls_context=client_context(tls_files))  # fmt: skip
        await client.connect()
        try:
            await authenticate_xoauth2(client, USER, signed_in.access_token())
        finally:
            await client.quit()

    asyncio.run(run())
    assert server.attempts() == [("XOAUTH2", USER, True)]
