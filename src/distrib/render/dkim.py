"""DKIM signing with dkimpy, when the campaign has a ``[dkim]`` table (selector, domain, key file).

The signature covers the headers a receiver and RFC 8058 care about — From, To, Subject, Date,
Message-ID, Reply-To, List-Id, List-Unsubscribe, List-Unsubscribe-Post, MIME-Version,
Content-Type, Content-Language — and the body, with relaxed/relaxed canonicalisation, so a
relay that re-folds a header or re-wraps whitespace does not break it.  A header listed but
absent (List-Unsubscribe-Post without an https unsubscribe URL) is signed as absent, so nobody
can add it later.  The message is signed as the final bytes that go on the wire: nothing
re-serialises it afterwards.

The key is an RSA private key in PEM form (``openssl genrsa -out dkim.pem 2048``); its public
half is published in DNS at ``<selector>._domainkey.<domain>``.  dkimpy signs in pure Python,
about 11 ms per message with a 2048-bit key on the reference machine: signing is done when a
message is sent (and in the preview of a single message), not when a send is planned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from distrib.config import display_path
from distrib.errors import Location, Problem

if TYPE_CHECKING:
    from distrib.config import DKIMConfig

__all__ = ["SIGNED_HEADERS", "DKIMSigner", "load_signer"]

SIGNED_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
    b"content-language",
)


class DKIMSigner:
    """Sign messages with one key, selector and domain."""

    def __init__(self, selector: str, domain: str, key: bytes) -> None:
        self.selector = selector
        self.domain = domain
        self._key = key

    def sign(self, data: bytes) -> bytes:
        """Return ``data`` (CRLF message bytes) with a DKIM-Signature header in front."""
        import dkim

        signature = dkim.sign(
            data,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self._key,
            include_headers=list(SIGNED_HEADERS),
            canonicalize=(b"relaxed", b"relaxed"),
            linesep=b"\r\n",
        )
        return bytes(signature) + data

    def __repr__(self) -> str:
        # Never show the key.
        return f"DKIMSigner(selector={self.selector!r}, domain={self.domain!r})"


def load_signer(config: DKIMConfig, where: Location) -> DKIMSigner | Problem:
    """Read and check the key file; return the signer, or the problem with it."""
    import dkim.crypto

    shown = display_path(config.key_file)
    try:
        key = config.key_file.read_bytes()
    except OSError as exc:
        return Problem(f"dkim.key_file: cannot read {shown}: {exc.strerror}", where, "dkim")
    try:
        dkim.crypto.parse_pem_private_key(key)
    except (dkim.crypto.UnparsableKeyError, ValueError, IndexError) as exc:
        message = f"dkim.key_file: {shown} is not an RSA private key in PEM form ({exc})"
        return Problem(message, where, "dkim")
    return DKIMSigner(config.selector, config.domain, key)
