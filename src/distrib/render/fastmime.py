"""Write a message's MIME bytes directly: the fast path of `Renderer.render`.

Why this is hand-written: building each message as an `email.message.EmailMessage` under
``policy.SMTP`` and serialising it costs about 3.5 ms here (every header is parsed into a token
tree and folded again, ``set_content`` parses the Content-Type it has just written, the body is
quoted-printable-encoded in pure Python), about 280 messages/s for what is, for distrib, always
the same shape of message::

    From, To, [Reply-To], Subject, Date, Message-ID, [List-Id], List-Unsubscribe,
    [List-Unsubscribe-Post], MIME-Version, Content-Type, Content-Language
    multipart/alternative (text/plain, text/html; utf-8, quoted-printable)
    [the text/html inside multipart/related, followed by the inline images, base64]
    [inside multipart/mixed, followed by the attachments, base64]

`MessageWriter.write` writes those bytes from a few pieces:

* **Headers** are folded by the same functions as the standard-library path
  (`distrib.render.mime`: RFC 2047 ``Q`` words, List-Unsubscribe never encoded).  Every value
  goes through `distrib.headers.check_header` first (CVE-2024-6923): the ones that change per
  message each time, the ones that repeat (From, Reply-To, List-Id, a variant's Subject) once,
  when their folded line is cached.
* **Bodies** are quoted-printable, like the standard library's (a base64 text part scores as
  spam with some filters): the lines are split as ``bytes.splitlines`` splits them, as
  ``email.contentmanager`` does, and each line is encoded by `binascii.b2a_qp` (C) through a
  cache of encoded lines, since most lines of a release are the same in every message.
  A body filled from a template skeleton (`Body.parts`) goes faster still: the constant
  pieces are encoded once, and a line holding a contact's value is written as segments
  joined by soft line breaks (``=`` CRLF), so only the value is encoded per message.  Any
  RFC 2045 reader removes soft line breaks: the decoded text is the same.
* **Attachments**: each attachment's part is written once per campaign, by `attachment_bytes`:
  its headers as the standard library folds them (the file name quoted, or RFC 2231-encoded
  when it is not ASCII or too long for a line), but from the name itself, never from a header
  the standard library has parsed again (that parse decodes encoded words, CVE-2024-6923);
  the name is checked first (`distrib.render.mime.check_attachment`).  Then base64, 76
  characters a line.
* **Inline images**: each image's part is written once per campaign too, by `image_bytes`:
  the attachment's headers with ``inline`` for ``attachment``, then ``Content-ID``, as the
  standard library writes them (`distrib.render.mime.image_part`).
* **Boundaries** are like the standard library's, ``===============<16 hex digits>==``:
  ``==`` never occurs in quoted-printable or base64 text, so no body can contain one.  The
  digits come from the Message-ID, so the same message always gives the same bytes.

A message this writer does not cover goes to `distrib.render.mime.build_message` (see
`MessageWriter.covers`): only a Message-ID that is not a plain ``<dot-atom@dot-atom>``, which
`make_message_id` never produces.  ``tests/test_render_fast*.py`` parse thousands of random
messages written both ways and compare every header, part and decoded content.
"""

from __future__ import annotations

import hashlib
import re
from binascii import b2a_base64, b2a_qp
from collections.abc import Callable, Sequence
from email.errors import MessageError
from email.headerregistry import Address
from typing import TYPE_CHECKING, NamedTuple, TypeVar, cast
from urllib.parse import quote

from distrib.addrspec import DOT_ATOM, UTF8_DOT_ATOM, plain_address
from distrib.headers import FORBIDDEN_HEADER_CHARS, check_header
from distrib.render.mime import (
    ATTACHMENT_HEADERS,
    HeaderValues,
    Mailbox,
    check_attachment,
    check_image,
    fold_list_id,
    fold_mailboxes,
    fold_unstructured,
    fold_uri_list,
)

if TYPE_CHECKING:
    from distrib.release_extras import Attachment
    from distrib.release_images import InlineImage

__all__ = ["Body", "MessageWriter", "attachment_bytes", "image_bytes", "mailbox"]

