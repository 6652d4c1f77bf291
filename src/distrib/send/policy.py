"""What a server's reply means for one message, and how long to wait before trying again."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "SUPPRESS_CODES",
    "Reply",
    "backoff",
    "enhanced_code",
    "is_ascii",
    "storm_kind",
    "suggests_suppression",
    "too_many_recipients",
]

_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")
_GREYLISTING = re.compile(r"gr[ae]y ?list", re.IGNORECASE)

#: Enhanced codes (RFC 3463) saying the address itself is bad, for good: suggest suppressing it.
#: 5.1.1 no such mailbox, 5.1.2 no such domain, 5.1.3 bad address syntax, 5.1.6 mailbox moved,
#: 5.1.10 the domain accepts no mail (RFC 7505 null MX).
SUPPRESS_CODES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10"})


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply: the code, the text, and the RFC 3463 enhanced code when present."""

    code: int
    text: str

    @property
    def enhanced(self) -> str | None:
        """Return the ``X.Y.Z`` enhanced status code at the start of the text, if any."""
        return enhanced_code(self.code, self.text)

    @property
    def positive(self) -> bool:
        """Tell whether this is a 2xx completion reply."""
        return 200 <= self.code < 300

    @property
    def transient(self) -> bool:
        """Tell whether this is a 4xx reply (try again later)."""
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        """Tell whether this is a 5xx reply (do not try again)."""
        return 500 <= self.code < 600

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


def enhanced_code(code: int, text: str) -> str | None:
    """Parse the enhanced status code (``5.1.1``) from a reply text; None if absent or mismatched.

    RFC 3463 requires its class digit to match the reply code's first digit, so a text that
    merely starts with a version number is not mistaken for one.
    """
    match = _ENHANCED.match(text)
    if match is None or match.group(1) != str(code)[:1]:
        return None
    return ".".join(match.groups())


def backoff(
    retry: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Return the wait before retry number ``retry`` (1-based): ``base * 2**(retry-1)``, capped.

    Jitter only adds up to a quarter, so a greylisting server's minimum delay is always respected
    and workers that failed together do not retry in lockstep.
    """
    if retry < 1:
        raise ValueError("retry counts from 1")
    delay = min(cap, base * 2 ** min(retry - 1, 32))
    return min(cap, delay * (1.0 + 0.25 * rand())) if cap > 0 else 0.0


def suggests_suppression(code: int | None, enhanced: str | None) -> bool:
    """Tell whether a refusal says the address does not exist (550/551/553 with 5.1.x)."""
    return code in {550, 551, 553} and enhanced in SUPPRESS_CODES


def too_many_recipients(reply: Reply) -> bool:
    """Tell whether a 452 says "too many recipients" (RFC 5321 §4.5.3.1.10) rather than
    "mailbox full" or "no storage"."""
    return reply.code == 452 and (
        reply.enhanced == "4.5.3" or "too many recipients" in reply.text.lower()
    )


def storm_kind(reply: Reply) -> str | None:
    """Classify a refusal that is about *us*, not one recipient: ``"policy"`` for 5.7.x
    (spam or policy blocks), ``"throttling"`` for 421, 4.7.x and "too many recipients".

    Greylisting often says 4.7.1 too, but it is per recipient and normal: a text that mentions
    it is not counted.  Everything else (no such user, mailbox full) is neither.
    """
    enhanced = reply.enhanced or ""
    if reply.permanent and enhanced.startswith("5.7."):
        return "policy"
    if reply.code == 421 or too_many_recipients(reply):
        return "throttling"
    if reply.transient and enhanced.startswith("4.7.") and not _GREYLISTING.search(reply.text):
        return "throttling"
    return None


def is_ascii(text: str) -> bool:
    """Tell whether ``text`` is plain ASCII (else the envelope needs SMTPUTF8)."""
    return text.isascii()
