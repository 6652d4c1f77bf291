"""DKIM: messages received by the test server verify with dkimpy against the test public key."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from campaign_helpers import EXPECTED, write_campaign
from distrib.cli import app
from distrib.config import DKIMConfig
from distrib.errors import Location, Problem
from distrib.render.dkim import load_signer
from render_helpers import SECRET
from smtp_server import SMTPTestServer


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    """An RSA key (PEM) and the DNS TXT record publishing its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_every_received_message_verifies(
    tmp_path: Path,
    smtp_server: SMTPTestServer,
    key_pair: tuple[bytes, bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pem, record = key_pair
    (tmp_path / "dkim.pem").write_bytes(pem)
    monkeypatch.setenv("DISTRIB_UNSUBSCRIBE_SECRET", SECRET)
    files = write_campaign(
        tmp_path / "c",
        port=smtp_server.port,
        extra=(
            '[dkim]\nselector = "s2027"\ndomain = "quais.example"\n'
            f'key_file = "{tmp_path / "dkim.pem"}"\n'
        ),
    )
    # One-click unsubscribe, so List-Unsubscribe-Post is there to be signed too.
    text = files.campaign.read_text(encoding="utf-8")
    files.campaign.write_text(
        text.replace(
            'postal_address = "10',
            'unsubscribe_url = "https://quais.example/desabonnement/{token}"\npostal_address = "10',
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["send", str(files.campaign), "--yes"])
    assert result.exit_code == 0, result.output
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record if name == b"s2027._domainkey.quais.example." else b""

    received = smtp_server.messages
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(EXPECTED)
    for message in received:
        assert message.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        assert dkim.verify(message.data, dnsfunc=dns), message.rcpt_tos
        header = message.data.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")
        signed = header.split(b" h=", 1)[1].split(b";", 1)[0].replace(b" ", b"").split(b":")
        for name in (b"from", b"to", b"subject", b"date", b"message-id", b"list-unsubscribe",
                     b"list-unsubscribe-post", b"list-id", b"content-type"):  # fmt: skip
            assert name in signed
        # Tampering with a signed header breaks the signature.
        forged = message.data.replace(b"\r\nSubject: ", b"\r\nSubject: FWD ", 1)
        assert not dkim.verify(forged, dnsfunc=dns)
    assert set(asked) == {b"s2027._domainkey.quais.example."}


def test_a_bad_key_file_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("not a key", encoding="utf-8")
    config = DKIMConfig(selector="s1", domain="quais.example", key_file=tmp_path / "key.pem")
    problem = load_signer(config, Location("campaign.toml"))
    assert isinstance(problem, Problem)
    assert "is not an RSA private key in PEM form" in problem.message
    assert "not a key" not in repr(problem)


def test_the_signer_never_shows_its_key(key_pair: tuple[bytes, bytes], tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_bytes(key_pair[0])
    config = DKIMConfig(selector="s1", domain="quais.example", key_file=tmp_path / "key.pem")
    signer = load_signer(config, Location("campaign.toml"))
    assert "PRIVATE" not in repr(signer) and "s1" in repr(signer)
