"""The per-message state machine of the delivery log, shared by every adapter.

::

      ready ──┐                                   ┌──250──▶ sent ──bounce──▶ bounced
              ├──Begin (committed before DATA)──▶ data ──4xx──▶ deferred
   deferred ──┘        (its retry time came)      ├──5xx──▶ failed
                                                  ├──cut off after DATA began──▶ unknown
                                                  └──dropped before 354 (Release)──▶ ready

    refused before DATA (no Begin): ready/deferred ──4xx on MAIL/RCPT──▶ deferred
                                    ready/deferred ──5xx on MAIL/RCPT──▶ failed
    never sent: skipped (already sent by an earlier run), suppressed, rejected

A message stays ``ready`` (or ``deferred``) while MAIL FROM and RCPT TO are in flight; `Begin`
moves it to ``data`` and is committed *before* the DATA command is sent, and the outcome right
after the reply.  So after a crash a message still ``ready`` was certainly not delivered and one
in ``data`` may have been: recovery makes it ``unknown``, for the officer (never resent
automatically).  ``test`` marks test sends to the officer's own address.

After the run, a delivery-status notification (`distrib bounces`) saying the message could not be
delivered moves ``sent`` (or ``unknown``) to ``bounced``: the relay took it, the recipient's
server did not.  Whether the bounce was hard or soft is kept in the ``bounces`` table.

``sending`` is no longer produced (distrib before group commits claimed a message first, then
moved it to ``data``): a log may still hold it after a crash of such a version, and recovery
puts it back to ``ready``.

The tables below name the states each change may start from; both adapters write them into the
``WHERE`` of their updates, so a bug cannot silently turn a ``sent`` message back into ``ready``.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "ACTIVE",
    "BEGIN_FROM",
    "BOUNCE_FROM",
    "DONE",
    "NEVER_SENT",
    "OUTCOMES",
    "OUTCOME_FROM",
    "PENDING",
    "RECOVERY",
    "REFUSALS",
    "RELEASE_FROM",
    "RESOLUTIONS",
    "Action",
    "State",
    "names",
]


class State(StrEnum):
    """Where one message stands."""

    READY = "ready"
    SENDING = "sending"  # only in logs of older versions (see the module's docstring)
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
PENDING: Final = frozenset({State.READY, State.DEFERRED})
#: Taken by a sender right now; after a crash these are recovered.
ACTIVE: Final = frozenset({State.SENDING, State.DATA})
#: Final for the run (``unknown`` until the officer resolves it).
DONE: Final = frozenset({State.SENT, State.FAILED, State.UNKNOWN, State.BOUNCED})
#: Rows kept so the log accounts for everyone, but never sent.
NEVER_SENT: Final = frozenset({State.SKIPPED, State.SUPPRESSED, State.REJECTED})

#: `Begin` takes a message from the queue.
BEGIN_FROM: Final = PENDING
#: An `Outcome` of an attempt (after `Begin`) ends ``data``.
OUTCOME_FROM: Final = frozenset({State.DATA})
#: What an attempt may end as; a refusal before DATA (no attempt begun) only the last two.
OUTCOMES: Final = frozenset({State.SENT, State.DEFERRED, State.FAILED, State.UNKNOWN})
REFUSALS: Final = frozenset({State.DEFERRED, State.FAILED})
#: A `Release` of an attempt (the connection dropped before 354) puts ``data`` back.
RELEASE_FROM: Final = frozenset({State.DATA})
#: A bounce moves a message the relay took.
BOUNCE_FROM: Final = frozenset({State.SENT, State.UNKNOWN})
#: What recovery does after a sending process ended without a word.
RECOVERY: Final = {State.SENDING: State.READY, State.DATA: State.UNKNOWN}

Action = Literal["mark-sent", "resend", "mark-failed"]

#: What each resolution of the officer does: the states it applies to and the state it leads to.
RESOLUTIONS: Final[dict[Action, tuple[frozenset[State], State]]] = {
    "mark-sent": (frozenset({State.UNKNOWN}), State.SENT),
    "mark-failed": (frozenset({State.UNKNOWN}), State.FAILED),
    "resend": (frozenset({State.UNKNOWN, State.FAILED}), State.READY),
}


def names(states: Iterable[State | str]) -> tuple[str, ...]:
    """The states as sorted strings, as the adapters bind them."""
    return tuple(sorted(str(s) for s in states))
