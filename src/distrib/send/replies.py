"""What a server said, as text that is safe to store, raise and print: the one place where the
bytes of a reply become text (`Scrubber`).

A reply is untrusted bytes.  Servers answer in Latin-1 (``550 Adresse inconnue \\xe9``), in
UTF-8, in nothing at all; a hostile one sends control characters, or echoes what we sent,
credentials included (a ``535`` quoting the ``AUTH PLAIN`` blob).  So every reply text read by
distrib's SMTP client (`distrib.send.wire`: the greeting, EHLO, STARTTLS, AUTH and every
transaction) goes through `Scrubber` before it is stored, put in an error or shown:

1. **decoded leniently**: UTF-8 when the bytes are valid UTF-8, else Windows-1252 (what a
   relay that is not UTF-8 almost always speaks), line by line; a byte Windows-1252 does not
   define becomes U+FFFD.  The result is always valid text, which SQLite stores as it is;
2. **control characters shown, not kept**: C0 (but the line feed between the lines of a
   multi-line reply), DEL and C1 become ``\\xNN``; a tab becomes a space;
3. **credentials redacted**: the password, the base64 ``AUTH PLAIN`` blob, the base64
   ``AUTH LOGIN`` pieces (user and password), an ``XOAUTH2`` blob, a CRAM-MD5 response, and any
   base64 word that decodes to bytes holding the password, become ``[redacted]``; an OAuth2
   access token too, once it is known (`Scrubber.adding`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

__all__ = ["REDACTED", "Scrubber", "decode_reply"]

#: What a credential in a reply is replaced with.
REDACTED = "[redacted]"

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_CRAM_DIGEST = re.compile(rb" [0-9a-f]{32}")


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    return " " if char == "\t" else f"\\x{ord(char):02x}"


def _decode_line(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def decode_reply(raw: bytes) -> str:
    """Decode the text of a reply (its lines joined with LF) as valid text (see the module)."""
    if raw.isascii():
        text = raw.decode("ascii")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = "\n".join(_decode_line(line) for line in raw.split(b"\n"))
    if _CONTROL.search(text):
        text = "\n".join(_CONTROL.sub(_shown, line) for line in text.split("\n"))
    return text


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Scrubber:
    """Turn what a server said into text: decoded, control characters shown, ``secrets`` (and
    every encoding they are sent in with ``username``) redacted.  One per connection."""

    def __init__(self, username: str | None = None, secrets: Iterable[str | None] = ()) -> None:
        self._username = username
        self._texts = [s for s in secrets if s]
        self._secrets = [s.encode("utf-8") for s in self._texts]
        self._user = username.encode("utf-8") if username else None
        forms: set[str] = set()
        for secret in self._secrets:
            forms.add(secret.decode("utf-8"))
            forms.add(_b64(secret))  # AUTH LOGIN's password
            if self._user is not None:
                forms.add(_b64(b"\0" + self._user + b"\0" + secret))  # AUTH PLAIN
                forms.add(_b64(self._user + b"\0" + self._user + b"\0" + secret))  # authzid
                forms.add(_b64(b"user=" + self._user + b"\x01auth=Bearer " + secret + b"\x01\x01"))
        if self._secrets and self._user is not None:
            forms.add(_b64(self._user))  # AUTH LOGIN's user
        # Padding stripped too (a server may quote it without), longest first: a form that
        # holds another is replaced whole.
        forms |= {form.rstrip("=") for form in forms}
        ordered = sorted((f for f in forms if f), key=len, reverse=True)
        self._forms = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        # A base64 word can only hold a secret (or a CRAM-MD5 response) if it is long enough.
        shortest = [4 * len(secret) // 3 for secret in self._secrets]
        if self._user is not None:
            shortest.append(4 * (len(self._user) + 33) // 3)
        self._words = re.compile(rf"[A-Za-z0-9+/]{{{max(4, min(shortest, default=4))},}}={{0,2}}")

    def adding(self, secrets: Iterable[str | None]) -> Scrubber:
        """This scrubber with more ``secrets`` (an access token, known once it is fetched)."""
        return Scrubber(self._username, [*self._texts, *secrets])

    def from_bytes(self, raw: bytes) -> str:
        """The text of a reply read off the wire (its lines joined with LF)."""
        return self.redact(decode_reply(raw))

    def from_text(self, text: str) -> str:
        """A reply text that a library already decoded (undecodable bytes kept as lone
        surrogates, ``surrogateescape``): the same as `from_bytes` on the original bytes."""
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        return self.from_bytes(raw)

    def redact(self, text: str) -> str:
        """``text`` with every credential (in every encoding it is sent in) replaced."""
        if self._forms is None:
            return text
        # Base64 words first: a blob quoted whole is then replaced whole, even in a form not
        # listed (another authorisation identity, say).
        if self._words.search(text):
            text = self._words.sub(self._word, text)
        return self._forms.sub(REDACTED, text)

    def _word(self, match: re.Match[str]) -> str:
        word = match.group()
        padded = word.rstrip("=")
        padded += "=" * (-len(padded) % 4)
        try:
            decoded = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            return word
        if any(secret in decoded for secret in self._secrets):
            return REDACTED
        user = self._user
        if (
            user is not None
            and decoded.startswith(user)
            and _CRAM_DIGEST.fullmatch(decoded[len(user) :])
        ):
            return REDACTED  # a CRAM-MD5 response: the user and an HMAC of the password
        return word
