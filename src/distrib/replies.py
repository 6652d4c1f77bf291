"""Replies to a release: who answered which message, a person or an automatic reply.

A reply is matched to the message it answers by its ``In-Reply-To``, then its ``References``
(the most recent first), against the Message-IDs of the delivery log; failing that, by its
``From`` address: the latest message sent to that address (of the release asked for, if one
was).  Automatic replies are recognised as `distrib.inbox` does (RFC 3834 ``Auto-Submitted``
other than ``no``, ``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply``, read
receipts; an out-of-office subject in French or English only as a guess, said so in the
reason) and recorded as such.  Bounces and unsubscribe requests are not replies: they are
left for `distrib bounces` and `distrib unsubscribe`.

Everything in a reply is untrusted: only its header is parsed (at most `MAX_HEADER` bytes; a
longer header is listed, not read), every text kept is cleaned of control characters and
capped (`distrib.inbox.clean`), and nothing from it ever reaches a header distrib writes.

A reply is recorded once: the log keys it by its Message-ID (or a hash of its bytes), and on
IMAP the replies recorded get the ``$DistribProcessed`` keyword, so the next run does not read
them again.  A message that matches nothing is listed and left unflagged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.contacts.normalize import suppression_key
from distrib.deliverylog.records import NewReply
from distrib.inbox import (
    classify,
    header_text,
    message_date,
    msg_ids,
    notice_id,
    open_mailbox,
    sender_address,
)

if TYPE_CHECKING:
    from collections.abc import Collection

    from distrib.deliverylog import DeliveryLog
    from distrib.deliverylog.records import MessageRef
    from distrib.mailbox import InboxMessage
    from distrib.relay.imap import ImapSettings

__all__ = ["MAX_HEADER", "RecordedReply", "ReplyOutcome", "match_replies", "read_replies"]

#: The largest header read, in bytes: a reply's header is a few kilobytes.
MAX_HEADER = 256 * 1024
#: How much of a subject, a From address and a reason is kept.
_SUBJECT, _ADDRESS = 300, 320


@dataclass(frozen=True, slots=True)
class RecordedReply:
    """One reply matched to a message of the log (``new``: recorded now, not earlier)."""

    source: str
    sender: str
    subject: str
    automatic: bool
    reason: str
    message: int
    run_id: int
    campaign: str
    address: str
    matched_by: str
    new: bool


@dataclass
class ReplyOutcome:
    """What `distrib replies` did with every message of the mailbox."""

    read: int = 0
    recorded: list[RecordedReply] = field(default_factory=list)
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (source, why), left
    bounces: list[tuple[str, str]] = field(default_factory=list)  # for `distrib bounces`
    unsubscribes: list[tuple[str, str]] = field(default_factory=list)  # `distrib unsubscribe`
    flagged: int = 0  # IMAP: messages marked as recorded

    def count(self, *, automatic: bool) -> int:
        """How many replies (automatic or from people) were recorded now."""
        return sum(1 for r in self.recorded if r.new and r.automatic == automatic)


@dataclass(frozen=True, slots=True)
class _Reply:
    source: str
    notice: str
    sender: str
    subject: str
    automatic: bool
    reason: str
    ids: tuple[str, ...]  # In-Reply-To, then References from the most recent
    in_reply_to: frozenset[str]
    message: Message


def _header(item: InboxMessage) -> Message | None:
    """The message's header, parsed leniently; None when it is longer than `MAX_HEADER`."""
    data = item.data
    ends = (data.find(b"\r\n\r\n", 0, MAX_HEADER), data.find(b"\n\n", 0, MAX_HEADER))
    found = [i for i in ends if i >= 0]
    if not found and len(data) > MAX_HEADER:
        return None
    end = min(found) if found else len(data)
    return BytesHeaderParser(policy=compat32).parsebytes(data[: end + 2])