_CRLF = b"\r\n"
_UTF8_LOCAL = re.compile(UTF8_DOT_ATOM)  # atext or any non-ASCII (RFC 6532)
_PLAIN_MESSAGE_ID = re.compile(rf"<{DOT_ATOM}@(?:{DOT_ATOM}|\[[\x21-\x5a\x5e-\x7e]*\])>")
_CACHE_BYTES = 32_000_000  # held by a writer's caches, about; past this they start again
_K = TypeVar("_K")
_V = TypeVar("_V")
_Piece = tuple[bytes, bytes, bytes] | tuple[bytes] | tuple[()]
_Fold = Callable[[str, str], str]


def mailbox(display_name: str, address: str) -> Mailbox:
    """Return ``display_name <address>`` as a `Mailbox`, or raise ValueError like `Address`.

    A plain ``local@domain`` is taken as it is; anything else goes through the standard
    library's parser, which quotes what needs quoting and refuses what it cannot read.  A UTF-8
    local part (RFC 6532) must be a dot-atom: such an address is only ever typed as one.
    """
    if plain_address.fullmatch(address):  # given back unchanged by Address (tested)
        return Mailbox(display_name, address)
    local, _, domain = address.rpartition("@")
    if local.isascii():
        try:
            return Mailbox(display_name, Address(display_name, addr_spec=address).addr_spec)
        except (IndexError, MessageError) as exc:  # IndexError: CPython's parser on "zoe@"
            raise ValueError(f"{address!r} is not a valid address ({exc or 'no domain'})") from None
    if not _UTF8_LOCAL.fullmatch(local) or not domain:
        raise ValueError(f"{address!r} is not an address distrib can write (RFC 6532)")
    return Mailbox(display_name, address)


class Body(NamedTuple):
    """A text part already rendered: the text, the same as UTF-8, and, when it was filled
    from a template skeleton, the skeleton's pieces and the values between them."""

    text: str
    data: bytes
    parts: Sequence[str] | None = None  # "".join(parts) == text


def _boundaries(message_id: str) -> tuple[str, str]:
    """Return two boundaries (alternative, mixed) drawn from the Message-ID."""
    digest = hashlib.blake2b(message_id.encode("utf-8"), digest_size=16).hexdigest()
    return f"==============={digest[:16]}==", f"==============={digest[16:]}=="


def _related_boundary(message_id: str) -> str:
    """Return the boundary of the ``multipart/related`` part, drawn from the Message-ID too."""
    digest = hashlib.blake2b(message_id.encode("utf-8"), digest_size=8, person=b"related")
    return f"==============={digest.hexdigest()}=="


