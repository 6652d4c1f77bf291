"""What the officer settles after a run: ``unknown`` messages and addresses that do not exist.

An ``unknown`` message may or may not have been delivered (the connection dropped after its
body left, or the server never answered the final dot).  distrib never resends it by itself: it
lists it with its Message-ID, to look up in the relay's logs, and the officer decides::

    distrib resolve RUN --mark-sent ADDRESS… --note "relay log: 250 queued as 4XyZ"
    distrib resolve RUN --resend ADDRESS… --note "not in the relay log"   (then send --resume)
    distrib resolve RUN --mark-failed ADDRESS… --note "bounced, see relay log"

``--resend`` also applies to ``failed`` messages (e.g. refused while the relay was blocking us).
Who decided (the OS user), when, how and why is kept on the message and in the
``resolutions`` history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from distrib.deliverylog import Attempt, DeliveryLog, MessageRow, State
from distrib.deliverylog.lease import os_user
from distrib.deliverylog.states import RESOLUTIONS, Action
from distrib.errors import Problem, ResolveError
from distrib.send.policy import suggests_suppression

__all__ = [
    "Suggestion",
    "Unknown",
    "resolve",
    "suppression_file",
    "suppression_suggestions",
    "unknown_messages",
]


@dataclass(frozen=True, slots=True)
class Unknown:
    """An ``unknown`` message and the attempt that left it so."""

    message: MessageRow
    attempt: Attempt | None


@dataclass(frozen=True, slots=True)
class Suggestion:
    """A failed address the server says does not exist: suggested for suppression."""

    message: MessageRow
    code: int
    enhanced: str
    reply: str


def unknown_messages(log: DeliveryLog, run_id: int) -> list[Unknown]:
    """Return the run's ``unknown`` messages with their last attempt."""
    found = []
    for row in log.messages(run_id, states=[State.UNKNOWN]):
        attempts = log.attempts(row.id)
        found.append(Unknown(row, attempts[-1] if attempts else None))
    return found


def suppression_suggestions(log: DeliveryLog, run_id: int) -> list[Suggestion]:
    """Return the run's failed messages whose address does not exist (550/551/553 5.1.x),
    less those the send already put on the suppression list (``[limits] suppress_codes``)."""
    rows = {m.id: m for m in log.messages(run_id, states=[State.FAILED])}
    if not rows:
        return []
    for entry in log.suppressions():
        rows.pop(entry.message or 0, None)
    last = log.last_attempts(run_id, State.FAILED)
    return [
        Suggestion(rows[m], a.reply_code or 0, a.enhanced_code or "", a.reply_text or "")
        for m, a in last.items()
        if m in rows and suggests_suppression(a.reply_code, a.enhanced_code)
    ]


def suppression_file(suggestions: Sequence[Suggestion], title: str = "") -> str:
    """Return a ``.txt`` suppression list for ``suggestions``: one address per line, each
    after a ``#`` comment with the server's reply (see `distrib.contacts.suppress`)."""
    lines = [f"# {_one_line(title)}"] if title else []
    for s in sorted(suggestions, key=lambda s: s.message.address.casefold()):
        lines.append(f"# {s.message.recipient}: {_one_line(s.reply)}")
        lines.append(s.message.address)
    return "".join(f"{line}\n" for line in lines)


def _one_line(text: str) -> str:
    # Replies can span lines; a comment must not (the next line would be read as an address).
    return " ".join(text.split())


def resolve(
    log: DeliveryLog,
    run_id: int,
    addresses: Sequence[str],
    action: Action,
    *,
    note: str,
    every: bool = False,
    by: str | None = None,
) -> list[MessageRow]:
    """Apply ``action`` to the run's messages to ``addresses`` (and, with ``every``, to every
    ``unknown`` message of the run); return them as they were.

    All or nothing: if any address is not in the run or not in a state the action applies to,
    `ResolveError` lists every such problem and nothing changes.
    """
    allowed, _ = RESOLUTIONS[action]
    states = sorted(str(s) for s in allowed)
    problems: list[Problem] = []
    if not note.strip():
        problems.append(Problem("--note is required: say how you know (kept in the log)"))
    rows = log.messages(run_id)
    chosen: list[MessageRow] = []
    if every:
        chosen = [r for r in rows if r.status == State.UNKNOWN]
    for address in addresses:
        wanted = address.strip().casefold()
        matches = [r for r in rows if wanted in {r.address.casefold(), r.recipient.casefold()}]
        if not matches:
            problems.append(Problem(f"{address}: no message to this address in run {run_id}"))
        for r in matches:
            if r.status not in states:
                problems.append(
                    Problem(
                        f"{address}: is {r.status}; --{action} applies to {' or '.join(states)}"
                    )
                )
            elif r not in chosen:
                chosen.append(r)
    if not chosen and not problems:
        problems.append(Problem(f"run {run_id} has no {' or '.join(states)} message to {action}"))
    if problems:
        raise ResolveError(problems, summary=f"nothing was resolved in run {run_id}")
    log.resolve(chosen, action, note=note.strip(), by=by or os_user())
    return chosen
