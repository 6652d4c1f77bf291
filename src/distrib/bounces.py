"""Bounces: read delivery-status notifications, match them to messages, record them in the log.

Parsing, in order of trust:

1. **RFC 3464** ``multipart/report; report-type=delivery-status`` (Postfix, Exim 4.9x, Exchange
   and Office 365, Gmail…): every per-recipient block gives ``Final-Recipient``, ``Action``,
   ``Status`` and ``Diagnostic-Code``; the returned message (``message/rfc822`` or
   ``text/rfc822-headers``) gives our Message-ID.  Read with the standard library.
2. **Non-standard** bounces (classic Exim text, old Exchange, qmail…): the failed addresses come
   from flufl.bounce's detectors (GNU Mailman's, maintained for 15 years of formats in the wild),
   and the SMTP reply and Message-ID from the text around them.

A failure is **hard** when it says the address itself is bad (``5.1.x`` but the sender ones,
``5.2.1`` disabled, ``5.4.4`` no route, or a "user unknown"-like reply): the address is then
suppressed.  Everything else that failed is **soft** (mailbox full, refused as spam, too big,
``4.x.x``…): not delivered this time, but the address may be fine.  When unsure: soft, because
suppressing a journalist by mistake loses them for good.  ``Action: delayed`` is a warning and
changes nothing but the record.

Matching: by the original's Message-ID (ours are unique per run and recipient), else by the
failed recipient (its latest message that was sent or is unknown).  A bounce that matches no
message changes nothing and is listed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import HeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flufl.bounce import all_failures

from distrib.contacts.normalize import suppression_key
from distrib.deliverylog import DeliveryLog
from distrib.deliverylog.records import HARD_BOUNCE, MessageRef, NewBounce, NewSuppression
from distrib.inbox import (
    InboxMessage,
    classify,
    clean,
    header_text,
    message_date,
    msg_ids,
    notice_id,
    open_mailbox,
)
from distrib.optout import pending_by_key

if TYPE_CHECKING:
    from distrib.relay.imap import ImapSettings

__all__ = [
    "Bounce",
    "BounceOutcome",
    "BouncedRecipient",
    "Recorded",
    "apply_bounces",
    "classify_failure",
    "parse_bounce",
    "process_mailbox",
]

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY = re.compile(r"\b([45]\d\d)[\s-]+(?:#?([45]\.\d{1,3}\.\d{1,3})\s+)?(.+)")
_HARD_WORDS = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|address)|mailbox not found"
    r"|mailbox unavailable|mailbox (is )?disabled|account (has been )?disabled"
    r"|does not exist|doesn't exist|do not exist|address not found|recipient not found"
    r"|invalid recipient|unknown recipient|not a valid mailbox|recipientnotfound|no mailbox here"
    r"|n'existe pas|utilisateur inconnu|destinataire inconnu|adresse introuvable|compte désactivé",
    re.I,
)
_SOFT_WORDS = re.compile(
    r"quota|mailbox (is )?full|mailbox full|over ?quota|insufficient (storage|system storage)"
    r"|boîte (aux lettres )?pleine|espace insuffisant|message too (big|large)|size limit",
    re.I,
)
_RETURNED = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/delivery-status"}
)
# Where a human-readable bounce starts quoting the returned message (Exim, qmail, others).
_COPY_MARKER = re.compile(
    r"^\W*(this is a copy of the message|the body of the message is|below this line is a copy"
    r"|original message follows|-+ ?original message)",
    re.I | re.M,
)
_DIAGNOSTIC_TYPE = re.compile(r"^\s*(smtp|x-[\w.-]+|x400)\s*;\s*", re.I)


@dataclass(frozen=True, slots=True)
class BouncedRecipient:
    """One recipient a notification reports on."""

    recipient: str
    action: str
    kind: str
    status: str | None = None
    diagnostic: str = ""
    original: str | None = None
    remote_mta: str | None = None


@dataclass(frozen=True, slots=True)
class Bounce:
    """One delivery-status notification, parsed."""

    source: str
    notice: str
    style: str
    recipients: tuple[BouncedRecipient, ...]
    original_ids: tuple[str, ...] = ()
    arrived_at: datetime | None = None


def classify_failure(action: str, status: str | None, text: str) -> str:
    """Return ``hard``, ``soft`` or ``delayed`` for one recipient of a notification."""
    if action.startswith("delayed"):
        return "delayed"
    if status is None:
        found = _STATUS.search(text)
        status = found.group(0) if found else None
    if (status is not None and status.startswith("4")) or _SOFT_WORDS.search(text):
        return "soft"
    if status is not None:
        _, subject, detail = status.split(".")
        # 5.1.7 and 5.1.8 are about *our* sender address, not the recipient's.
        if (subject == "1" and detail not in ("7", "8")) or (subject, detail) in (
            ("2", "1"),
            ("4", "4"),
        ):
            return "hard"
    return "hard" if _HARD_WORDS.search(text) else "soft"


# -- parsing ---------------------------------------------------------------------------------


def parse_bounce(item: InboxMessage, message: Message | None = None) -> Bounce | None:
    """Parse a message already sorted as a bounce; None when it names no recipient at all."""
    message = message if message is not None else item.parse()
    arrived = message_date(message)
    recipients, reporter_arrival = _dsn_recipients(message)
    style = "RFC 3464"
    if not recipients:
        recipients = _heuristic_recipients(message)
        style = "non-standard"
    if not recipients:
        return None
    return Bounce(
        source=item.source,
        notice=notice_id(message, item.data),
        style=style,
        recipients=tuple(recipients),
        original_ids=tuple(_original_ids(message)),
        arrived_at=arrived or reporter_arrival,
    )


def _field(block: Message, name: str) -> str:
    value = block.get(name)
    return clean(str(value)) if value is not None else ""


def _typed_address(value: str) -> str:
    """``rfc822; <a@b>`` -> ``a@b``."""
    _, _, address = value.rpartition(";")
    return address.strip().strip("<>").strip()


def _dsn_recipients(message: Message) -> tuple[list[BouncedRecipient], datetime | None]:
    recipients: list[BouncedRecipient] = []
    arrival = None
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list) or not blocks:
            continue
        headers = [b for b in blocks if isinstance(b, Message)]
        if not headers:
            continue
        arrival = arrival or _date(_field(headers[0], "Arrival-Date"))
        for block in headers[1:] if len(headers) > 1 else headers:
            recipient = _recipient_block(block)
            if recipient is not None:
                recipients.append(recipient)
    return recipients, arrival


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def _recipient_block(block: Message) -> BouncedRecipient | None:
    final = _typed_address(_field(block, "Final-Recipient"))
    original = _typed_address(_field(block, "Original-Recipient")) or None
    action = _field(block, "Action").lower()
    if not (final or original) or not action.startswith(("failed", "delayed", "error")):
        return None  # "delivered", "relayed", "expanded": not a bounce
    action = "delayed" if action.startswith("delayed") else "failed"
    diagnostic = _DIAGNOSTIC_TYPE.sub("", _field(block, "Diagnostic-Code"))
    status_match = _STATUS.search(_field(block, "Status"))
    status = status_match.group(0) if status_match else None
    return BouncedRecipient(
        recipient=final or original or "",
        original=original,
        action=action,
        status=status,
        diagnostic=clean(diagnostic),
        kind=classify_failure(action, status, diagnostic),
        remote_mta=_typed_address(_field(block, "Remote-MTA")) or None,
    )


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _text_parts(message: Message) -> Iterator[str]:
    """Every text/plain part, returned messages included (where our Message-ID may be)."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            yield _decoded(part)


