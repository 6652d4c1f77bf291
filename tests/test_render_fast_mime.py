"""The fast MIME writer against the standard library: same message, valid bytes, no injection.

Every input goes through `distrib.render.mime.build_message` (an `EmailMessage` under
``policy.SMTP``) and `distrib.render.fastmime.MessageWriter.write`; both outputs are parsed back
with ``email.policy.default`` and compared header by header, part by part, down to the decoded
content.  The fast output's raw bytes are checked on their own as well.
"""

from __future__ import annotations

import binascii
import dataclasses
import email
import email.policy
import hashlib
import random
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, unquote
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distrib.errors import HeaderValueError
from distrib.headers import is_header_safe
from distrib.release_extras import Attachment, attachment_name_problem
from distrib.release_images import InlineImage, content_id
from distrib.render.fastmime import Body, MessageWriter, attachment_bytes, image_bytes, mailbox
from distrib.render.mime import (
    HeaderValues,
    Mailbox,
    _needs_encoding,
    attachment_part,
    build_message,
    encode_words,
    image_part,
    make_message_id,
)
from distrib.render.unsubscribe import list_unsubscribe_value, mailto_uri, token_url
from render_helpers import corpus_size

# -- comparing two messages ---------------------------------------------------------------------


def parse_any(data: bytes) -> EmailMessage:
    """Parse like a modern reader; an RFC 6532 (SMTPUTF8) message is UTF-8 throughout."""
    if data.isascii():
        message = email.message_from_bytes(data, policy=email.policy.default)
    else:
        message = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def summary(data: bytes) -> tuple[list[tuple[str, Any]], list[tuple[Any, ...]]]:
    """Return what a reader sees: the headers (decoded) and every part, content included."""
    message = parse_any(data)
    assert not message.defects, message.defects
    headers: list[tuple[str, Any]] = []
    for name, header in message.items():
        value: Any = str(header)
        if name.lower() in ("from", "to", "reply-to"):
            value = [(a.display_name, a.addr_spec) for a in header.addresses]
        elif name.lower() == "content-type":
            params = {k: v for k, v in header.params.items() if k != "boundary"}
            value = (header.content_type, params)
        headers.append((name, value))
    parts = []
    for part in message.walk():
        assert not part.defects, part.defects
        entry: tuple[Any, ...] = (
            part["Content-Type"] and (part["Content-Type"].content_type),
            part.get_content_charset(),
            part.get("Content-Transfer-Encoding"),
            part.get_content_disposition(),
            part.get_filename(),
            part.get("Content-ID"),
        )
        if not part.is_multipart():
            entry += (part.get_content(),)
        parts.append(entry)
    return headers, parts


def canonical(data: bytes) -> tuple[dict[str, str], list[tuple[Any, ...]]]:
    """A cheaper reading (the compat32 parser, 15 times faster): the top-level headers as
    written (unfolded; Content-Type, with its boundary, left to the parts) and each part's
    type, charset, transfer encoding, file name and decoded payload."""
    text = data.decode("utf-8")
    message = email.message_from_string(text, policy=email.policy.compat32)
    assert not message.defects, message.defects
    head = {k: re.sub(r"\r?\n([ \t])", r"\1", v) for k, v in message.items()}
    head.pop("Content-Type")
    parts = []
    for part in message.walk():
        assert not part.defects, part.defects
        payload = None if part.is_multipart() else part.get_payload(decode=True)
        charset = part.get_param("charset")
        cte = part["Content-Transfer-Encoding"]
        content_id = part["Content-ID"]
        parts.append(
            (part.get_content_type(), charset, cte, part.get_filename(), content_id, payload)
        )
    return head, parts


def unfold(head: bytes) -> dict[str, str]:
    """Unfold a raw header block (RFC 5322 2.2.3): name -> value as written."""
    values: dict[str, str] = {}
    text = head.decode("utf-8").replace("\r\n ", " ").replace("\r\n\t", "\t")
    for line in text.split("\r\n"):
        name, _, value = line.partition(":")
        values[name] = value.removeprefix(" ")
    return values


