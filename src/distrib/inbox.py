"""Read what came back to the sender's mailbox, and sort it: bounces, auto-replies, opt-outs, other.

A mailbox is a Maildir folder (``cur``/``new``/``tmp``), an mbox file, a single message file
(``.eml``) or a folder of message files, which are only read, never changed; or a folder on an
IMAP server (``imaps://user@host/INBOX``, see `distrib.relay.imap`), where the messages a
command recorded get a keyword so that the next run skips them.  Everything in it is
untrusted: messages are parsed with the standard library's lenient ``compat32`` policy (the
strict one raises on malformed headers, which bounces are full of) and every text taken from
them is cleaned of control characters and capped before it goes anywhere.

Sorting follows RFC 3464 for delivery-status reports and RFC 3834 for automatic replies, then
falls back on the senders and subjects that common servers and mail clients use, in French and
English.  An automatic reply is recognised before an unsubscribe request, so "Réponse automatique :
unsubscribe" is not taken for an opt-out.
"""

from __future__ import annotations

import email
import hashlib
import mailbox
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from distrib.errors import MailboxError
from distrib.mailbox import InboxMessage, Mailbox

if TYPE_CHECKING:
    from distrib.relay.imap import ImapSettings

__all__ = [
    "Classified",
    "InboxMessage",
    "Kind",
    "Mailbox",
    "MailboxError",
    "classify",
    "clean",
    "header_text",
    "message_date",
    "msg_ids",
    "notice_id",
    "open_mailbox",
    "read_mailbox",
    "sender_address",
    "unsubscribe_token",
]

Kind = Literal["bounce", "auto-reply", "unsubscribe", "other"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_MSG_ID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")


@dataclass(frozen=True, slots=True)
class Classified:
    """What a message is, and the evidence (shown to the officer)."""

    kind: Kind
    reason: str


class _Files:
    """Files and folders: read as they are, never changed (nothing to mark)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def messages(self) -> Iterator[InboxMessage]:
        return _read_files(self.path)

    def mark_processed(self, sources: Iterable[str]) -> int:
        return 0


@contextmanager
def open_mailbox(location: str | Path, *, imap: ImapSettings | None = None) -> Iterator[Mailbox]:
    """Open a mailbox: an ``imap://``/``imaps://`` address, or a Maildir, mbox or message file.

    An IMAP error is a `MailboxError` too (`distrib.relay.errors.ImapError` is both).
    """
    from distrib.relay.imap import is_imap_url

    if not is_imap_url(location):
        yield _Files(Path(location))
        return
    from distrib.relay.imap import ImapMailbox

    with ImapMailbox(str(location), imap) as box:
        yield box


def read_mailbox(path: str | Path, *, imap: ImapSettings | None = None) -> Iterator[InboxMessage]:
    """Yield every message of a Maildir, an mbox file, a message file or a folder of them, or
    the unrecorded messages of an IMAP folder."""
    with open_mailbox(path, imap=imap) as box:
        yield from box.messages()


def _read_files(path: Path) -> Iterator[InboxMessage]:
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new")):
            yield from _maildir(path)
        else:
            yield from _folder(path)
        return
    if not path.is_file():
        raise MailboxError(f"{path}: no such Maildir, mbox or message file")
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError as exc:
        raise MailboxError(f"{path}: cannot read: {exc.strerror}") from None
    if first.startswith(b"From "):
        yield from _mbox(path)
    else:
        yield InboxMessage(str(path), _read(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise MailboxError(f"{path}: cannot read: {exc.strerror}") from None


def _maildir(path: Path) -> Iterator[InboxMessage]:
    box = mailbox.Maildir(path, factory=None, create=False)
    try:
        # Maildir names start with the delivery time: sorted keys read oldest first, so a hard
        # bounce that follows a delay warning for the same message is the last word.
        for key in sorted(box.keys()):
            yield InboxMessage(f"{path}:{key}", box.get_bytes(key))
    except OSError as exc:
        raise MailboxError(f"{path}: cannot read: {exc.strerror}") from None


def _folder(path: Path) -> Iterator[InboxMessage]:
    files = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".eml", ".msg")
    )
    if not files:
        raise MailboxError(f"{path}: not a Maildir (no cur/ and new/) and holds no .eml files")
    for file in files:
        yield InboxMessage(str(file), _read(file))


def _mbox(path: Path) -> Iterator[InboxMessage]:
    box = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            yield InboxMessage(f"{path}#{number}", box.get_bytes(key))
    except OSError as exc:
        raise MailboxError(f"{path}: cannot read: {exc.strerror}") from None
    finally:
        box.close()


def clean(text: str | None, limit: int = 500) -> str:
    """Return untrusted text on one line, without control characters, at most ``limit`` long."""
    if not text:
        return ""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def header_text(message: Message, name: str) -> str:
    """Return a header decoded (RFC 2047) and cleaned; "" when absent or undecodable."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        return clean(str(make_header(decode_header(str(value)))))
    except (UnicodeError, LookupError, ValueError, email.errors.HeaderParseError):
        return clean(str(value))


def sender_address(message: Message) -> str:
    """Return the bare address of the From header ("" if there is none)."""
    pairs = getaddresses([str(v) for v in message.get_all("From", [])])
    for _, address in pairs:
        if "@" in address:
            return clean(address, 320)
    return ""


def message_date(message: Message) -> datetime | None:
    """Return the Date header as an aware datetime, or None when missing or malformed."""
    value = message.get("Date")
    if value is None:
        return None
    try:
        moment = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def msg_ids(text: str | None) -> list[str]:
    """Return every ``<id@host>`` in a Message-ID, In-Reply-To or References value."""
    return _MSG_ID.findall(text or "")


def notice_id(message: Message, data: bytes) -> str:
    """Identify a received message: its Message-ID, else a hash of its bytes."""
    ids = msg_ids(str(message.get("Message-ID", "")))
    return ids[0] if ids else "sha256:" + hashlib.sha256(data).hexdigest()


# -- sorting ---------------------------------------------------------------------------------

_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|maildaemon|mdaemon)@", re.I)
_FAILURE_SUBJECTS = re.compile(
    r"undeliver|undelivered|returned mail|delivery (status notification|failure|has failed)"
    r"|mail delivery (failed|failure|system)|failure notice|delivery notification"
    r"|non remis|non distribuable|échec de (la )?(remise|livraison)|remise impossible"
    r"|message non délivré|notification d'état de (la )?remise",
    re.I,
)
_REPLY_PREFIX = r"^\s*(?:(?:re|tr|fw|fwd|aw|réf)\s*:\s*)*"
_AUTO_SUBJECTS = re.compile(
    _REPLY_PREFIX
    + r"(?:automatic reply|auto[- ]?reply|auto[- ]?response|autoresponse|out of (?:the )?office"
    r"|away from (?:the |my )?office|on vacation|on leave|on holiday|vacation reply"
    r"|réponse automatique|réponse auto|absence du bureau|absente? du bureau|absente?\b"
    r"|message d'absence|avis d'absence|en congé|en vacances|hors du bureau|hors bureau)",
    re.I,
)
_UNSUBSCRIBE = re.compile(
    _REPLY_PREFIX + r"(?:unsubscribe|unsub|désabonnement|désabonner|se désabonner|désinscription"
    r"|désinscrire|me désinscrire|me désabonner)"
    r"(?:[\s:_-]+(?P<token>[0-9a-f]{12,64}))?\s*[.!]?\s*$",
    re.I,
)


