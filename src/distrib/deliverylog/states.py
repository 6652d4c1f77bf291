"""The per-message state machine of the delivery log.

::

    ready ──claim──▶ sending ──(commit)──▶ data ──250──▶ sent
      ▲                │                    │
      │   drop/421 before DATA              ├──4xx──▶ deferred ──(retry due)──▶ sending …
      └────────────────┘                    ├──5xx──▶ failed
                       │                    └──drop/timeout after DATA began──▶ unknown
                       ├──4xx on MAIL/RCPT──▶ deferred
                       └──5xx on MAIL/RCPT──▶ failed

    never sent: skipped (already sent by an earlier run), suppressed, rejected

``data`` is committed to SQLite *before* the DATA command is sent and the outcome right after the
reply, so after a crash a message still in ``sending`` was certainly not delivered (back to ready)
and one in ``data`` may have been (it becomes ``unknown`` and waits for the officer: never resent
automatically).  ``test`` marks test sends to the officer's own address.

After the run, a delivery-status notification (`distrib bounces`) saying the message could not be
delivered moves ``sent`` (or ``unknown``) to ``bounced``: the relay took it, the recipient's
server did not.  Whether the bounce was hard or soft is kept in the ``bounces`` table.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "DONE", "NEVER_SENT", "PENDING", "State"]


class State(StrEnum):
    """Where one message stands."""

    READY = "ready"
    SENDING = "sending"
    DATA = "data"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"
    SUPPRESSED = "suppressed"
    REJECTED = "rejected"
    TEST = "test"
    BOUNCED = "bounced"


#: Waiting to be (re)tried by this run.
PENDING = frozenset({State.READY, State.DEFERRED})
#: Claimed by a sender right now; after a crash these are recovered.
ACTIVE = frozenset({State.SENDING, State.DATA})
#: Final for the run (``unknown`` until the officer resolves it).
DONE = frozenset({State.SENT, State.FAILED, State.UNKNOWN, State.BOUNCED})
#: Rows kept so the log accounts for everyone, but never sent.
NEVER_SENT = frozenset({State.SKIPPED, State.SUPPRESSED, State.REJECTED})