def _words(line: bytes) -> int:
    """Count the space-separated words of a header line, a quoted string counting as one."""
    count, quoted, previous = 0, False, b" "
    for byte in line:
        char = bytes([byte])
        if char == b'"' and previous != b"\\":
            quoted = not quoted
        if char != b" " and previous == b" " and not quoted:
            count += 1
        previous = char
    return count


def check_raw(data: bytes, headers: HeaderValues) -> None:
    """The bytes are valid on their own: CRLF only, short lines, 7-bit unless SMTPUTF8."""
    bare = data.replace(b"\r\n", b"")
    assert b"\r" not in bare and b"\n" not in bare, "a bare CR or LF"
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    for line in lines:
        assert len(line) <= 998
        if b"=?utf-8?q?" in line:
            assert len(line) <= 76, line  # RFC 2047 section 2
        elif len(line) > 78:  # only a word that cannot be cut (an address, a long ASCII word)
            assert _words(line) <= (1 if line.startswith(b" ") else 2), line
    assert all(len(line) <= 78 for line in body.split(b"\r\n")), "a body line over 78"
    if headers.recipient.addr_spec.isascii():
        assert data.isascii()
    else:  # only the To header may hold UTF-8 (RFC 6532)
        raw = unfold(head)
        assert all(v.isascii() for k, v in raw.items() if k != "To")
        assert body.isascii()
    raw = unfold(head)
    assert raw["Date"] == headers.date
    assert raw["Message-ID"] == headers.message_id
    assert raw["List-Unsubscribe"] == headers.list_unsubscribe
    assert raw["Content-Language"] == headers.content_language
    assert raw["MIME-Version"] == "1.0"
    assert ("List-Unsubscribe-Post" in raw) is headers.one_click


def compare(
    headers: HeaderValues,
    text: str,
    html: str,
    attachments: list[Attachment],
    writer: MessageWriter | None = None,
    *,
    full: bool = True,
    images: Sequence[InlineImage] = (),
) -> bytes:
    """Write the message both ways, check they read the same; return the fast bytes.

    ``full=False`` skips the `summary` by the modern parser (5 ms a message), keeping the
    `canonical` comparison and the checks of the raw bytes.
    """
    fast = (writer or MessageWriter()).write(headers, text, html, attachments, images)
    reference = build_message(headers, text, html, attachments, images)
    check_raw(fast, headers)
    assert canonical(fast) == canonical(reference)
    if not full:
        return fast
    assert summary(fast) == summary(reference)
    message = parse_any(fast)
    assert message["Subject"] == headers.subject
    for header, mailbox_ in (("From", headers.sender), ("To", headers.recipient)):
        [address] = message[header].addresses
        assert address.addr_spec == mailbox_.addr_spec
        name = mailbox_.display_name
        if not _needs_encoding(name) or len(encode_words(name, 75)) == 1:
            # CPython's parser puts a space between two encoded words of one display name
            # (RFC 2047 says to drop it) and collapses runs of spaces, whoever wrote them.
            assert address.display_name.split() == name.split()
    if headers.reply_to is not None:
        assert message["Reply-To"].addresses[0].addr_spec == headers.reply_to.addr_spec
    if headers.list_id is not None:
        # A description with RFC 5322 specials is sent as one quoted string; the parser
        # hands it back quoted (List-Id is unstructured to it), so unquote before comparing.
        got_description, _, got_id = str(message["List-Id"]).rpartition(" <")
        description, _, list_id = headers.list_id.rpartition(" <")
        if got_description.startswith('"') and got_description.endswith('"'):
            got_description = unquote(got_description)
        assert got_id == list_id
        assert got_description.split() == description.split()
    return fast


# -- inputs -------------------------------------------------------------------------------------