_TEXT_HEAD = (
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_HTML_HEAD = (
    b'Content-Type: text/html; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
_SOFT_BREAK = b"=\r\n"
_QP_LINE = 76  # RFC 2045 6.7: encoded lines at most 76 characters


def _segment(data: bytes) -> bytes:
    """Return ``data`` (no line break in it) quoted-printable as a segment of a line: its last
    encoded line is kept under 76 characters so that a soft line break can follow it."""
    encoded = b2a_qp(data)
    start = encoded.rfind(b"\n") + 1
    if len(encoded) - start >= _QP_LINE:
        # Cut before the last characters, never inside an "=XX" escape.
        cut = len(encoded) - 2
        while b"=" in encoded[cut - 2 : cut]:
            cut -= 1
        encoded = encoded[:cut] + b"=\n" + encoded[cut:]
    return encoded.replace(b"\n", _CRLF)


_LINE = 78  # the standard library's max_line_length under policy.SMTP
_BASE64_CHUNK = _LINE // 4 * 3  # bytes per base64 line, as email.contentmanager cuts them


def attachment_bytes(attachment: Attachment) -> bytes:
    """Return the MIME part of ``attachment``: its three headers, a blank line, base64.

    Raise ValueError if its name or type cannot be written (`check_attachment`).
    """
    check_attachment(attachment)
    content_type, encoding, disposition = ATTACHMENT_HEADERS
    head = (
        f"{content_type}: {attachment.content_type}\r\n{encoding}: base64\r\n"
        + _fold_filename(f"{disposition}: attachment;", attachment.filename)
        + "\r\n"
    )
    return head.encode("ascii") + _base64_lines(attachment.data)


def image_bytes(image: InlineImage) -> bytes:
    """Return the MIME part of an inline image: its four headers, a blank line, base64.

    Raise ValueError if its name, type or Content-ID cannot be written (`check_image`).
    """
    check_image(image)
    content_type, encoding, disposition = ATTACHMENT_HEADERS
    head = (
        f"{content_type}: {image.content_type}\r\n{encoding}: base64\r\n"
        + _fold_filename(f"{disposition}: inline;", image.filename)
        + f"Content-ID: <{image.content_id}>\r\n\r\n"
    )
    return head.encode("ascii") + _base64_lines(image.data)


def _base64_lines(data: bytes) -> bytes:
    """Return ``data`` in base64, cut into lines as email.contentmanager cuts them."""
    return b"".join(
        b2a_base64(data[i : i + _BASE64_CHUNK], newline=False) + _CRLF
        for i in range(0, len(data), _BASE64_CHUNK)
    )


def _fold_filename(start: str, filename: str) -> str:
    """Return ``start filename=…`` folded as the standard library folds a MIME parameter: a
    quoted string if the name is ASCII, else RFC 2231 (``filename*=utf-8''…``); on the line
    after ``start`` if it does not fit after it; in numbered RFC 2231 sections if it does not
    fit on a line at all.  Only ASCII comes out: a name cannot break a line."""
    charset = "us-ascii" if filename.isascii() else "utf-8"
    if filename.isascii():
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        whole = f'filename="{quoted}"'
    else:
        whole = f"filename*={charset}''{quote(filename, safe='')}"
    # The standard library keeps a quoted name on the first line up to 78 characters
    # exactly, an RFC 2231 one up to 77 (its folder measures the two differently).
    fits = _LINE if filename.isascii() else _LINE - 1
    if len(start) + len(whole) + 1 <= fits:
        return f"{start} {whole}\r\n"
    if len(whole) + 2 <= _LINE:
        return f"{start}\r\n {whole}\r\n"
    lines = [start]
    prefix = f"{charset}''"
    rest, section = filename, 0
    while rest:
        room = _LINE - (len("filename") + len(str(section)) + 3 + len(prefix)) - 2
        cut = room
        while len(encoded := quote(rest[:cut], safe="")) > room:
            cut -= 1
        rest = rest[cut:]
        lines.append(f" filename*{section}*={prefix}{encoded}{';' if rest else ''}")
        prefix, section = "", section + 1
    return "\r\n".join(lines) + "\r\n"


class MessageWriter:
    """Write messages as bytes, caching what repeats from one message to the next.

    One writer per `Renderer` (the caches hold folded headers and encoded body lines of one
    campaign).  The output parses back, with any RFC 5322/2045/2047 reader, to the same
    message as `distrib.render.mime.build_message` gives for the same values.
    """

    def __init__(self) -> None:
        self._lines: dict[bytes, bytes] = {}
        self._pieces: dict[str, _Piece] = {}
        self._headers: dict[tuple[str, object], bytes] = {}
        self._attachments: dict[Attachment, bytes] = {}
        self._images: dict[InlineImage, bytes] = {}
        self._held = 0  # bytes in the caches of lines, pieces and headers, about

    @staticmethod
    def covers(headers: HeaderValues) -> bool:
        """Tell whether `write` handles these values (else use `build_message`)."""
        return _PLAIN_MESSAGE_ID.fullmatch(headers.message_id) is not None

    def write(
        self,
        headers: HeaderValues,
        text: str | Body,
        html: str | Body,
        attachments: Sequence[Attachment] = (),
        images: Sequence[InlineImage] = (),
    ) -> bytes:
        """Return the message as CRLF bytes (``images``: shown by the HTML, in a
        ``multipart/related`` with it)."""
        recipient = headers.recipient
        name, spec = recipient.display_name, recipient.addr_spec
        checked = (
            ("To", name),
            ("To", spec),
            ("Date", headers.date),
            ("Message-ID", headers.message_id),
            ("List-Unsubscribe", headers.list_unsubscribe),
            ("Content-Language", headers.content_language),
        )
        # One search over all of them; check_header says which one if anything is found.
        if FORBIDDEN_HEADER_CHARS.search(" ".join(value for _, value in checked)):
            for header, value in checked:
                check_header(header, value)
        if not self.covers(headers):
            raise ValueError(f"not a plain Message-ID: {headers.message_id!r}")
        utf8 = not spec.isascii()
        alternative, mixed = _boundaries(headers.message_id)
        head = [
            self._mailbox_line("From", headers.sender, utf8=utf8),
            fold_mailboxes("To", [recipient], utf8=utf8).encode("utf-8"),
        ]
        if headers.reply_to is not None:
            head.append(self._mailbox_line("Reply-To", headers.reply_to, utf8=utf8))
        head.append(self._cached("Subject", headers.subject, fold_unstructured))
        line = f"Date: {headers.date}\r\nMessage-ID: {headers.message_id}\r\n"
        if headers.list_id is not None:
            line += self._cached("List-Id", headers.list_id, fold_list_id).decode("ascii")
        line += fold_uri_list("List-Unsubscribe", headers.list_unsubscribe)
        if headers.one_click:
            line += "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        kind, boundary = ("mixed", mixed) if attachments else ("alternative", alternative)
        line += (
            f'MIME-Version: 1.0\r\nContent-Type: multipart/{kind};\r\n boundary="{boundary}"\r\n'
            f"Content-Language: {headers.content_language}\r\n\r\n"
        )
        if attachments:
            line += (
                f"--{mixed}\r\n"
                f'Content-Type: multipart/alternative;\r\n boundary="{alternative}"\r\n\r\n'
            )
        line += f"--{alternative}\r\n"
        head.append(line.encode("ascii"))
        delimiter = f"\r\n--{alternative}\r\n".encode("ascii")
        parts = [*head, _TEXT_HEAD, self._body(text), delimiter]
        if images:
            related = _related_boundary(headers.message_id)
            parts.append(
                f'Content-Type: multipart/related;\r\n boundary="{related}"\r\n\r\n'
                f"--{related}\r\n".encode("ascii")
            )
        parts += [_HTML_HEAD, self._body(html)]
        if images:
            for image in images:
                parts += [f"\r\n--{related}\r\n".encode("ascii"), self._image(image)]
            parts.append(f"\r\n--{related}--\r\n".encode("ascii"))
        parts.append(f"\r\n--{alternative}--\r\n".encode("ascii"))
        for attachment in attachments:
            parts += [f"\r\n--{mixed}\r\n".encode("ascii"), self._attachment(attachment)]
        if attachments:
            parts.append(f"\r\n--{mixed}--\r\n".encode("ascii"))
        return b"".join(parts)

    def _mailbox_line(self, header: str, address: Address | Mailbox, *, utf8: bool) -> bytes:
        """Return the folded ``From:`` or ``Reply-To:`` line, cached (the sender's).

        A UTF-8 address is only allowed in a message that needs SMTPUTF8 anyway (its To),
        as in `build_message`.
        """
        key = (header, (address.display_name, address.addr_spec, utf8))
        line = self._headers.get(key)
        if line is None:
            check_header(header, address.display_name)
            check_header(header, address.addr_spec)
            line = fold_mailboxes(header, [address], utf8=utf8).encode("utf-8")
            self._remember(self._headers, key, line, len(line))
        return line

    def _cached(self, header: str, value: str, fold: _Fold) -> bytes:
        """Return ``header: value`` folded by ``fold`` (checked, then cached)."""
        key = (header, value)
        line = self._headers.get(key)
        if line is None:
            check_header(header, value)
            line = fold(header, value).encode("ascii")
            self._remember(self._headers, key, line, len(line))
        return line

    def _body(self, body: str | Body) -> bytes:
        """Return a text part's body, quoted-printable, CRLF after every line."""
        if isinstance(body, str):
            return self._quoted_printable(body.encode("utf-8"))
        if body.parts is not None:
            encoded = self._quoted_printable_parts(body.parts)
            if encoded is not None:
                return encoded
        return self._quoted_printable(body.data)

    def _quoted_printable(self, data: bytes) -> bytes:
        """Return ``data`` quoted-printable, CRLF after every line (as email.contentmanager)."""
        lines = data.splitlines()
        found = list(map(self._lines.get, lines))
        try:
            return _CRLF.join(cast("list[bytes]", found)) + _CRLF
        except TypeError:  # some lines are not in the cache yet (None)
            pass
        encoded = []
        for line, known in zip(lines, found, strict=True):
            encoded.append(self._line(line) if known is None else known)
        return _CRLF.join(encoded) + _CRLF

    def _line(self, line: bytes) -> bytes:
        """Return one line (no line break in it) quoted-printable, and remember it."""
        encoded = self._lines.get(line)
        if encoded is None:
            # Soft line breaks come out as "=\n" when the input has no CRLF.
            encoded = b2a_qp(line).replace(b"\n", _CRLF)
            self._remember(self._lines, line, encoded, len(line) + len(encoded))
        return encoded

    def _quoted_printable_parts(self, parts: Sequence[str]) -> bytes | None:
        """Return ``"".join(parts)`` quoted-printable, where ``parts`` are a skeleton's constant
        pieces (even places) around values (odd places); None if a CR, or an LF in a value,
        leaves it to `_quoted_printable`.

        A line holding values is written as segments (the constant text before a value, the
        value, the text after it, …), each encoded apart and joined by soft line breaks, so
        the constant segments are encoded once per piece and only the values per message;
        the whole lines inside a piece are encoded once.  The decoded text is the same.
        """
        out: list[bytes] = []
        line: list[bytes] = []  # the encoded segments of the current line
        known = self._pieces
        for value, piece in [("", parts[0]), *zip(parts[1::2], parts[2::2], strict=True)]:
            if value:
                if "\n" in value or "\r" in value:
                    return None
                line.append(_segment(value.encode("utf-8")))
            if not piece:
                continue
            encoded = known.get(piece) or self._piece(piece)
            if len(encoded) == 1:  # no line break in the piece
                line.append(encoded[0])
            elif not encoded:  # a CR in it
                return None
            else:
                head, lines, tail = encoded
                if head:
                    line.append(head)
                out += [_SOFT_BREAK.join(line), _CRLF, lines]
                line = [tail] if tail else []
        if line:
            out += [_SOFT_BREAK.join(line), _CRLF]
        return b"".join(out) or _CRLF

    def _piece(self, piece: str) -> _Piece:
        """Encode a constant piece (not empty): its first line's end, its whole lines, its
        last line's start; or, without a line break, the piece as one segment; () if it
        holds a CR (left to `_quoted_printable`)."""
        result: _Piece
        if "\r" in piece:
            result = ()
        elif "\n" not in piece:
            result = (_segment(piece.encode("utf-8")),)
        else:
            first, last = piece.index("\n"), piece.rindex("\n")
            inner = piece[first + 1 : last].split("\n") if last > first else []
            lines = b"".join(self._line(x.encode("utf-8")) + _CRLF for x in inner)
            head, tail = piece[:first], piece[last + 1 :]
            result = (
                _segment(head.encode("utf-8")) if head else b"",
                lines,
                _segment(tail.encode("utf-8")) if tail else b"",
            )
        self._remember(self._pieces, piece, result, len(piece) + sum(map(len, result)))
        return result

    def _attachment(self, attachment: Attachment) -> bytes:
        """Return the attachment's MIME part (headers, blank line, base64), written once."""
        data = self._attachments.get(attachment)
        if data is None:
            data = attachment_bytes(attachment)
            self._attachments[attachment] = data
        return data

    def _image(self, image: InlineImage) -> bytes:
        """Return an inline image's MIME part (headers, blank line, base64), written once."""
        data = self._images.get(image)
        if data is None:
            data = image_bytes(image)
            self._images[image] = data
        return data

    def _remember(self, cache: dict[_K, _V], key: _K, value: _V, size: int) -> None:
        """Keep ``value``; past the byte budget, forget everything first (a campaign with
        a new line in every message, say: the caches then start again)."""
        if self._held + size > _CACHE_BYTES:
            self._lines.clear()
            self._pieces.clear()
            self._headers.clear()
            self._held = 0
        cache[key] = value
        self._held += size
