"""Build one MIME message (bytes with CRLF, ready for SMTP DATA) from rendered parts.

The message is an `email.message.EmailMessage` serialised with a clone of `email.policy.SMTP`.
Two things in that policy are ours, because CPython 3.11.7 gets them wrong:

* **Subject, From, To, Reply-To are folded by us.**  The standard folder loses text: on Python
  3.11 (this project's), a space between two encoded words is dropped when they are decoded
  ("à la" comes back "àla": python/cpython#92081, fixed in 3.12.5 and 3.13 only), and that fix
  in turn glued encoded words together (``?==?``, which Yahoo rejects: python/cpython#144156,
  fixed in 2026).  Ours writes ASCII text as is (folding only at existing spaces) and anything
  else as a run of RFC 2047 ``Q`` encoded words, each at most 75 characters and on a line of at
  most 76, cut between characters, so every RFC 2047 decoder gets the exact text back
  (`tests/test_render_mime.py` sends both bugs' subjects through it).
* **List-Unsubscribe is never encoded.**  The standard folder turns a long URL into an encoded
  word, which no mail client will follow.  Ours keeps it ASCII and folds between URIs.
* **List-Id** (RFC 2919) is a description, encoded like a display name, then ``<list.id>``.

An attachment's file name is header text too (``Content-Disposition: attachment;
filename=…``): `check_attachment` refuses what `distrib.release_extras.attachment_name_problem`
refuses (control characters, RFC 2047 encoded words), and `attachment_part` parses the part it
built back and refuses it unless it has exactly its three headers and the very file name asked
for.  That second check is the one that catches the standard library decoding an encoded word
hidden in a parameter and writing the line break it held (CVE-2024-6923), whatever the name.

A recipient address with a non-ASCII local part (``zoé@exemple.ca``) is written as UTF-8 in the
To header (RFC 6532) with a clone of the policy that has ``utf8=True``; such a message can only
be sent to a relay that offers SMTPUTF8, which the sending stage checks.  Attachments make the
message ``multipart/mixed`` around the ``multipart/alternative`` text and HTML; each attachment's
MIME part is built (base64) once and reused for every message.  Inline images (the release's and
the logo) make the HTML a ``multipart/related``: the ``text/html`` part, then each image with its
``Content-ID`` (which the HTML names as ``cid:…``) and ``Content-Disposition: inline`` with its
file name, checked like an attachment's::

    multipart/mixed                      (only with attachments)
      multipart/alternative
        text/plain
        multipart/related                (only with images)
          text/html
          image/png, image/jpeg …        (Content-ID: <img.…@domain>)
      application/pdf …                  (the attachments)

Every value still goes through `distrib.headers.check_header` before it gets here (CVE-2024-6923).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.contentmanager import raw_data_manager
from email.headerregistry import (
    Address,
    AddressHeader,
    BaseHeader,
    HeaderRegistry,
    UnstructuredHeader,
)
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, SMTPUTF8, Policy
from email.policy import default as default_policy
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from distrib.addrspec import dot_atom
from distrib.headers import find_forbidden
from distrib.release_extras import attachment_name_problem

if TYPE_CHECKING:
    from distrib.release_extras import Attachment
    from distrib.release_images import InlineImage

__all__ = [
    "ATTACHMENT_HEADERS",
    "IMAGE_HEADERS",
    "HeaderValues",
    "Mailbox",
    "build_message",
    "check_attachment",
    "check_image",
    "content_hash",
    "content_hash_of",
    "encode_words",
    "fold_list_id",
    "fold_mailboxes",
    "fold_unstructured",
    "fold_uri_list",
    "image_part",
    "make_message_id",
    "mime_policy",
]

_MAX_LINE = 78
_MAX_ENCODED_LINE = 76  # RFC 2047 section 2: a line holding encoded words
_PREFIX = "=?utf-8?q?"
_SUFFIX = "?="
# RFC 2047 section 5(3): the characters a Q-encoded word may carry as themselves anywhere,
# including inside a display name.  Everything else is =XX, and space is "_".
_Q_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_DOMAIN_LITERAL = re.compile(r"\[[\x21-\x5a\x5e-\x7e]*\]")
_LONGEST_ASCII_WORD = 900  # beyond this an ASCII line could pass the 998-octet hard limit
_LONGEST_ASCII_NAME = 150  # a quoted display name is never folded, so keep it well short
# RFC 5322 "specials": a display name holding one is a quoted string.  The same set and quoting
# as ``str(email.headerregistry.Address)``, which takes them from the private module
# ``email._header_value_parser``; written out here so that nothing private is imported (the
# equality is property-tested against ``str(Address)``).
_SPECIALS = frozenset('()<>@,:;."[]\\')


class Mailbox(NamedTuple):
    """A display name and an address as written on the wire: a light `Address`.

    ``email.headerregistry.Address(addr_spec=…)`` parses the address (about 40 µs); the
    renderer checks it once with `distrib.render.fastmime.mailbox` and carries this instead.
    """

    display_name: str
    addr_spec: str

    def as_address(self) -> Address:
        """Return the equivalent `Address` (a UTF-8 local part is given in parts, RFC 6532)."""
        local, _, domain = self.addr_spec.rpartition("@")
        if local.isascii():
            return Address(display_name=self.display_name, addr_spec=self.addr_spec)
        return Address(display_name=self.display_name, username=local, domain=domain)


def _q_encode(char: str) -> str:
    if char in _Q_SAFE:
        return char
    if char == " ":
        return "_"
    return "".join(f"={byte:02X}" for byte in char.encode("utf-8"))


class _QTable(dict[int, str]):
    """A `str.translate` table giving each character's Q encoding, filled as they are met."""

    def __missing__(self, code: int) -> str:
        encoded = self[code] = _q_encode(chr(code))
        return encoded