safe_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=120
).filter(lambda s: is_header_safe(s) and s.strip() == s)
names = st.one_of(
    st.just(""),
    safe_text,
    st.sampled_from(
        [
            "Zoé Bélanger",
            'Zoé "la plume" Bélanger, Jr.',
            "O'Brien (Radio-Canada)",
            ("Hélène Marchand-Dufour " * 6).strip(),
            "=?utf-8?q?Zo=C3=A9?=",
            "名前 テスト",
            "A" * 140,
        ]
    ),
)
atext = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzAZ09!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=12
)
labels = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=15)
ascii_addresses = st.builds(
    lambda local, domain: f"{'.'.join(local)}@{'.'.join(domain)}.example",
    st.lists(atext, min_size=1, max_size=3),
    st.lists(labels, min_size=1, max_size=3),
)
utf8_addresses = st.builds(
    lambda local, domain: f"{local}@{domain}.example",
    st.text(alphabet="zoéèàçüößñ名前", min_size=1, max_size=12).filter(lambda s: not s.isascii()),
    labels,
)
quoted_addresses = st.sampled_from(['"zoe belanger"@exemple.ca', '"a\\"b"@media.example'])
addresses = st.one_of(ascii_addresses, ascii_addresses, utf8_addresses, quoted_addresses)
BODY_TOKENS = [*"abcdé =.-\n\r\t\x0c", "\n\n", "\r\n", "From ", "--", "€", "名", "x" * 90, "=?"]
body_text = st.builds(
    lambda tokens, times: "".join(tokens) * times,
    st.lists(st.sampled_from(BODY_TOKENS), max_size=150),
    st.integers(1, 6),
)


# File names a release may hold (`attachment_name_problem` lets them through): accents, long
# names cut into RFC 2231 sections, quotes and backslashes, "=?" without "?=" …
file_names = st.one_of(
    st.sampled_from(
        [
            "fiche.pdf",
            "photo été 2027.jpg",
            "communiqué été.pdf",
            "x" * 90 + ".png",
            "é" * 70 + ".pdf",
            'le "dossier" \\ final.pdf',
            " espace.pdf",
            "a=?b.pdf",
            "名前 テスト 😀.png",
        ]
    ),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=120
    ).filter(lambda name: attachment_name_problem(name) is None),
)


@st.composite
def attachments(draw: st.DrawFn) -> Attachment:
    data = draw(st.binary(max_size=400))
    filename = draw(file_names)
    content_type = draw(st.sampled_from(["application/pdf", "image/jpeg", "image/png"]))
    path = Path("/release") / hashlib.sha256(data + filename.encode()).hexdigest()
    return Attachment(
        filename, path, filename, content_type, data, hashlib.sha256(data).hexdigest()
    )


_IMAGE_STARTS = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP"]
_IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"]


@st.composite
def inline_images(draw: st.DrawFn) -> InlineImage:
    """An image as the release gives it: recognised bytes, a name a release may hold, its
    Content-ID from its digest and the sender's domain."""
    kind = draw(st.integers(0, 3))
    data = _IMAGE_STARTS[kind] + draw(st.binary(max_size=300))
    filename = draw(file_names)
    digest = hashlib.sha256(data).hexdigest()
    domain = draw(st.sampled_from(["agapc.example", "presse.agapc.example", "xn--agap-bsa.ca"]))
    path = Path("/release") / digest
    return InlineImage(
        filename, path, filename, _IMAGE_TYPES[kind], data, digest, content_id(digest, domain), ""
    )


@st.composite
def header_values(draw: st.DrawFn) -> HeaderValues:
    moment = datetime(2027, 11, 4, 9, tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 10**8)))
    offset = timezone(timedelta(minutes=draw(st.sampled_from([-300, -240, 0, 60, 330]))))
    token = draw(st.text(alphabet="ABCxyz0189_-", min_size=22, max_size=22))
    url = draw(
        st.sampled_from(
            [None, "https://agapc.example/desabonnement", "https://a.example/u/{token}?lang=fr"]
        )
    )
    list_id = draw(
        st.one_of(st.none(), safe_text.map(lambda d: f"{d} <communiques.agapc.example>"))
    )
    return HeaderValues(
        sender=mailbox(draw(names), draw(st.sampled_from(["presse@agapc.example", "a@b.example"]))),
        recipient=mailbox(draw(names), draw(addresses)),
        subject=draw(safe_text),
        date=format_datetime(moment.astimezone(offset)),
        message_id=make_message_id(draw(safe_text), draw(safe_text), "agapc.example"),
        content_language=draw(st.sampled_from(["fr-CA", "en-CA", "fr-CA, en-CA"])),
        list_unsubscribe=list_unsubscribe_value(
            mailto_uri("desabonnement@agapc.example"), url and token_url(url, token)
        ),
        one_click=url is not None,
        reply_to=draw(st.one_of(st.none(), ascii_addresses.map(lambda a: mailbox("", a)))),
        list_id=list_id,
    )


