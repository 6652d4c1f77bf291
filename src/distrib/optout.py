"""Opt-outs: people who asked never to get another release, kept in the delivery log's list.

Two ways in:

* ``distrib unsubscribe ADDRESS…``: the officer types them (from a phone call, a reply…).
* ``distrib unsubscribe --mailbox PATH``: read the mailbox that receives List-Unsubscribe mail
  (a Maildir, mbox or message files, or an ``imaps://`` folder).
  distrib's header is ``mailto:ADDRESS?subject=unsubscribe``, so a request is a message whose
  subject is "unsubscribe" (or "désabonnement", "désinscription"…).  It is matched by its From
  address and, when present, by an opaque token: the recipient part of one of our Message-IDs
  written after the word ("unsubscribe 5e7a9c1e3a5c7e9a1c3e5a7c"), or the Message-ID the request
  replies to (In-Reply-To, References).  Both the sender and the recipient the token names are
  suppressed: someone writing from a personal address to stop mail to their newsroom address
  gets both.

An entry keeps the date it was asked for (the request's Date header) and the date it was
recorded.  Messages to that person still waiting in any run are marked ``suppressed`` at once,
and `pipeline.make_plan` never plans a message to a listed address again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING

from distrib.contacts.normalize import AddressError, normalize_address, suppression_key
from distrib.deliverylog import DeliveryLog
from distrib.deliverylog.records import UNSUBSCRIBED, MessageRef, NewSuppression
from distrib.errors import Location, Problem
from distrib.inbox import (
    classify,
    header_text,
    message_date,
    msg_ids,
    open_mailbox,
    sender_address,
    unsubscribe_token,
)

if TYPE_CHECKING:
    from distrib.relay.imap import ImapSettings

__all__ = [
    "OptOut",
    "OptOutOutcome",
    "pending_by_key",
    "record_optouts",
    "requests_from_mailbox",
    "unsubscribe_addresses",
]


@dataclass(frozen=True, slots=True)
class OptOut:
    """One address to suppress, and where the request came from."""

    address: str
    key: str
    source: str
    how: str
    requested_at: datetime | None = None
    message: int | None = None


@dataclass
class OptOutOutcome:
    """What `distrib unsubscribe` did, with every message of a mailbox accounted for."""

    added: list[OptOut] = field(default_factory=list)
    already: list[OptOut] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    stopped: int = 0
    read: int = 0
    requests: int = 0
    bounces: list[tuple[str, str]] = field(default_factory=list)
    auto_replies: list[tuple[str, str]] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    flagged: int = 0  # IMAP: requests marked as recorded, so the next run skips them


def pending_by_key(log: DeliveryLog) -> dict[str, list[int]]:
    """Messages still waiting in some run (ready or deferred), by the person's suppression key."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for row in log.pending_refs():
        grouped[suppression_key(row.address)].append(row.id)
    return grouped


def record_optouts(
    log: DeliveryLog,
    optouts: Iterable[OptOut],
    *,
    note: str | None = None,
    dry_run: bool = False,
    outcome: OptOutOutcome | None = None,
) -> OptOutOutcome:
    """Put each address on the log's suppression list (once), stopping its waiting messages."""
    outcome = outcome or OptOutOutcome()
    pending = pending_by_key(log)
    listed = {s.key for s in log.suppressions() if s.reason == UNSUBSCRIBED}
    entries = []
    for optout in optouts:
        if optout.key in listed:
            outcome.already.append(optout)
            continue
        listed.add(optout.key)
        waiting = tuple(pending.get(optout.key, ()))
        entries.append(
            NewSuppression(optout.address, optout.key, UNSUBSCRIBED, optout.source,
                           optout.requested_at, optout.message, note, waiting)
        )  # fmt: skip
        outcome.added.append(optout)
        outcome.stopped += len(waiting)
    if entries and not dry_run:
        log.add_suppressions(entries)  # one transaction for the whole list
    return outcome


def unsubscribe_addresses(
    log: DeliveryLog, values: Sequence[str], *, note: str | None = None, dry_run: bool = False
) -> OptOutOutcome:
    """Suppress addresses typed by the officer; nothing is recorded if any is invalid."""
    optouts: list[OptOut] = []
    problems: list[Problem] = []
    for number, value in enumerate(values, start=1):
        try:
            checked = normalize_address(value)
        except AddressError as exc:
            where = Location("command line", column=f"address {number}")
            problems.append(Problem(f"{value!r}: {exc.reason}", where, "address"))
            continue
        optouts.append(OptOut(checked.address, checked.suppression_key, "command line", "typed"))
    if problems:
        return OptOutOutcome(problems=problems)
    return record_optouts(log, optouts, note=note, dry_run=dry_run)


def requests_from_mailbox(
    path: str | Path,
    log: DeliveryLog,
    *,
    dry_run: bool = False,
    imap: ImapSettings | None = None,
) -> OptOutOutcome:
    """Read unsubscribe requests from a mailbox and suppress their senders (and tokens).

    On IMAP, each request whose addresses were all recorded is then flagged (not in a dry run);
    a request with a problem, and every other message, stays as it was.
    """
    outcome = OptOutOutcome()
    optouts: list[OptOut] = []
    troubled: set[str] = set()
    with open_mailbox(path, imap=imap) as box:
        for item in box.messages():
            outcome.read += 1
            message = item.parse()
            sorted_as = classify(message)
            subject = header_text(message, "Subject")
            if sorted_as.kind == "unsubscribe":
                outcome.requests += 1
                found, problems = _request(log, message, item.source)
                optouts += found
                outcome.problems += problems
                if problems:
                    troubled.add(item.source)
            elif sorted_as.kind == "bounce":
                outcome.bounces.append((item.source, subject))
            elif sorted_as.kind == "auto-reply":
                outcome.auto_replies.append((item.source, sorted_as.reason))
            else:
                outcome.other.append((item.source, subject))
        record_optouts(log, optouts, dry_run=dry_run, outcome=outcome)
        if not dry_run:
            done = {o.source for o in outcome.added + outcome.already} - troubled
            outcome.flagged = box.mark_processed(done)
    return outcome


def _request(log: DeliveryLog, message: Message, source: str) -> tuple[list[OptOut], list[Problem]]:
    """The addresses one request suppresses: its sender, and the recipient its token names."""
    when = message_date(message)
    found: list[OptOut] = []
    problems: list[Problem] = []
    sender = sender_address(message)
    try:
        checked = normalize_address(sender)
        found.append(OptOut(checked.address, checked.suppression_key, source, "From", when))
    except AddressError as exc:
        problems.append(Problem(f"From {sender!r}: {exc.reason}", Location(source), "address"))
    for row, how in _token_matches(log, message):
        found.append(OptOut(row.address, suppression_key(row.address), source, how, when, row.id))
    unique = {o.key: o for o in found}  # a token match (later) wins over the same From
    return list(unique.values()), problems


def _token_matches(log: DeliveryLog, message: Message) -> list[tuple[MessageRef, str]]:
    _, token = unsubscribe_token(header_text(message, "Subject"))
    matches: list[tuple[MessageRef, str]] = []
    if token is not None:
        found = log.message_for_token(token)
        if found is not None:
            matches.append((found, "token"))
    replied = msg_ids(str(message.get("In-Reply-To", ""))) + msg_ids(
        str(message.get("References", ""))
    )
    for candidate in dict.fromkeys(replied):
        matches += [(row, "In-Reply-To") for row in log.messages_with_id(candidate)]
    return matches