_Q_TABLE = _QTable()


def encode_words(text: str, first_room: int) -> list[str]:
    """Encode ``text`` as RFC 2047 Q words: the first fits in ``first_room``, the others in 75."""
    room = max(first_room, len(_PREFIX) + len(_SUFFIX) + 12)
    whole = text.translate(_Q_TABLE)
    if len(_PREFIX) + len(whole) + len(_SUFFIX) <= room:
        return [_PREFIX + whole + _SUFFIX]  # what the loop below gives when it all fits
    words: list[str] = []
    current = ""
    for char in text:
        encoded = _q_encode(char)
        if current and len(_PREFIX) + len(current) + len(encoded) + len(_SUFFIX) > room:
            words.append(_PREFIX + current + _SUFFIX)
            current = ""
            room = _MAX_ENCODED_LINE - 1  # a continuation line starts with one space
        current += encoded
    words.append(_PREFIX + current + _SUFFIX)
    return words


def _needs_encoding(text: str) -> bool:
    """Tell whether ``text`` cannot go into a header as it is."""
    if not text.isascii() or "=?" in text:
        # "=?" could be read as the start of an encoded word by the recipient's client.
        return True
    return any(len(word) > _LONGEST_ASCII_WORD for word in text.split(" "))


def _octets(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _fold_words(
    start: str, words: Sequence[str], linesep: str, limit: int, *, break_first: bool = True
) -> str:
    """Join ``words`` after ``start``, breaking lines before a word so they stay under ``limit``.

    With ``break_first=False`` the first word stays on the header's line whatever its length.
    Lengths are in octets: a UTF-8 address (RFC 6532) is longer on the wire than in characters.
    """
    lines: list[str] = []
    current = start
    for index, word in enumerate(words):
        may_break = index > 0 or break_first
        if may_break and _octets(current) + 1 + _octets(word) > limit:
            lines.append(current)
            current = " " + word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return linesep.join(lines) + linesep


def _fold_ascii(start: str, text: str, linesep: str) -> str:
    """Fold ASCII text at its own spaces, so unfolding gives back exactly ``text``."""
    lines: list[str] = []
    current = start + " "
    first = True
    for part in text.split(" "):
        if first:
            current += part
            first = False
        elif part and current.strip() and len(current) + 1 + len(part) > _MAX_LINE:
            lines.append(current)
            current = " " + part
        else:
            current += " " + part
    lines.append(current)
    return linesep.join(lines) + linesep


class _TextHeader(UnstructuredHeader, BaseHeader):
    """An unstructured header (Subject) folded by distrib, see the module docstring."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        """Keep the value exactly as given (the standard parser would decode encoded words)."""
        super().parse(value, kwds)
        kwds["decoded"] = value

    def fold(self, *, policy: Policy) -> str:
        """Return the header line(s), see `fold_unstructured`."""
        return fold_unstructured(self.name, str(self), policy.linesep)


def fold_unstructured(name: str, text: str, linesep: str = "\r\n") -> str:
    """Return ``name: text`` folded, RFC 2047-encoded when the text is not plain ASCII."""
    start = f"{name}:"
    if not _needs_encoding(text):
        return _fold_ascii(start, text, linesep)
    words = encode_words(text, _MAX_ENCODED_LINE - len(start) - 1)
    return _fold_words(start, words, linesep, _MAX_ENCODED_LINE)


# typeshed types AddressHeader.init and BaseHeader.init differently; at run time they agree.
class _AddressListHeader(AddressHeader, BaseHeader):  # type: ignore[misc]
    """From, To, Reply-To with display names encoded by distrib, see the module docstring."""

    def fold(self, *, policy: Policy) -> str:
        """Return the header line(s) for addresses set as `Address` objects."""
        utf8 = bool(getattr(policy, "utf8", False))
        return fold_mailboxes(self.name, self.addresses, policy.linesep, utf8=utf8)


def fold_mailboxes(
    name: str, mailboxes: Sequence[Address | Mailbox], linesep: str = "\r\n", *, utf8: bool
) -> str:
    """Return ``name: mailbox, …``, display names encoded by distrib (module docstring)."""
    words: list[str] = []
    for index, address in enumerate(mailboxes):
        words.extend(_address_words(address, utf8=utf8))
        if index < len(mailboxes) - 1:
            words[-1] += ","
    return _fold_words(f"{name}:", words, linesep, _MAX_ENCODED_LINE)


def _address_words(address: Address | Mailbox, *, utf8: bool = False) -> list[str]:
    """Return the words of one address: the display name, then ``<addr-spec>``."""
    spec = address.addr_spec
    if not spec.isascii() and not utf8:
        raise ValueError(f"address {spec!r} is not ASCII (needs the SMTPUTF8 policy)")
    name = address.display_name
    if not name:
        return [spec]
    return [*_phrase_words(name), f"<{spec}>"]


def _phrase_words(name: str) -> list[str]:
    """Return a display name (or List-Id description) as RFC 5322 phrase words."""
    if _needs_encoding(name) or len(name) > _LONGEST_ASCII_NAME:
        # A name gets a line of its own rather than being cut early: some parsers (CPython's
        # included) add a space between adjacent encoded words inside a display name.
        return encode_words(name, _MAX_ENCODED_LINE - 1)
    # Quoted when RFC 5322 requires it, exactly as str(Address) does (tested against it); a
    # quoted string is kept on one line, a run of atoms may fold between them.
    if _SPECIALS.isdisjoint(name):
        return name.split(" ")
    return ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']


class _ListIdHeader(UnstructuredHeader, BaseHeader):
    """List-Id: ``description <list.id>``, the description encoded like a display name."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        """Keep the value exactly as given."""
        super().parse(value, kwds)
        kwds["decoded"] = value

    def fold(self, *, policy: Policy) -> str:
        """Return the header, see `fold_list_id`."""
        return fold_list_id(self.name, str(self), policy.linesep)


def fold_list_id(name: str, value: str, linesep: str = "\r\n") -> str:
    """Return ``name: description <list.id>``, folded before the ``<list.id>`` if needed."""
    description, _, list_id = value.rpartition(" <")
    start = f"{name}:"
    if not description:
        words = []
    elif _needs_encoding(description):
        # The first word stays on the header's line (a fold right after the colon would
        # leave a space in the value for some parsers), so it gets that line's room.
        words = encode_words(description, _MAX_ENCODED_LINE - len(start) - 1)
    else:
        words = _phrase_words(description)
    words.append(f"<{list_id}")
    return _fold_words(start, words, linesep, _MAX_ENCODED_LINE, break_first=False)


class _URIListHeader(UnstructuredHeader, BaseHeader):
    """List-Unsubscribe: ASCII URIs in angle brackets, folded between URIs, never encoded."""

    @classmethod
    def parse(cls, value: str, kwds: dict[str, Any]) -> None:
        """Keep the value exactly as given."""
        super().parse(value, kwds)
        kwds["decoded"] = value

    def fold(self, *, policy: Policy) -> str:
        """Return the header, see `fold_uri_list`."""
        return fold_uri_list(self.name, str(self), policy.linesep)


def fold_uri_list(name: str, value: str, linesep: str = "\r\n") -> str:
    """Return ``name: <uri>, <uri>`` with one URI per line if it is long, never encoded."""
    if not value.isascii():
        raise ValueError(f"{name} must be ASCII: {value!r}")
    # Some parsers keep the space of a fold right after the colon as part of the value.
    return _fold_words(f"{name}:", value.split(" "), linesep, _MAX_LINE, break_first=False)


def mime_policy(*, utf8: bool = False) -> Policy:
    """Return `email.policy.SMTP` (or ``SMTPUTF8``) with distrib's header folding (see above)."""
    registry = HeaderRegistry()
    registry.map_to_type("subject", _TextHeader)
    for name in ("from", "to", "reply-to"):
        registry.map_to_type(name, _AddressListHeader)
    registry.map_to_type("list-unsubscribe", _URIListHeader)
    registry.map_to_type("list-id", _ListIdHeader)
    return (SMTPUTF8 if utf8 else SMTP).clone(header_factory=registry)


_POLICY = mime_policy()
# RFC 6532: a UTF-8 address in To, for relays that offer SMTPUTF8.
_POLICY_UTF8 = mime_policy(utf8=True)


def make_message_id(run_token: str, contact_key: str, domain: str) -> str:
    """Return ``<distrib.RUN.RECIPIENT@domain>``, the same for a run and recipient, else different.

    Both parts are truncated SHA-256 digests, so the ID is a valid RFC 5322 ``msg-id`` whatever
    the token and key hold, and reveals neither.
    """
    if not run_token or not contact_key:
        raise ValueError("make_message_id needs a run token and a contact key")
    host = _message_id_domain(domain)
    # 48 + 96 bits: collisions are out of reach and the header still fits on one line.
    run = hashlib.sha256(run_token.encode("utf-8")).hexdigest()[:12]
    recipient = hashlib.sha256(f"{run_token}\x00{contact_key}".encode()).hexdigest()[:24]
    return f"<distrib.{run}.{recipient}@{host}>"


def _message_id_domain(domain: str) -> str:
    """Return ``domain`` as an ASCII dot-atom (IDNA) or domain literal, or raise ValueError."""
    host = domain.strip().lower()
    if _DOMAIN_LITERAL.fullmatch(host):
        return host
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"cannot use {domain!r} in a Message-ID: {exc}") from None
    if not dot_atom.fullmatch(host):
        raise ValueError(f"cannot use {domain!r} in a Message-ID")
    return host