# -- equivalence --------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header_values(), body_text, body_text, st.lists(attachments(), max_size=2))
def test_fast_writer_reads_the_same_as_the_standard_library(
    headers: HeaderValues, text: str, html: str, files: list[Attachment]
) -> None:
    compare(headers, text, html, files)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    header_values(),
    body_text,
    body_text,
    st.lists(attachments(), max_size=2),
    st.lists(inline_images(), min_size=1, max_size=3, unique_by=lambda i: i.content_id),
)
def test_messages_with_inline_images_read_the_same(
    headers: HeaderValues, text: str, html: str, files: list[Attachment], images: list[InlineImage]
) -> None:
    """With images, both writers give text/plain, then a multipart/related holding the HTML and
    each image (its Content-ID, inline, its name), with or without attachments around."""
    fast = compare(headers, text, html, files, images=images)
    message = parse_any(fast)
    related = [p for p in message.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    [html_part, *image_parts] = related[0].iter_parts()
    assert html_part.get_content_type() == "text/html"
    assert [p["Content-ID"] for p in image_parts] == [f"<{i.content_id}>" for i in images]
    assert [p.get_payload(decode=True) for p in image_parts] == [i.data for i in images]
    alternative = [p for p in message.walk() if p.get_content_type() == "multipart/alternative"]
    assert [p.get_content_type() for p in alternative[0].iter_parts()] == [
        "text/plain",
        "multipart/related",
    ]


@settings(max_examples=200, deadline=None)
@given(inline_images())
def test_image_parts_are_the_standard_librarys_bytes(image: InlineImage) -> None:
    fast = image_bytes(image)
    assert fast == image_part(image).as_bytes()
    part = email.message_from_bytes(fast, policy=email.policy.default)
    assert part["Content-Disposition"].params["filename"] == image.filename
    assert part.get_content_disposition() == "inline"
    assert part["Content-ID"] == f"<{image.content_id}>"
    assert fast.isascii()


def _named(filename: str) -> Attachment:
    return Attachment(filename, Path("/release") / "x", filename, "application/pdf", b"", "0")


# Names whose Content-Disposition line is exactly 78 or 79 characters long, quoted or in
# RFC 2231 form: the standard library folds the two forms at different lengths.
EDGE_NAMES = ("0" * 30 + '"\\', "0" * 34, "0" * 35, "é" + "0" * 7 + 'éé"', "0" * 13 + 'éé"')


@pytest.mark.parametrize("filename", EDGE_NAMES)
def test_attachment_names_at_the_line_length_fold_as_the_standard_library_does(
    filename: str,
) -> None:
    attachment = _named(filename)
    assert attachment_bytes(attachment) == attachment_part(attachment).as_bytes()


@settings(max_examples=300, deadline=None)
@given(attachments())
def test_attachment_parts_are_the_standard_librarys_bytes(attachment: Attachment) -> None:
    """The fast writer writes an attachment's headers itself (never from a header the standard
    library parsed, which decodes encoded words): for every name a release may hold, the bytes
    are the standard library's, and the name reads back the same."""
    fast = attachment_bytes(attachment)
    assert fast == attachment_part(attachment).as_bytes()
    part = email.message_from_bytes(fast, policy=email.policy.default)
    assert list(part.keys()) == ["Content-Type", "Content-Transfer-Encoding", "Content-Disposition"]
    assert part["Content-Disposition"].params["filename"] == attachment.filename
    assert part.get_payload(decode=True) == attachment.data
    assert all(len(line) <= 78 for line in fast.split(b"\r\n"))
    assert fast.isascii()


def test_a_seeded_corpus_of_random_messages_reads_the_same() -> None:
    """Long subjects and names, folding, SMTPUTF8, bilingual bodies, attachments: 250 random
    messages through one writer (its caches warm), 1,000 in `make fuzz`, each compared with the
    standard library's (every 20th also by the modern parser, header values decoded)."""
    rng = random.Random(2027)
    writer = MessageWriter()
    words = ["Hiver", "en", "vitrine", "485 000 $", "Pointe-aux-Cèdres", "«", "»", "–", "Zoé"]
    words += ["Winter", "Storefronts:", "$485,000", "名前", "=", "==", "-- ", "x" * 80, "O'Brien"]
    words += ['"la plume"', "(AGAPC)", "Jr.,", "=?utf-8?q?x?=", "  ", "\u00a0"]
    paragraphs = [" ".join(rng.choices(words, k=rng.randint(0, 30))) for _ in range(40)]
    files = [
        Attachment("f.pdf", Path("/r/f.pdf"), "fiche é.pdf", "application/pdf", b"%PDF" * 99, "d1"),
        Attachment("p.jpg", Path("/r/p.jpg"), "photo.jpg", "image/jpeg", bytes(range(256)), "d2"),
    ]
    locals_ = ["zoe.belanger", "z+tag", "o'brien", "zoé", "名前.テスト", "x" * 60]
    for index in range(corpus_size(explore=1000, ci=250)):
        name = " ".join(rng.choices(words, k=rng.randint(0, 12))).strip()
        subject = " ".join(rng.choices(words, k=rng.randint(1, 25))).strip()
        headers = HeaderValues(
            sender=Mailbox(rng.choice(["Service de presse AGAPC", "Zoé « AGAPC »"]), "p@a.example"),
            recipient=mailbox(name, f"{rng.choice(locals_)}{index}@media{index % 7}.example"),
            subject=subject,
            date=format_datetime(datetime(2027, 11, 4, 9, tzinfo=UTC) + timedelta(minutes=index)),
            message_id=make_message_id("run", str(index), "agapc.example"),
            content_language=rng.choice(["fr-CA", "en-CA", "fr-CA, en-CA"]),
            list_unsubscribe=list_unsubscribe_value(
                "mailto:desabonnement@agapc.example?subject=unsubscribe",
                rng.choice([None, f"https://agapc.example/desabonnement?token=T{index:021d}"]),
            ),
            one_click=index % 3 > 0,
            reply_to=rng.choice([None, Mailbox("", "relations@agapc.example")]),
            list_id=rng.choice([None, "Gens d'affaires de la Pointe-aux-Cèdres <c.agapc.example>"]),
        )
        headers = dataclasses.replace(headers, one_click="https:" in headers.list_unsubscribe)
        release = "\n".join(rng.sample(paragraphs, 3))
        text = f"Bonjour {name},\n\n{release}\n\n-- \n{headers.list_unsubscribe}\n"
        html = f"<p>Bonjour {name},</p>\n" + release.replace("\n", "<br>\n") + "\n"
        attached = rng.sample(files, rng.choice([0, 0, 1, 2]))
        compare(headers, text, html, attached, writer, full=index % 20 == 0)


def test_header_block_is_the_standard_librarys_but_for_boundaries() -> None:
    headers = HeaderValues(
        sender=Mailbox("Service de presse AGAPC", "presse@agapc.example"),
        recipient=mailbox("Zoé Bélanger", "zoe@exemple.ca"),
        subject="Hiver en vitrine : 485 000 $ pour nos rues / Winter Storefronts: $485,000 " * 2,
        date="Thu, 04 Nov 2027 09:00:00 -0500",
        message_id=make_message_id("run", "zoe", "agapc.example"),
        content_language="fr-CA, en-CA",
        list_unsubscribe="<https://agapc.example/d?token=abc>, <mailto:d@agapc.example>",
        one_click=True,
        reply_to=Mailbox("", "relations@agapc.example"),
        list_id="Association des gens d'affaires de la Pointe-aux-Cèdres <c.agapc.example>",
    )
    fast = unfold(MessageWriter().write(headers, "t", "h").partition(b"\r\n\r\n")[0])
    slow = unfold(build_message(headers, "t", "h").partition(b"\r\n\r\n")[0])
    assert fast.pop("Content-Type").split(";")[0] == slow.pop("Content-Type").split(";")[0]
    assert fast == slow


def test_pieces_from_a_skeleton_decode_exactly_like_the_whole_text() -> None:
    """`Body.parts` (constant pieces around values) takes a short cut, with soft line breaks
    around the values: the same text once decoded, lines still under 76 characters; or the
    long way when a CR, or an LF in a value, makes the short cut unsafe."""
    rng = random.Random(7)
    inline = ["a", "é", " ", "=", "\t", "x" * 100, "名", "é" * 30, "=?", ".", "  "]
    breaks = [*inline, "\n", "\n\n", "\n" * 3]
    shortcuts = 0
    writer = MessageWriter()
    for _ in range(4000):
        count = 2 * rng.randint(0, 4) + 1
        parts = [
            "".join(rng.choices(inline if i % 2 else breaks, k=rng.randint(0, 12)))
            for i in range(count)
        ]
        if rng.random() < 0.1:  # a CR, or an LF in a value: the long way
            where = rng.randrange(count)
            parts[where] += rng.choice(["\r", "\r\n", "\n"])
        text = "".join(parts)
        whole = MessageWriter()._quoted_printable(text.encode("utf-8"))
        body = writer._body(Body(text, text.encode("utf-8"), parts))
        assert binascii.a2b_qp(body) == binascii.a2b_qp(whole)
        assert b"\r" not in body.replace(b"\r\n", b"") and b"\n" not in body.replace(b"\r\n", b"")
        assert all(len(line) <= 76 for line in body.split(b"\r\n")), body
        assert not any(line.endswith((b" ", b"\t")) for line in body.split(b"\r\n"))
        shortcuts += writer._quoted_printable_parts(parts) is not None
    assert shortcuts > 3000


# -- addresses ----------------------------------------------------------------------------------


@given(ascii_addresses)
def test_plain_addresses_are_what_the_standard_parser_gives_back(address: str) -> None:
    from email.headerregistry import Address

    assert mailbox("", address).addr_spec == Address(addr_spec=address).addr_spec == address


ascii_names = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1)


