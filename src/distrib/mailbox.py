"""What a mailbox gives: messages (where each is, for people, and its bytes), and a way to say
which ones were recorded.  Files and folders (`distrib.inbox`) and IMAP folders
(`distrib.relay.imap`) both give this.
"""

from __future__ import annotations

import email
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import Message
from typing import Protocol

__all__ = ["InboxMessage", "Mailbox"]


@dataclass(frozen=True, slots=True)
class InboxMessage:
    """One message read from a mailbox: where it is (for people) and its bytes."""

    source: str
    data: bytes

    def parse(self) -> Message:
        """Parse the bytes leniently."""
        return email.message_from_bytes(self.data)


class Mailbox(Protocol):
    """Somewhere messages are read from, and told which ones were recorded."""

    def messages(self) -> Iterator[InboxMessage]:
        """The messages to look at (on IMAP: those not recorded by an earlier run)."""

    def mark_processed(self, sources: Iterable[str]) -> int:
        """Note that the messages read from ``sources`` were recorded; return how many were."""