@dataclass(frozen=True, slots=True)
class HeaderValues:
    """The header values of one message, all checked by `distrib.headers.check_header`."""

    sender: Address | Mailbox
    recipient: Address | Mailbox
    subject: str
    date: str
    message_id: str
    content_language: str
    list_unsubscribe: str
    one_click: bool = False
    reply_to: Address | Mailbox | None = None
    list_id: str | None = None  # "Description <list.id>"


#: The headers of an attachment's MIME part, in the order both writers put them.
ATTACHMENT_HEADERS = ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition")
#: The headers of an inline image's MIME part, in the order both writers put them.
IMAGE_HEADERS = (*ATTACHMENT_HEADERS, "Content-ID")
# An RFC 2392 Content-ID as distrib writes it: img.<hex>@<dot-atom>.
_CONTENT_ID = re.compile(r"img\.[0-9a-f]{8,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
# RFC 2045 type "/" subtype, both tokens (what the mimetypes table gives).
_MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")


def check_attachment(attachment: Attachment) -> None:
    """Raise ValueError, naming the attachment, if its file name or MIME type cannot be
    written into the part's headers (see `distrib.release_extras.attachment_name_problem`)."""
    problem = attachment_name_problem(attachment.filename)
    if problem is None and not _MIME_TYPE.fullmatch(attachment.content_type):
        problem = f"{attachment.content_type!r} is not a MIME type"
    if problem is not None:
        raise ValueError(f"attachment {attachment.filename!r}: {problem}")


@lru_cache(maxsize=64)
def attachment_part(attachment: Attachment) -> EmailMessage:
    """Return the MIME part of ``attachment`` (base64), built once and shared by messages.

    Raise ValueError if the name is refused (`check_attachment`) or if the part, parsed back,
    is not exactly ``ATTACHMENT_HEADERS`` with that file name.
    """
    check_attachment(attachment)
    # An EmailMessage so that attach() accepts it; raw_data_manager adds no MIME-Version.
    part = EmailMessage(policy=_POLICY)
    raw_data_manager.set_content(
        part,
        attachment.data,
        maintype=attachment.maintype,
        subtype=attachment.subtype,
        disposition="attachment",
        filename=attachment.filename,
    )
    _check_part(part, attachment)
    return part


def check_image(image: InlineImage) -> None:
    """Raise ValueError, naming the image, if its name, type or Content-ID cannot be written."""
    check_attachment(image)
    if image.maintype != "image" or not _CONTENT_ID.fullmatch(image.content_id):
        raise ValueError(f"image {image.filename!r}: not an image with a Content-ID distrib made")


@lru_cache(maxsize=64)
def image_part(image: InlineImage) -> EmailMessage:
    """Return the MIME part of an inline image (base64, ``inline``, its Content-ID), built once
    and shared by messages; refused like `attachment_part`."""
    check_image(image)
    part = EmailMessage(policy=_POLICY)
    raw_data_manager.set_content(
        part,
        image.data,
        maintype=image.maintype,
        subtype=image.subtype,
        disposition="inline",
        filename=image.filename,
        cid=f"<{image.content_id}>",
    )
    _check_part(part, image, IMAGE_HEADERS)
    return part


def _check_part(
    part: EmailMessage, attachment: Attachment, names: Sequence[str] = ATTACHMENT_HEADERS
) -> None:
    """Parse the part's header block as a reader will and refuse any surprise: a header
    more or less, a control character in a decoded value or parameter, another file name."""
    # The header block exactly as the generator writes it (without the base64 body).
    head = b"".join(part.policy.fold_binary(name, value) for name, value in part.items())
    head += part.policy.linesep.encode("ascii")
    parsed = BytesHeaderParser(policy=default_policy).parsebytes(head)
    where = f"attachment {attachment.filename!r}"
    if [name.lower() for name in parsed] != [name.lower() for name in names]:
        raise ValueError(f"{where}: its MIME part would have the headers {parsed.keys()}")
    for name, value in parsed.items():
        params = dict(getattr(value, "params", {}))
        for text in (str(value), *params.values()):
            reason = find_forbidden(text)
            if reason is not None:
                raise ValueError(f"{where}: header {name} would hold a {reason}")
    filename = dict(getattr(parsed["Content-Disposition"], "params", {})).get("filename")
    if filename != attachment.filename:
        raise ValueError(f"{where}: its MIME part would name it {filename!r}")


def build_message(
    headers: HeaderValues,
    text: str,
    html: str,
    attachments: Sequence[Attachment] = (),
    images: Sequence[InlineImage] = (),
) -> bytes:
    """Return the message as CRLF bytes: ``multipart/alternative`` (text/plain, then text/html,
    in a ``multipart/related`` with the images if there are any), inside ``multipart/mixed``
    with the attachments if there are any."""
    utf8 = not headers.recipient.addr_spec.isascii()
    message = EmailMessage(policy=_POLICY_UTF8 if utf8 else _POLICY)
    message["From"] = _address(headers.sender)
    message["To"] = _address(headers.recipient)
    if headers.reply_to is not None:
        message["Reply-To"] = _address(headers.reply_to)
    message["Subject"] = headers.subject
    message["Date"] = headers.date
    message["Message-ID"] = headers.message_id
    if headers.list_id is not None:
        message["List-Id"] = headers.list_id
    message["List-Unsubscribe"] = headers.list_unsubscribe
    if headers.one_click:
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    # Quoted-printable keeps the message 7-bit clean (no 8BITMIME needed) and lines short.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    if images:
        *_, html_part = message.iter_parts()  # text/plain, then text/html
        assert isinstance(html_part, EmailMessage)
        html_part.make_related()
        for image in images:
            html_part.attach(image_part(image))
    if attachments:
        message.make_mixed()
        for attachment in attachments:
            message.attach(attachment_part(attachment))
    # Set after the body: set_content() clears every Content-* header of the message.
    message["Content-Language"] = headers.content_language
    return message.as_bytes()


def _address(value: Address | Mailbox) -> Address:
    return value.as_address() if isinstance(value, Mailbox) else value


def content_hash(subject: str, text: str, html: str, *extra: str) -> str:
    """Return the SHA-256 hex digest of what the recipient reads (not Date or Message-ID).

    ``extra`` adds more parts, e.g. the digests of the attachments.
    """
    return content_hash_of(*(part.encode("utf-8") for part in (subject, text, html, *extra)))


def content_hash_of(*parts: bytes) -> str:
    """Return `content_hash` of parts already encoded as UTF-8."""
    digest = hashlib.sha256()
    for data in parts:
        # Length-prefix each part so moving text between parts changes the hash.
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()