@given(ascii_names.filter(lambda s: s.strip() == s))
def test_display_names_are_quoted_as_str_address_quotes_them(name: str) -> None:
    """distrib quotes an ASCII display name itself (an `Address` costs 40 µs to make)."""
    from email.headerregistry import Address

    from distrib.render.mime import _phrase_words

    if not _needs_encoding(name) and len(name) <= 150:
        expected = str(Address(display_name=name, addr_spec="x@x.invalid")).rsplit(" <", 1)[0]
        assert " ".join(_phrase_words(name)) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ('"zoe belanger"@exemple.ca', '"zoe belanger"@exemple.ca'),
        ("zoé@exemple.ca", "zoé@exemple.ca"),
    ],
)
def test_unusual_addresses_are_taken_like_the_standard_library(address: str, expected: str) -> None:
    assert mailbox("Zoé", address) == Mailbox("Zoé", expected)


@pytest.mark.parametrize("address", ["zoe@", "zo e@exemple.ca", "zoé b@exemple.ca", "a@b@", "@x"])
def test_unreadable_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValueError):
        mailbox("", address)


def test_a_message_id_make_message_id_never_gives_is_left_to_the_standard_library() -> None:
    headers = HeaderValues(
        sender=Mailbox("A", "a@b.example"),
        recipient=Mailbox("", "c@d.example"),
        subject="s",
        date="Thu, 04 Nov 2027 09:00:00 -0500",
        message_id="<é(x)@d.example>",
        content_language="fr-CA",
        list_unsubscribe="<mailto:a@b.example>",
    )
    assert not MessageWriter.covers(headers)
    with pytest.raises(ValueError, match="not a plain Message-ID"):
        MessageWriter().write(headers, "t", "h")