def _human_text(message: Message) -> str:
    """The bounce's own explanation: its text parts, without the returned message."""
    parts: list[str] = []

    def visit(part: Message) -> None:
        kind = part.get_content_type()
        if kind in _RETURNED:
            return
        if part.is_multipart():
            for sub in part.get_payload():
                if isinstance(sub, Message):
                    visit(sub)
        elif kind == "text/plain":
            parts.append(_decoded(part))

    visit(message)
    text = "\n".join(parts)
    marker = _COPY_MARKER.search(text)
    return text[: marker.start()] if marker else text


def _heuristic_recipients(message: Message) -> list[BouncedRecipient]:
    temporary, permanent = all_failures(message)
    found: dict[str, str] = {}
    for raw in permanent:
        found[raw.decode("ascii", "replace")] = "failed"
    for raw in temporary:
        found.setdefault(raw.decode("ascii", "replace"), "delayed")
    text = _human_text(message)
    recipients = []
    for address, action in sorted(found.items()):
        status, diagnostic = _diagnostic_near(text, address)
        recipients.append(
            BouncedRecipient(
                recipient=address,
                action=action,
                status=status,
                diagnostic=diagnostic,
                kind=classify_failure(action, status, diagnostic or text[:2000]),
            )
        )
    return recipients


def _diagnostic_near(text: str, address: str) -> tuple[str | None, str]:
    """Find what a human-readable bounce says about ``address``: (status, reply or reason)."""
    lines = [line.strip() for line in text.splitlines()]
    wanted = address.casefold()
    for start in (i for i, line in enumerate(lines) if wanted in line.casefold()):
        window = [line for line in lines[start : start + 6] if line]
        status = next((m.group(0) for line in window if (m := _STATUS.search(line))), None)
        reply = next((m for line in window if (m := _REPLY.search(line))), None)
        if reply is not None:
            return status, clean(reply.group(0))
        reason = [line for line in window[1:] if wanted not in line.casefold()]
        if reason or status:
            return status, clean(" ".join(reason[:2]))
    for line in lines:
        reply = _REPLY.search(line)
        if reply is not None:
            status_match = _STATUS.search(line)
            return (status_match.group(0) if status_match else None), clean(reply.group(0))
    return None, ""


