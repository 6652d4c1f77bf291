"""XOAUTH2 and OAUTHBEARER: the encodings (RFC 7628, Google's XOAUTH2 document) and the server's
error challenge.  The exchange against a real SMTP server that requires OAuth2 is tested through
distrib's own client and `distrib send` (tests/test_relay_send.py)."""

from __future__ import annotations

import base64

import pytest

from distrib.relay.errors import TokenError
from distrib.relay.sasl import (
    choose_mechanism,
    oauthbearer_initial_response,
    parse_error_challenge,
    xoauth2_initial_response,
)

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