# -- control characters (CVE-2024-6923) ---------------------------------------------------------

BAD = ["\r", "\n", "\r\n", "\x00", "\u2028", "\u2029", "\x85", "\t", "\x7f", "\x1b", "\x0b", "\x0c"]
FIELDS = [
    "sender.name",
    "sender.address",
    "recipient.name",
    "recipient.address",
    "reply_to.name",
    "reply_to.address",
    "subject",
    "date",
    "message_id",
    "content_language",
    "list_unsubscribe",
    "list_id",
]


def _with_bad(field: str, bad: str) -> HeaderValues:
    values: dict[str, Any] = {
        "sender": Mailbox("Service de presse", "presse@agapc.example"),
        "recipient": Mailbox("Zoé", "zoe@exemple.ca"),
        "reply_to": Mailbox("", "relations@agapc.example"),
        "subject": "Communiqué",
        "date": "Thu, 04 Nov 2027 09:00:00 -0500",
        "message_id": "<distrib.1.2@agapc.example>",
        "content_language": "fr-CA",
        "list_unsubscribe": "<mailto:d@agapc.example>",
        "list_id": "AGAPC <c.agapc.example>",
    }
    injected = f"{bad}Bcc: victim@example.org" if bad else ""
    key, _, part = field.partition(".")
    if part == "name":
        values[key] = values[key]._replace(display_name=values[key].display_name + injected)
    elif part == "address":
        values[key] = values[key]._replace(addr_spec=values[key].addr_spec + injected)
    else:
        values[key] = values[key] + injected
    return HeaderValues(**values)