def unsubscribe_token(subject: str) -> tuple[bool, str | None]:
    """Tell whether ``subject`` asks to unsubscribe, and the opaque token it carries, if any."""
    match = _UNSUBSCRIBE.match(subject)
    if match is None:
        return False, None
    token = match.group("token")
    return True, token.lower() if token else None


def _report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    return str(message.get_param("report-type", "", header="content-type")).lower()


def _is_bounce(message: Message) -> str | None:
    report_type = _report_type(message)
    if report_type == "delivery-status":
        return "RFC 3464 delivery-status report"
    if message.get("X-Failed-Recipients") is not None:
        return "X-Failed-Recipients header (Exim)"
    sender = sender_address(message)
    subject = header_text(message, "Subject")
    from_daemon = (
        bool(_DAEMONS.match(sender)) or "mail delivery" in header_text(message, "From").lower()
    )
    if from_daemon and _FAILURE_SUBJECTS.search(subject):
        return f"from {sender or 'a mail server'}, subject {subject!r}"
    null_sender = str(message.get("Return-Path", "")).strip() == "<>"
    if null_sender and _FAILURE_SUBJECTS.search(subject):
        return f"null sender, subject {subject!r}"
    return None


def _is_auto_reply(message: Message) -> str | None:
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {clean(auto, 40)}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if message.get(name) is not None:
            return f"{name} header"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        return f"Precedence: {precedence}"
    if _report_type(message) == "disposition-notification":
        return "read receipt (RFC 8098)"
    subject = header_text(message, "Subject")
    if _AUTO_SUBJECTS.match(subject):
        return f"subject {subject!r}"
    return None


def classify(message: Message) -> Classified:
    """Sort one message: a bounce, an automatic reply, an unsubscribe request, or other mail."""
    reason = _is_bounce(message)
    if reason is not None:
        return Classified("bounce", reason)
    reason = _is_auto_reply(message)
    if reason is not None:
        return Classified("auto-reply", reason)
    subject = header_text(message, "Subject")
    wanted, token = unsubscribe_token(subject)
    if wanted:
        return Classified(
            "unsubscribe", f"subject {subject!r}" + (" with a token" if token else "")
        )
    return Classified("other", f"subject {subject!r}" if subject else "no subject")