def _original_ids(message: Message) -> list[str]:
    """Candidate Message-IDs of the message that bounced, best first."""
    ids: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                ids += msg_ids(str(payload[0].get("Message-ID", "")))
        elif kind in ("text/rfc822-headers", "message/rfc822-headers"):
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            ids += msg_ids(str(HeaderParser().parsestr(text).get("Message-ID", "")))
    for name in ("In-Reply-To", "References", "X-Original-Message-ID"):
        ids += msg_ids(str(message.get(name, "")))
    for text in _text_parts(message):
        ids += re.findall(r"(?im)^\s*Message-ID:\s*(<[^<>\s@]+@[^<>\s]+>)", text)
    own = msg_ids(str(message.get("Message-ID", "")))
    return list(dict.fromkeys(i for i in ids if i not in own))


# -- matching and recording ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """One bounced recipient matched to a message of the log."""

    bounce: Bounce
    recipient: BouncedRecipient
    message: int
    run: int
    address: str
    matched_by: str
    new: bool
    suppressed: bool = False


@dataclass
class BounceOutcome:
    """What `distrib bounces` did with every message of the mailbox (nothing left unaccounted)."""

    read: int = 0
    recorded: list[Recorded] = field(default_factory=list)
    unmatched: list[tuple[Bounce, BouncedRecipient]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    auto_replies: list[tuple[str, str]] = field(default_factory=list)
    unsubscribes: list[tuple[str, str]] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    flagged: int = 0  # IMAP: messages marked as recorded, so the next run skips them

    def count(self, kind: str) -> int:
        """How many recipients of ``kind`` (hard, soft, delayed) were newly recorded."""
        return sum(1 for r in self.recorded if r.recipient.kind == kind and r.new)


class _Index:
    """The log's messages by Message-ID and by suppression key, loaded once."""

    def __init__(self, log: DeliveryLog) -> None:
        self.by_id: dict[str, MessageRef] = {}
        self.by_key: dict[str, list[MessageRef]] = defaultdict(list)
        for row in log.bounce_candidates():
            if row.message_id:
                self.by_id[row.message_id] = row
            self.by_key[suppression_key(row.address)].append(row)

    def match(self, bounce: Bounce, recipient: BouncedRecipient) -> tuple[MessageRef, str] | None:
        """Return the message ``recipient`` of ``bounce`` is about, and how it was found."""
        for candidate in bounce.original_ids:
            found = self.by_id.get(candidate)
            if found is not None:
                return found, "message-id"
        for address in (recipient.original, recipient.recipient):
            if not address:
                continue
            sent = [
                m for m in self.by_key.get(suppression_key(address), ()) if m.status != "failed"
            ]
            if sent:
                return sent[-1], "recipient"
        return None


def apply_bounces(
    log: DeliveryLog, bounces: Iterable[Bounce], *, dry_run: bool = False
) -> tuple[list[Recorded], list[tuple[Bounce, BouncedRecipient]]]:
    """Match each bounced recipient to a message and record it; suppress hard bounces.

    Everything is written in one transaction: a mailbox of thousands of bounces costs one sync
    to disk, not two per bounce, and an interrupted read leaves nothing half done.
    """
    index = _Index(log)
    pending = pending_by_key(log)
    matched: list[tuple[Bounce, BouncedRecipient, MessageRef, str]] = []
    unmatched: list[tuple[Bounce, BouncedRecipient]] = []
    for bounce in bounces:
        for recipient in bounce.recipients:
            found = index.match(bounce, recipient)
            if found is None:
                unmatched.append((bounce, recipient))
            else:
                matched.append((bounce, recipient, *found))
    items = [
        (_new_bounce(bounce, recipient, row, how), _suppression(bounce, recipient, row, pending))
        for bounce, recipient, row, how in matched
    ]
    news = _dry_run(log, [b for b, _ in items]) if dry_run else log.record_bounces(items)
    recorded = [
        Recorded(bounce, recipient, row.id, row.run_id, row.address, how, new,
                 suppressed=new and recipient.kind == "hard")
        for (bounce, recipient, row, how), new in zip(matched, news, strict=True)
    ]  # fmt: skip
    return recorded, unmatched


def _new_bounce(
    bounce: Bounce, recipient: BouncedRecipient, row: MessageRef, how: str
) -> NewBounce:
    return NewBounce(
        message=row.id, notice=bounce.notice, recipient=recipient.recipient,
        kind=recipient.kind, action=recipient.action, matched_by=how, source=bounce.source,
        status=recipient.status, diagnostic=recipient.diagnostic or None,
        remote_mta=recipient.remote_mta, arrived_at=bounce.arrived_at,
    )  # fmt: skip


def _suppression(
    bounce: Bounce,
    recipient: BouncedRecipient,
    row: MessageRef,
    pending: dict[str, list[int]],
) -> NewSuppression | None:
    if recipient.kind != "hard":
        return None
    key = suppression_key(row.address)
    status = f" {recipient.status}" if recipient.status else ""
    return NewSuppression(
        row.address, key, HARD_BOUNCE, f"bounce{status} from {bounce.source}",
        bounce.arrived_at, row.id, recipient.diagnostic or None, tuple(pending.get(key, ())),
    )  # fmt: skip


def _dry_run(log: DeliveryLog, bounces: Sequence[NewBounce]) -> list[bool]:
    """Which bounces would be new, without writing anything."""
    seen = log.bounce_notices()
    news = []
    for b in bounces:
        news.append((b.notice, b.recipient) not in seen)
        seen.add((b.notice, b.recipient))
    return news


def process_mailbox(
    path: str | Path,
    log: DeliveryLog,
    *,
    dry_run: bool = False,
    imap: ImapSettings | None = None,
) -> BounceOutcome:
    """Read a mailbox, record every bounce in the log, and account for every other message.

    On IMAP, the bounces matched to a message of the log are then flagged as recorded (not in
    a dry run); everything else stays as it was, to be listed again.
    """
    outcome = BounceOutcome()
    bounces: list[Bounce] = []
    with open_mailbox(path, imap=imap) as box:
        for item in box.messages():
            outcome.read += 1
            message = item.parse()
            sorted_as = classify(message)
            subject = header_text(message, "Subject")
            if sorted_as.kind == "bounce":
                parsed = parse_bounce(item, message)
                if parsed is None:
                    outcome.unreadable.append((item.source, sorted_as.reason))
                else:
                    bounces.append(parsed)
            elif sorted_as.kind == "auto-reply":
                outcome.auto_replies.append((item.source, sorted_as.reason))
            elif sorted_as.kind == "unsubscribe":
                outcome.unsubscribes.append((item.source, subject))
            else:
                outcome.other.append((item.source, subject))
        outcome.recorded, outcome.unmatched = apply_bounces(log, bounces, dry_run=dry_run)
        if not dry_run:
            outcome.flagged = box.mark_processed({r.bounce.source for r in outcome.recorded})
    return outcome