@pytest.mark.parametrize("bad", BAD, ids=[f"U+{ord(c[0]):04X}" for c in BAD])
@pytest.mark.parametrize("field", FIELDS)
def test_fast_writer_refuses_control_characters_in_every_header(field: str, bad: str) -> None:
    headers = _with_bad(field, bad)
    with pytest.raises(HeaderValueError):
        MessageWriter().write(headers, "texte", "<p>texte</p>")


def test_a_cached_header_value_is_checked_too() -> None:
    """From, Reply-To, List-Id and Subject are folded once and cached: each new value is
    checked before its line is made, whatever was cached before."""
    writer = MessageWriter()
    writer.write(_with_bad("subject", ""), "t", "h")
    for field in ("subject", "sender.name", "reply_to.name", "list_id"):
        with pytest.raises(HeaderValueError):
            writer.write(_with_bad(field, "\r\n"), "t", "h")


def test_caches_start_again_past_their_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import distrib.render.fastmime

    monkeypatch.setattr(distrib.render.fastmime, "_CACHE_BYTES", 300)
    writer = MessageWriter()
    headers = _with_bad("subject", "")
    for index in range(30):
        text = f"Bonjour {index},\n" + "Une ligne du communiqué assez longue é.\n" * (index % 5)
        pieces = ["<p>Bonjour ", f"Zoé {index}", ",</p>\n" + "<p>é</p>\n" * index]
        html = Body("".join(pieces), "".join(pieces).encode(), pieces)
        compare(headers, text, html.text, [], full=False)
        fast = writer.write(headers, text, html)
        assert canonical(fast) == canonical(build_message(headers, text, html.text))
        assert writer._held <= 300 or len(writer._lines) + len(writer._pieces) <= 1


# "inline;" is four characters shorter than "attachment;": the same edges, four characters on.
@pytest.mark.parametrize("filename", [*EDGE_NAMES, *("0000" + name for name in EDGE_NAMES)])
def test_image_names_at_the_line_length_fold_as_the_standard_library_does(filename: str) -> None:
    data = b"GIF89a" + bytes(10)
    digest = hashlib.sha256(data).hexdigest()
    image = InlineImage(
        filename, Path("/r/x"), filename, "image/gif", data, digest, content_id(digest, "a.ca")
    )
    assert image_bytes(image) == image_part(image).as_bytes()