def _understand(item: InboxMessage, outcome: ReplyOutcome) -> _Reply | None:
    message = _header(item)
    if message is None:
        outcome.unmatched.append((item.source, f"header longer than {MAX_HEADER} bytes"))
        return None
    sorted_as = classify(message)
    subject = header_text(message, "Subject")[:_SUBJECT]
    if sorted_as.kind == "bounce":
        outcome.bounces.append((item.source, sorted_as.reason))
        return None
    if sorted_as.kind == "unsubscribe":
        outcome.unsubscribes.append((item.source, subject))
        return None
    automatic = sorted_as.kind == "auto-reply"
    reason = sorted_as.reason if automatic else ""
    if automatic and reason.startswith("subject "):
        reason += " (a guess from the subject: no automatic-reply header)"
    replying = msg_ids(str(message.get("In-Reply-To", "")))
    references = list(reversed(msg_ids(str(message.get("References", "")))))
    ids = tuple(dict.fromkeys(replying + references))
    return _Reply(
        source=item.source,
        notice=notice_id(message, item.data),
        sender=sender_address(message)[:_ADDRESS],
        subject=subject,
        automatic=automatic,
        reason=reason,
        ids=ids,
        in_reply_to=frozenset(replying),
        message=message,
    )


class _Index:
    """The log's sent messages by Message-ID and by suppression key (of one release or all)."""

    def __init__(self, log: DeliveryLog, campaigns: dict[int, str], release: str | None) -> None:
        self.by_id: dict[str, MessageRef] = {}
        self.by_key: dict[str, list[MessageRef]] = defaultdict(list)
        for row in log.bounce_candidates():  # sent, unknown, bounced, failed, data
            if release is not None and campaigns.get(row.run_id) != release:
                continue
            if row.message_id:
                self.by_id[row.message_id] = row
            if row.status != "failed":
                self.by_key[suppression_key(row.address)].append(row)

    def match(self, reply: _Reply) -> tuple[MessageRef, str] | None:
        for candidate in reply.ids:
            found = self.by_id.get(candidate)
            if found is not None:
                how = "in-reply-to" if candidate in reply.in_reply_to else "references"
                return found, how
        if reply.sender:
            sent = self.by_key.get(suppression_key(reply.sender))
            if sent:
                return sent[-1], "from"
        return None


def match_replies(
    log: DeliveryLog,
    items: Collection[InboxMessage],
    *,
    release: str | None = None,
    dry_run: bool = False,
) -> ReplyOutcome:
    """Sort ``items``, match every reply to a message of the log and record it (in one
    transaction; nothing in a dry run)."""
    outcome = ReplyOutcome(read=len(items))
    campaigns = {run.id: run.campaign for run in log.runs()}
    index = _Index(log, campaigns, release)
    matched: list[tuple[_Reply, MessageRef, str]] = []
    for item in items:
        reply = _understand(item, outcome)
        if reply is None:
            continue
        found = index.match(reply)
        if found is None:
            where = f" of {release}" if release is not None else ""
            who = f"from {reply.sender}" if reply.sender else "from no address"
            outcome.unmatched.append(
                (item.source, f"{who}, subject {reply.subject!r}: answers no message{where}")
            )
            continue
        matched.append((reply, *found))
    records = [
        NewReply(
            message=row.id, notice=reply.notice, sender=reply.sender, subject=reply.subject,
            kind="auto-reply" if reply.automatic else "reply", reason=reply.reason,
            matched_by=how, source=reply.source, arrived_at=message_date(reply.message),
        )
        for reply, row, how in matched
    ]  # fmt: skip
    if dry_run:
        known = {r.notice for r in log.replies()}
        news = [r.notice not in known for r in records]
    else:
        news = log.record_replies(records)
    outcome.recorded = [
        RecordedReply(
            source=reply.source, sender=reply.sender, subject=reply.subject,
            automatic=reply.automatic, reason=reply.reason, message=row.id, run_id=row.run_id,
            campaign=campaigns.get(row.run_id, ""), address=row.address, matched_by=how, new=new,
        )
        for (reply, row, how), new in zip(matched, news, strict=True)
    ]  # fmt: skip
    return outcome


def read_replies(
    locations: Collection[str | Path],
    log: DeliveryLog,
    *,
    release: str | None = None,
    dry_run: bool = False,
    imap: ImapSettings | None = None,
) -> ReplyOutcome:
    """Read each mailbox (files or IMAP), record the replies, and on IMAP flag those recorded
    (not in a dry run); everything else stays as it was, to be listed again."""
    total = ReplyOutcome()
    for location in locations:
        with open_mailbox(location, imap=imap) as box:
            outcome = match_replies(log, list(box.messages()), release=release, dry_run=dry_run)
            if not dry_run:
                outcome.flagged = box.mark_processed({r.source for r in outcome.recorded})
        total.read += outcome.read
        total.recorded += outcome.recorded
        total.unmatched += outcome.unmatched
        total.bounces += outcome.bounces
        total.unsubscribes += outcome.unsubscribes
        total.flagged += outcome.flagged
    return total
