"""Build delivery logs with a known history, through the port's own operations (any adapter).

The log's clock is injected, so a run "lasts" as long as the test says without any sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from distrib.deliverylog import (
    Begin,
    DeliveryLog,
    NewMessage,
    Outcome,
    Run,
    State,
    apply_one,
    timestamp,
)
from distrib.deliverylog import open_log as open_delivery_log

T0 = datetime(2027, 2, 2, 14, 0, tzinfo=UTC)  # 09:00 in Montréal


class Clock:
    """A settable clock for `open_log(clock=...)`."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, seconds: float) -> None:
        """Move to ``seconds`` after T0."""
        self.now = T0 + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Person:
    """One recipient of a synthetic run and what happens to their message."""

    address: str
    name: str
    outlet: str
    language: str
    outcome: str = "sent"  # sent | failed | deferred | unknown | suppressed | skipped


PEOPLE: Sequence[Person] = (
    Person("zoe.belanger@fleuve.example", "Zoé Bélanger", "Le Fleuve", "fr"),
    Person("Marc.Tremblay@fleuve.example", "Marc Tremblay", "Le Fleuve", "fr"),
    Person("sam.okafor@river.example", "Sam Okafor", "The Daily River", "en"),
    Person("noemie@river.example", "Noémie Roy", "The Daily River", "fr", "failed"),
    Person("alice@quotidien.example", "Alice Martin", '=HYPERLINK("x")', "en"),
    Person("eve@radio-est.example", "<b>Ève</b>", "<script>alert(1)</script>", "fr", "unknown"),
    Person("lina@radio-est.example", "Lina Haddad", "Radio Est", "fr", "deferred"),
    Person("omar@mtl.radio-est.example", "Omar Diallo", "Radio Est", "en"),
    Person("luc@fleuve.example", "Luc Gagnon", "Le Fleuve", "fr", "suppressed"),
)


def message_id(index: int) -> str:
    """The Message-ID of the ``index``-th synthetic message."""
    return f"<distrib.a1b2c3d4e5f6.{index:024x}@quais.example>"


def add_run(
    log: DeliveryLog,
    clock: Clock,
    people: Sequence[Person] = PEOPLE,
    *,
    campaign: str = "printemps",
    rate: float = 2.0,
    start: float = 0.0,
    spacing: float | None = None,
    ids: Callable[[int], str] = message_id,
) -> Run:
    """Plan and "send" a run: one message per person, ``spacing`` seconds apart (1/rate)."""
    clock.at(start)
    run = log.create_run(
        campaign,
        f"{campaign}/campaign.toml",
        settings={"rate": rate, "relay": "smtp.quais.example:587", "security": "starttls",
                  "connections": 2},
    )  # fmt: skip
    rows = []
    for i, p in enumerate(people):
        status = State.SUPPRESSED if p.outcome == "suppressed" else State.READY
        status = State.SKIPPED if p.outcome == "skipped" else status
        rows.append(
            NewMessage(
                key=p.address.casefold(), recipient=p.address,
                address=p.address.split("@")[0] + "@" + p.address.split("@")[1].lower(),
                status=status, name=p.name, outlet=p.outlet, language=p.language,
                provenance=f"medias.csv:{i + 2}", subject=f"Communiqué {i}",
                message_id=ids(i), content_hash=f"{i:064x}",
            )
        )  # fmt: skip
    log.add_messages(run.id, rows)
    log.set_run_status(run.id, "sending")
    step = spacing if spacing is not None else (1 / rate if rate else 0.1)
    by_address = {m.recipient: m.id for m in log.messages(run.id)}
    t = start
    for p in people:
        if p.outcome in ("suppressed", "skipped"):
            continue
        _deliver(log, clock, by_address[p.address], p.outcome, t)
        t += step
    clock.at(t)
    log.set_run_status(run.id, "finished")
    return log.get_run(run.id)


def _deliver(log: DeliveryLog, clock: Clock, message: int, outcome: str, t: float) -> None:
    clock.at(t)
    started, server = log.now(), "smtp.quais.example:587"
    clock.at(t + 0.2)
    if outcome == "failed":
        apply_one(log, Outcome(message, None, State.FAILED, 550, "RCPT TO: 550 5.1.1 no such user",
                               log.now(), "5.1.1", None, server, started))  # fmt: skip
        return
    if outcome == "deferred":
        retry = timestamp(clock.now + timedelta(minutes=5))
        apply_one(log, Outcome(message, None, State.DEFERRED, 451, "RCPT TO: 451 4.7.1 greylisted",
                               log.now(), "4.7.1", retry, server, started))  # fmt: skip
        return
    attempt = apply_one(log, Begin(message, server, started))
    clock.at(t + 0.4)
    if outcome == "unknown":
        lost = "connection lost after the message was sent"
        apply_one(log, Outcome(message, attempt, State.UNKNOWN, None, lost, log.now()))
        return
    apply_one(log, Outcome(message, attempt, State.SENT, 250, "250 2.0.0 queued", log.now(),
                           "2.0.0"))  # fmt: skip


def open_log(path: Path | str, clock: Clock) -> DeliveryLog:
    """Open (create) a log at ``path`` on ``clock``."""
    return open_delivery_log(path, clock=clock)
